#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "simulators/isolated_run.h"
#include "simulators/launcher.h"
#include "simulators/lookup_simulator.h"
#include "simulators/simulator.h"
#include "simulators/thread_runner.h"
#include "simulators/xtb_simulator.h"
#include "tests/support/temp_dir.h"

using namespace labloop;
using namespace labloop::simulators;

TEST_CASE("xtb computes GFN2 energy - gap and dipole of water", "[integration]") {
  auto xtb = CreateXtbSimulator(SimulatorOptions{});
  REQUIRE(xtb);
  auto water = (*xtb)->Run("O");
  REQUIRE(water);
  // GFN2-xTB total energy of water is about -5.07 Eh; its dipole near 2.2-2.5 D.
  CHECK(water->properties.at("energy") == Approx(-5.07).margin(0.02));
  CHECK(water->properties.at("dipole") == Approx(2.3).margin(0.4));
  CHECK(water->properties.at("gap") > 10.0);
  CHECK(water->fidelity == "simulation");
  CHECK(water->raw_json.find("\"force_field\":\"MMFF94\"") != std::string::npos);
  // Benzene's gap is smaller than water's and the same seed gives the same numbers.
  auto benzene = (*xtb)->Run("c1ccccc1");
  REQUIRE(benzene);
  CHECK(benzene->properties.at("gap") < water->properties.at("gap"));
  CHECK((*xtb)->Run("c1ccccc1")->properties == benzene->properties);
}

TEST_CASE("xtb handles charged and open-shell molecules", "[integration]") {
  auto xtb = CreateXtbSimulator(SimulatorOptions{});
  auto cation = (*xtb)->Run("C[NH3+]");
  REQUIRE(cation);
  auto radical = (*xtb)->Run("[CH3]");
  REQUIRE(radical);
  CHECK(radical->raw_json.find("\"uhf\":1") != std::string::npos);
}

TEST_CASE("A molecule xtb cannot take is an error - not a crash", "[integration]") {
  auto xtb = CreateXtbSimulator(SimulatorOptions{});
  auto bad = (*xtb)->Run("C1CC");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message == "unparsable smiles 'C1CC'");
  SimulatorOptions tight;
  tight.xtb_max_iterations = 1;  // SCF cannot converge in one iteration
  auto unconverged = (*CreateXtbSimulator(tight))->Run("c1ccccc1O");
  REQUIRE_FALSE(unconverged);
  CHECK(unconverged.error().message.find("xtb single point failed") != std::string::npos);
}

TEST_CASE("The lookup table matches molecules by InChIKey") {
  testing::TempDir dir;
  SimulatorOptions options;
  options.kind = "lookup";
  options.table = dir.Write(
      "t.csv",
      "smiles,score\nCCO,-1.5\nc1ccccc1,\nOC(=O)C,-2.0\nC1CC,4\nCCN,3.2 eV\nCCCl,\"1,5\"\n");
  options.property = "score";
  auto lookup = CreateLookupSimulator(options);
  REQUIRE(lookup);
  CHECK((*lookup)->Run("OCC")->properties.at("score") == -1.5);  // another SMILES of ethanol
  CHECK((*lookup)->Run("CC(O)=O")->fidelity == "lookup");
  auto missing = (*lookup)->Run("c1ccccc1");  // present, but without a value: a failed evaluation
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message == "no value in the lookup table for 'c1ccccc1'");
  // Partly numeric fields are not values: no "3.2 eV" as 3.2, no "1,5" as 1.
  CHECK_FALSE((*lookup)->Run("CCN"));
  CHECK_FALSE((*lookup)->Run("CCCl"));
  options.table = dir.Write("empty.csv", "smiles,score\n");
  CHECK(CreateLookupSimulator(options).error().message.find("has no usable") != std::string::npos);
  options.table.clear();
  CHECK_FALSE(CreateLookupSimulator(options));
}

