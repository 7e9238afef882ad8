// `labloop bench simulators`: xtb throughput over MPI ranks against a plain loop (BENCHMARKS.md 4).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "app/cli/bench.h"
#include "app/cli/bench_util.h"
#include "simulators/simulator.h"

namespace labloop::cli {

namespace {

using detail::Clock;
using detail::Machine;
using detail::Since;
using detail::WriteJson;

namespace fs = std::filesystem;
using json = nlohmann::json;

// Runs labloop-sim on `ranks` ranks; returns the wall time, or an error.
Result<double> TimeSim(const std::string& sim, int ranks, const std::string& input,
                       const std::string& output, const std::string& backend = "--backend xtb") {
  std::error_code ec;
  fs::remove(output, ec);
  std::string command = "mpirun -np " + std::to_string(ranks) + " --oversubscribe '" + sim + "' " +
                        backend + " --input '" + input + "' --output '" + output + "' > '" +
                        output + ".log' 2>&1";
  auto t0 = Clock::now();
  int code = std::system(command.c_str());
  double seconds = Since(t0);
  if (code != 0) {
    return MakeError(ErrorCode::kUnavailable,
                     "labloop-sim failed (" + command + "); see " + output + ".log");
  }
  return seconds;
}

int64_t CountLines(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) ++n;
  return n;
}

}  // namespace

Status RunSimulatorsBench(const SimulatorsBench& options) {
  // The molecules, as a SMILES file labloop-sim reads.
  std::ifstream in(options.input);
  if (!in) return MakeError(ErrorCode::kNotFound, "cannot open '" + options.input + "'");
  std::vector<std::string> smiles;
  std::string line;
  while (static_cast<int>(smiles.size()) < options.molecules && std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    smiles.push_back(line.substr(0, line.find_first_of(" \t")));
  }
  fs::path dir = fs::temp_directory_path() / ("labloop-bench-sim-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::string input = (dir / "in.smi").string(), empty = (dir / "empty.smi").string();
  {
    std::ofstream out(input);
    for (const auto& s : smiles) out << s << "\n";
    std::ofstream none(empty);
  }
  std::string sim = options.sim;
  if (sim.empty())
    sim = (fs::read_symlink("/proc/self/exe").parent_path() / "labloop-sim").string();
  setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
  setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
  setenv("OMP_NUM_THREADS", "1", 1);

  // The plain loop: one process, no isolation, no MPI.
  simulators::SimulatorRegistry registry("simulator");
  simulators::RegisterBuiltinSimulators(registry);
  simulators::SimulatorOptions xtb;
  xtb.kind = "xtb";
  auto simulator = registry.Create("xtb", xtb);
  if (!simulator) return tl::unexpected(simulator.error());
  (void)(*simulator)->Run("CO");  // first-use set-up, as labloop-sim's ranks do before timing
  int64_t failed = 0;
  auto t0 = Clock::now();
  for (const auto& s : smiles) {
    if (!(*simulator)->Run(s)) ++failed;
  }
  const double plain = Since(t0);
  const double n = static_cast<double>(smiles.size());
  std::printf(
      "\nbench simulators: GFN2-xTB single points (ETKDG + MMFF geometry) on %zu "
      "molecules of %s\n",
      smiles.size(), options.input.c_str());
  std::printf("  %-34s %9s %10s %12s %12s\n", "", "wall s", "mol / s", "efficiency", "ms / task");
  std::printf("  %-34s %9.2f %10.1f %12s %12.2f   (%lld failed)\n", "plain loop, one process",
              plain, n / plain, "", 1000 * plain / n, static_cast<long long>(failed));
  json result = {{"benchmark", "simulators"},
                 {"molecules", smiles.size()},
                 {"plain_loop", {{"seconds", plain}, {"per_second", n / plain}}},
                 {"machine", Machine()}};
  json runs = json::array();
  for (int ranks : options.ranks) {
    // MPI's own start and stop, timed on an empty input, is not per-task work.
    auto startup = TimeSim(sim, ranks, empty, (dir / "empty.jsonl").string());
    if (!startup) return tl::unexpected(startup.error());
    std::string output = (dir / ("out" + std::to_string(ranks) + ".jsonl")).string();
    auto wall = TimeSim(sim, ranks, input, output);
    if (!wall) return tl::unexpected(wall.error());
    if (CountLines(output) != static_cast<int64_t>(smiles.size())) {
      return MakeError(ErrorCode::kInternal, "labloop-sim wrote " +
                                                 std::to_string(CountLines(output)) +
                                                 " results for " + std::to_string(smiles.size()));
    }
    const double work = *wall - *startup;
    const double rate = n / work;
    const double efficiency = rate / (ranks * n / plain);
    const double overhead_ms = 1000 * (work * ranks - plain) / n;
    char label[64];
    std::snprintf(label, sizeof(label), "labloop-sim, %d rank%s", ranks, ranks > 1 ? "s" : "");
    std::printf("  %-34s %9.2f %10.1f %12.2f %12.2f   (MPI start and stop %.2f s, not counted)\n",
                label, work, rate, efficiency, 1000 * work / n, *startup);
    runs.push_back({{"ranks", ranks},
                    {"seconds", work},
                    {"startup_seconds", *startup},
                    {"per_second", rate},
                    {"efficiency", efficiency},
                    {"overhead_ms_per_task", overhead_ms}});
    if (ranks == 1) {
      std::printf("  %-34s %9s %10s %12s %12.2f\n", "  overhead per task (1 rank)", "", "", "",
                  overhead_ms);
    }
  }
  // The overhead alone: the same tasks through labloop-sim with the lookup back-end, whose work
  // (parse the SMILES, look up its InChIKey) is a millisecond; the rest is the task's process,
  // the messages and the output.
  {
    std::string table = (dir / "table.csv").string();
    std::ofstream csv(table);
    csv << "smiles,value\n";
    for (const auto& s : smiles) csv << s << ",0\n";
    csv.close();
    auto startup = TimeSim(sim, 1, empty, (dir / "empty2.jsonl").string(),
                           "--backend lookup --table '" + table + "'");
    auto wall = TimeSim(sim, 1, input, (dir / "lookup.jsonl").string(),
                        "--backend lookup --table '" + table + "'");
    if (!startup || !wall) return MakeError(ErrorCode::kUnavailable, "the lookup run failed");
    const double per_task_ms = 1000 * (*wall - *startup) / n;
    std::printf("  %-34s %9.2f %10.1f %12s %12.2f   (isolation + messages + output, 1 rank)\n",
                "labloop-sim, lookup back-end", *wall - *startup, n / (*wall - *startup), "",
                per_task_ms);
    result["overhead_ms_per_task_lookup"] = per_task_ms;
  }
  std::printf(
      "  targets (BENCHMARKS.md 4): efficiency >= 0.9 at 2 ranks, overhead <= 5 ms a task\n");
  result["labloop_sim"] = runs;
  std::error_code ec;
  fs::remove_all(dir, ec);
  return WriteJson(options.json_path, result);
}

}  // namespace labloop::cli
