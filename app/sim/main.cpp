// labloop-sim: simulations over MPI ranks, locally with mpirun or under Slurm.
//
//   mpirun -np N labloop-sim --backend xtb --input FILE.smi --output OUT.jsonl
//   mpirun -np N labloop-sim --config campaign.toml --input FILE.smi --output OUT.jsonl
//
// --config reads the back-end's options from the [simulator] table of a TOML file (a campaign
// config will do); campaigns with an mpirun or Slurm launcher run it that way.
//
// Rank 0 reads the input, keeps every worker two molecules ahead and gives the next one to
// whichever returns a result (molecules differ in cost), computes molecules itself in between,
// and appends each result to OUT.jsonl the moment it arrives, flushed:
// a killed job keeps everything it finished, and running it again with the same output computes
// only the lines still missing (after checking that the lines already there are for the same
// input). Each task runs in a child process with a timeout, so a crash or a
// hang costs only that molecule. One OpenMP thread per rank unless OMP_NUM_THREADS says otherwise.
//
// Output, one JSON object a line: {"line": 12, "smiles": "...", "id": "...", "properties": {...},
// "seconds": ..., "rank": 1} or, for a failure, the same with "error" instead of "properties".

#include <mpi.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/config.h"
#include "simulators/isolated_run.h"
#include "simulators/simulator.h"

namespace {

using json = nlohmann::json;
using labloop::simulators::IsolationOptions;
using labloop::simulators::Simulator;

constexpr int kTagResult = 1;  // worker -> 0: a result line
constexpr int kTagTask = 2;    // 0 -> worker: a task as JSON
constexpr int kTagStop = 3;    // 0 -> worker: no more work

struct Task {
  int64_t line = 0;
  std::string smiles, id;
};

// The input's tasks: "SMILES [id]" a line; blank lines and '#' comments are skipped.
std::vector<Task> ReadTasks(const std::string& path, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot open input '" + path + "'";
    return {};
  }
  std::vector<Task> tasks;
  std::string text;
  for (int64_t line = 1; std::getline(in, text); ++line) {
    std::istringstream fields(text);
    Task t;
    t.line = line;
    if (!(fields >> t.smiles) || t.smiles[0] == '#') continue;
    fields >> t.id;
    tasks.push_back(std::move(t));
  }
  return tasks;
}

// The lines already in an output file (from an earlier, interrupted run), with their SMILES.
std::map<int64_t, std::string> DoneLines(const std::string& path) {
  std::map<int64_t, std::string> done;
  std::ifstream in(path);
  std::string text;
  while (std::getline(in, text)) {
    auto j = json::parse(text, nullptr, false);
    if (!j.is_discarded() && j.contains("line") && j["line"].is_number_integer() &&
        j.contains("smiles") && j["smiles"].is_string()) {
      done[j["line"].get<int64_t>()] = j["smiles"].get<std::string>();
    }
  }
  return done;
}

// Resuming into an output written for another input would skip or mismatch molecules: every
// line already there must have the SMILES the input has on that line.
std::string CheckResumable(const std::vector<Task>& tasks,
                           const std::map<int64_t, std::string>& done, const std::string& input,
                           const std::string& output) {
  std::map<int64_t, const Task*> by_line;
  for (const auto& t : tasks) by_line[t.line] = &t;
  for (const auto& [line, smiles] : done) {
    auto it = by_line.find(line);
    if (it == by_line.end() || it->second->smiles != smiles) {
      return "'" + output + "' line " + std::to_string(line) + " is for '" + smiles + "', but '" +
             input + "' line " + std::to_string(line) + " is " +
             (it == by_line.end() ? "not a molecule" : "'" + it->second->smiles + "'") +
             ": the input changed since that output was written; use a new output file";
    }
  }
  return "";
}