TEST_CASE("Every registered simulator passes the contract", "[integration]") {
  testing::TempDir dir;
  SimulatorRegistry registry("simulator");
  RegisterBuiltinSimulators(registry);
  for (const auto& name : registry.Names()) {
    INFO(name);
    SimulatorOptions options;
    options.kind = name;
    options.table = dir.Write("table.csv", "smiles,value\nCCO,1\nCCN,2\n");
    options.command = {std::string(LABLOOP_SOURCE_DIR) + "/examples/external-command/crippen.py"};
    options.properties = {"logp", "tpsa"};
    options.receptor = "/usr/share/doc/autodock-vina/test-data/protein.pdbqt.gz";
    options.box_center = {11, 90.5, 57.5};
    options.box_size = {22, 24, 28};
    options.exhaustiveness = 1;
    auto simulator = registry.Create(name, options);
    REQUIRE(simulator);
    CHECK((*simulator)->Kind() == name);
    auto ok = (*simulator)->Run("CCO");
    REQUIRE(ok);
    for (const auto& property : (*simulator)->Properties()) {
      CHECK(ok->properties.count(property) == 1);
    }
    CHECK_FALSE((*simulator)->Run("not a molecule"));
  }
}

TEST_CASE("The thread runner returns every result once - failures included", "[integration]") {
  testing::TempDir dir;
  SimulatorOptions options;
  options.kind = "lookup";
  options.table = dir.Write("t.csv", "smiles,value\nC,1\nCC,2\nCCC,3\nCCCC,4\n");
  auto lookup = CreateLookupSimulator(options);
  std::vector<Task> tasks = {{1, "C"}, {2, "CC"}, {3, "bad("}, {4, "CCC"}, {5, "CCCC"}, {6, "N"}};
  std::set<int64_t> seen;
  int failures = 0;
  RunOnThreads(**lookup, tasks, 3, [&](TaskResult r) {
    CHECK(seen.insert(r.id).second);
    if (!r.summary) ++failures;
    return true;
  });
  CHECK(seen.size() == 6);
  CHECK(failures == 2);
  int delivered = 0;
  RunOnThreads(**lookup, tasks, 1, [&](TaskResult) { return ++delivered < 2; });
  CHECK(delivered == 2);  // stopped early on request
  // on_start: each task starts once, on this thread, before its result comes; never more than
  // `threads` are started and not yet delivered; returning false starts no more.
  std::set<int64_t> started, done;
  size_t most = 0;
  RunOnThreads(
      **lookup, tasks, 2,
      [&](TaskResult r) {
        CHECK(started.count(r.id) == 1);
        CHECK(done.insert(r.id).second);
        return true;
      },
      [&](const Task& t) {
        CHECK(started.insert(t.id).second);
        most = std::max(most, started.size() - done.size());
        return true;
      });
  CHECK(done.size() == 6);
  CHECK(most == 2);
  int starts = 0, results = 0;
  RunOnThreads(
      **lookup, tasks, 1, [&](TaskResult) { return ++results > 0; },
      [&](const Task&) { return ++starts <= 3; });
  CHECK(starts == 4);  // the fourth was refused
  CHECK(results == 3);
  CHECK_THROWS_AS(RunOnThreads(
                      **lookup, tasks, 2, [](TaskResult) { return true; },
                      [](const Task&) -> bool { throw std::runtime_error("database locked"); }),
                  std::runtime_error);
  // An exception from the callback reaches the caller after every worker has been joined.
  CHECK_THROWS_AS(RunOnThreads(**lookup, tasks, 2,
                               [](TaskResult) -> bool { throw std::runtime_error("disk full"); }),
                  std::runtime_error);
}

TEST_CASE("A task in its own process: results come back - crashes and hangs cost only the task",
          "[integration]") {
  testing::TempDir dir;
  SimulatorOptions options;
  options.kind = "lookup";
  options.property = "logS";
  options.table = dir.Write("t.csv", "smiles,logS\nCCO,0.5\nCCCO,0.1\nCCCCO,-0.3\n");
  auto lookup = CreateLookupSimulator(options);
  REQUIRE(lookup);
  IsolationOptions isolation;
  isolation.timeout_seconds = 1;
  auto ok = RunIsolated(**lookup, "CCO", isolation);
  REQUIRE(ok);
  CHECK(ok->properties.at("logS") == 0.5);
  CHECK(ok->fidelity == "lookup");
  // The back-end's own error crosses the process boundary with its code.
  auto missing = RunIsolated(**lookup, "c1ccccc1", isolation);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == labloop::ErrorCode::kNotFound);
  // A real segfault and a hang in the task process; the caller goes on.
  setenv("LABLOOP_SIM_CRASH_ON", "CCCO", 1);
  setenv("LABLOOP_SIM_HANG_ON", "CCCCO", 1);
  auto crashed = RunIsolated(**lookup, "CCCO", isolation);
  auto hung = RunIsolated(**lookup, "CCCCO", isolation);
  unsetenv("LABLOOP_SIM_CRASH_ON");
  unsetenv("LABLOOP_SIM_HANG_ON");
  REQUIRE_FALSE(crashed);
  CHECK(crashed.error().message == "crashed (signal 11: Segmentation fault)");
  REQUIRE_FALSE(hung);
  CHECK(hung.error().message.rfind("timed out after 1", 0) == 0);
  CHECK(RunIsolated(**lookup, "CCO", isolation)->properties.at("logS") == 0.5);
}

TEST_CASE("Simulation summaries round-trip through JSON") {
  SimulationSummary s;
  s.properties = {{"gap", 4.25}, {"dipole", 1.5}};
  s.fidelity = "simulation";
  s.raw_json = R"({"atoms":3})";
  s.seconds = 0.02;
  auto back = SummaryFromJson(SummaryToJson(s));
  REQUIRE(back);
  CHECK(back->properties == s.properties);
  CHECK(back->raw_json == s.raw_json);
  CHECK(back->seconds == s.seconds);
  CHECK_FALSE(SummaryFromJson("not json"));
}

namespace {
// Whether process `pid` runs (exists and is not a zombie).
bool Runs(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto paren = text.rfind(')');
  return paren != std::string::npos && text.size() > paren + 2 && text[paren + 2] != 'Z' &&
         text[paren + 2] != 'X';
}
}  // namespace

TEST_CASE("mpirun launcher: Cancel stops what is left of a batch whose script has ended",
          "[integration]") {
  testing::TempDir dir;
  LauncherOptions options;
  options.kind = "mpirun";
  auto launcher = CreateLauncher(options);
  REQUIRE(launcher);
  const std::string batch = dir.path() + "/round-0000-job-1-try-1";
  std::filesystem::create_directories(batch);
  // The script starts a long task in its group (as mpirun and its ranks are) and ends at once.
  std::ofstream(batch + "/job.sh") << "cd '" << batch << "' || exit 1\n"
                                   << "sleep 300 &\necho $! > task.pid\n";
  auto handle = (*launcher)->Submit(batch);
  REQUIRE(handle);
  pid_t task = 0;
  for (int i = 0; i < 100 && task == 0; ++i) {
    std::ifstream in(batch + "/task.pid");
    if (!(in >> task)) task = 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(task > 0);
  // The script is gone (and reaped by Poll); its task runs on.
  for (int i = 0; i < 100; ++i) {
    auto status = (*launcher)->Poll(*handle, batch);
    REQUIRE(status);
    if (status->state != BatchState::kRunning) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(Runs(task));
  REQUIRE((*launcher)->Cancel(*handle, batch));
  for (int i = 0; i < 100 && Runs(task); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK_FALSE(Runs(task));
  if (Runs(task)) kill(task, SIGKILL);
}