std::string Compute(const Simulator& simulator, const Task& task, const IsolationOptions& isolation,
                    int rank) {
  auto t0 = std::chrono::steady_clock::now();
  auto result = labloop::simulators::RunIsolated(simulator, task.smiles, isolation);
  json out = {{"line", task.line}, {"smiles", task.smiles}};
  if (!task.id.empty()) out["id"] = task.id;
  if (result) {
    out["properties"] = result->properties;
    out["fidelity"] = result->fidelity;
    if (!result->raw_json.empty()) out["raw"] = json::parse(result->raw_json, nullptr, false);
  } else {
    out["error"] = result.error().message;
  }
  out["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  out["rank"] = rank;
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

void SendString(const std::string& s, int to, int tag) {
  MPI_Send(s.data(), static_cast<int>(s.size()), MPI_CHAR, to, tag, MPI_COMM_WORLD);
}

std::string ReceiveString(int from, int tag, MPI_Status& status) {
  MPI_Probe(from, tag, MPI_COMM_WORLD, &status);
  int size = 0;
  MPI_Get_count(&status, MPI_CHAR, &size);
  std::string s(static_cast<size_t>(size), '\0');
  MPI_Recv(s.data(), size, MPI_CHAR, status.MPI_SOURCE, status.MPI_TAG, MPI_COMM_WORLD,
           MPI_STATUS_IGNORE);
  return s;
}

// Rank 0: hands out tasks, keeping up to kQueue in flight per worker, computes tasks itself on a
// helper thread, and writes every result as it comes. Only this thread calls MPI.
constexpr int kQueue = 2;

int Coordinate(const std::vector<Task>& all, const std::map<int64_t, std::string>& done,
               const std::string& output, int ranks, const Simulator& simulator,
               const IsolationOptions& isolation) {
  std::vector<Task> tasks;
  for (const auto& t : all) {
    if (!done.count(t.line)) tasks.push_back(t);
  }
  // An earlier run killed mid-line leaves a fragment: end it, so the next line starts clean.
  {
    std::ifstream previous(output, std::ios::binary | std::ios::ate);
    if (previous && previous.tellg() > 0) {
      previous.seekg(-1, std::ios::end);
      if (previous.get() != '\n') std::ofstream(output, std::ios::app) << "\n";
    }
  }
  std::ofstream out(output, std::ios::app);
  std::cerr << "labloop-sim: " << tasks.size() << " tasks (" << done.size() << " already in "
            << output << "), " << ranks << " ranks\n";
  size_t next = 0, written = 0, failed = 0;
  int in_flight = 0;
  bool write_failed = false;
  // A failed write (a full disk) ends the run: no more tasks are handed out, the ones in flight
  // finish unwritten, and the exit code says so; what was not written is computed again when
  // the batch is resubmitted (a torn last line is ended then). Only written lines are counted.
  // Tests plant a full disk after this many lines (as the crash and hang of a task are planted).
  const char* limit = std::getenv("LABLOOP_SIM_FAIL_WRITES_AFTER");
  const size_t writable = limit != nullptr ? std::strtoull(limit, nullptr, 10) : SIZE_MAX;
  auto write = [&](const std::string& line) {
    if (write_failed) return;
    if (written >= writable) out.setstate(std::ios::badbit);
    out << line << "\n";
    out.flush();
    if (!out) {
      write_failed = true;
      next = tasks.size();
      std::cerr << "labloop-sim: error: writing '" << output
                << "' failed (disk full?): no more tasks are started\n";
      return;
    }
    ++written;
    auto j = json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.contains("error")) ++failed;
  };
  auto send_next = [&](int worker) {
    const Task& t = tasks[next++];
    SendString(json{{"line", t.line}, {"smiles", t.smiles}, {"id", t.id}}.dump(), worker, kTagTask);
    ++in_flight;
  };
  auto receive = [&](bool wait) {
    int flag = 1;
    MPI_Status status;
    if (!wait) MPI_Iprobe(MPI_ANY_SOURCE, kTagResult, MPI_COMM_WORLD, &flag, &status);
    if (!flag) return false;
    write(ReceiveString(MPI_ANY_SOURCE, kTagResult, status));
    --in_flight;
    if (next < tasks.size()) send_next(status.MPI_SOURCE);
    return true;
  };
  for (int worker = 1; worker < ranks; ++worker) {
    for (int q = 0; q < kQueue && next < tasks.size(); ++q) send_next(worker);
  }
  // Rank 0's own task runs on a helper thread (in its child process), so that this thread keeps
  // answering the workers: one slow molecule here must not leave them without work.
  std::future<std::string> local;
  while (next < tasks.size() || in_flight > 0 || local.valid()) {
    bool busy = false;
    while (receive(/*wait=*/false)) busy = true;
    if (local.valid() && local.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      write(local.get());
      busy = true;
    }
    if (!local.valid() && next < tasks.size()) {
      local = std::async(std::launch::async, [&, task = tasks[next++]] {
        return Compute(simulator, task, isolation, 0);
      });
      busy = true;
    }
    if (!busy) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (int worker = 1; worker < ranks; ++worker) SendString("", worker, kTagStop);
  std::cerr << "labloop-sim: wrote " << written << " results (" << failed << " failed) to "
            << output << (write_failed ? ", then writing failed" : "") << "\n";
  return write_failed ? 1 : 0;
}

void Work(int rank, const Simulator& simulator, const IsolationOptions& isolation) {
  for (;;) {
    MPI_Status status;
    MPI_Probe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &status);
    std::string message = ReceiveString(0, status.MPI_TAG, status);
    if (status.MPI_TAG == kTagStop) return;
    auto j = json::parse(message);
    Task t{j["line"].get<int64_t>(), j["smiles"].get<std::string>(), j["id"].get<std::string>()};
    SendString(Compute(simulator, t, isolation, rank), 0, kTagResult);
  }
}

}  // namespace

int main(int argc, char** argv) {
  setenv("OMP_NUM_THREADS", "1", /*overwrite=*/0);  // one xtb thread per rank unless told
  int provided = 0;  // rank 0's helper thread never calls MPI: FUNNELED is enough
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  int rank = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);

  CLI::App app{"labloop-sim: simulations over MPI ranks (mpirun -np N labloop-sim ...)"};
  labloop::simulators::SimulatorOptions options;
  std::string input, output;
  IsolationOptions isolation;
  std::string config_file, backend;
  app.add_option("--config", config_file,
                 "TOML file with a [simulator] table (a campaign config will do)");
  app.add_option("--backend", backend, "xtb, mmff, vina, command or lookup (overrides --config)");
  app.add_option("--input", input, "SMILES file, one 'SMILES [id]' a line")->required();
  app.add_option("--output", output, "JSON lines to append to (resumes)")->required();
  app.add_option("--timeout", isolation.timeout_seconds, "seconds per task (default 600)");
  app.add_option("--property", options.property, "lookup: the name its values are reported as");
  app.add_option("--table", options.table, "lookup: CSV of smiles,value");
  app.add_option("--value-column", options.value_column, "lookup: the value column");
  app.add_option("--embed-seed", options.embed_seed, "xtb: ETKDG seed");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = rank == 0 ? app.exit(e) : (e.get_exit_code() == 0 ? 0 : 2);
    MPI_Finalize();
    return code == 0 ? 0 : 2;
  }

  std::string error;
  if (!config_file.empty()) {
    auto parsed = labloop::Config::FromFile(config_file);
    auto parsed_options =
        parsed ? labloop::simulators::ParseSimulatorOptions(
                     *parsed, std::filesystem::absolute(config_file).parent_path().string())
               : labloop::Result<labloop::simulators::SimulatorOptions>(
                     tl::unexpected(parsed.error()));
    if (parsed_options) {
      // Flags given on the command line win over the file.
      if (app.count("--table")) parsed_options->table = options.table;
      if (app.count("--property")) parsed_options->property = options.property;
      if (app.count("--value-column")) parsed_options->value_column = options.value_column;
      if (app.count("--embed-seed")) parsed_options->embed_seed = options.embed_seed;
      options = *parsed_options;
    } else {
      error = parsed_options.error().message;
    }
  }
  if (!backend.empty()) options.kind = backend;
  if (config_file.empty() && backend.empty()) error = "give --backend or --config";
  labloop::simulators::SimulatorRegistry registry("backend");
  labloop::simulators::RegisterBuiltinSimulators(registry);
  auto simulator = error.empty() ? registry.Create(options.kind, options)
                                 : labloop::Result<std::unique_ptr<Simulator>>(labloop::MakeError(
                                       labloop::ErrorCode::kInvalidArgument, error));
  std::vector<Task> tasks;
  std::map<int64_t, std::string> done;
  if (rank == 0 && error.empty()) {
    tasks = ReadTasks(input, error);
    if (error.empty()) {
      done = DoneLines(output);
      error = CheckResumable(tasks, done, input, output);
    }
    if (error.empty() && !std::ofstream(output, std::ios::app)) {
      error = "cannot write '" + output + "'";
    }
  }
  if (!simulator && error.empty()) error = simulator.error().message;
  // Every rank learns whether to go on, so that none waits for work that never comes.
  int ok = error.empty() ? 1 : 0, all_ok = 0;
  MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (!all_ok) {
    if (!error.empty()) std::cerr << "labloop-sim: error (rank " << rank << "): " << error << "\n";
    MPI_Finalize();
    return 1;
  }
  // Warm up in this process once: back-ends set up lazily on first use (force-field tables,
  // parameter files), and each task's child process would otherwise pay that again. Not with
  // several OpenMP threads: libgomp's thread pool does not survive a fork.
  const char* omp = std::getenv("OMP_NUM_THREADS");
  // Only for the in-library back-ends: the others start programs, and a warm-up would only cost.
  const bool in_library = options.kind == "xtb" || options.kind == "mmff";
  if (in_library && (omp == nullptr || std::atoi(omp) <= 1)) (void)(*simulator)->Run("CO");
  int code = 0;
  if (rank == 0) {
    code = Coordinate(tasks, done, output, ranks, **simulator, isolation);
  } else {
    Work(rank, **simulator, isolation);
  }
  MPI_Finalize();
  return code;
}
