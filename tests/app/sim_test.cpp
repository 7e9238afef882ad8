// labloop-sim under a real mpirun with 2 ranks and real xtb.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/app/fixtures.h"
#include "tests/support/temp_dir.h"

using namespace labloop::testing;

namespace {
const std::vector<std::string> kMpiEnv = {"OMPI_ALLOW_RUN_AS_ROOT=1",
                                          "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"};

std::map<int64_t, nlohmann::json> ReadLines(const std::string& path, int* count) {
  std::map<int64_t, nlohmann::json> by_line;
  std::ifstream in(path);
  std::string text;
  *count = 0;
  while (std::getline(in, text)) {
    auto j = nlohmann::json::parse(text);
    by_line[j["line"].get<int64_t>()] = j;
    ++*count;
  }
  return by_line;
}

CommandResult Sim(const std::string& input, const std::string& output, int ranks,
                  std::vector<std::string> env) {
  for (const auto& e : kMpiEnv) env.push_back(e);
  return RunProgram("mpirun",
                    {"-np", std::to_string(ranks), "--oversubscribe", LABLOOP_SIM, "--backend",
                     "xtb", "--input", input, "--output", output, "--timeout", "3"},
                    env);
}
}  // namespace

TEST_CASE("labloop-sim over 2 MPI ranks - a crash and a hang cost only themselves - reruns resume",
          "[integration][slow]") {
  TempDir dir;
  // Lines 1-7: a comment and six QM9 molecules; line 8: not a molecule.
  std::string pool = DemoPoolHead(6);
  std::istringstream lines(pool);
  std::vector<std::string> smiles;
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line[0] != '#') smiles.push_back(line.substr(0, line.find(' ')));
  }
  REQUIRE(smiles.size() == 6);
  std::string input = dir.Write("in.smi", pool + "C1CC not-a-ring\n");
  std::string output = dir.File("out.jsonl");
  // A real segfault in the task process of the 2nd molecule, and a hang in the 4th.
  auto run = Sim(input, output, 2,
                 {"LABLOOP_SIM_CRASH_ON=" + smiles[1], "LABLOOP_SIM_HANG_ON=" + smiles[3]});
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  CHECK(run.output.find("wrote 7 results (3 failed)") != std::string::npos);

  int count = 0;
  auto results = ReadLines(output, &count);
  CHECK(count == 7);  // every task exactly once
  std::set<int> ranks;
  for (const auto& [number, j] : results) {
    ranks.insert(j["rank"].get<int>());
    if (j["smiles"] == smiles[1]) {
      CHECK(j["error"].get<std::string>().rfind("crashed (signal 11", 0) == 0);
    } else if (j["smiles"] == smiles[3]) {
      CHECK(j["error"].get<std::string>().rfind("timed out after 3", 0) == 0);
    } else if (j["smiles"] == "C1CC") {
      CHECK(j.contains("error"));
      CHECK(j["id"] == "not-a-ring");
    } else {
      CHECK(j["properties"]["gap"].get<double>() > 0);
      CHECK(j["properties"].contains("energy"));
      CHECK(j["properties"].contains("dipole"));
    }
  }
  CHECK(ranks == std::set<int>{0, 1});  // rank 0 computes between its coordinating

  // Run again: nothing is left to do, nothing is written twice.
  auto again = Sim(input, output, 2, {});
  CHECK(again.output.find("0 tasks (7 already in") != std::string::npos);
  ReadLines(output, &count);
  CHECK(count == 7);

  // A job killed after three results: the rerun computes only the other four (one rank here).
  std::ifstream full(output);
  std::string partial;
  for (int i = 0; i < 3 && std::getline(full, line); ++i) partial += line + "\n";
  std::string resumed = dir.Write("resumed.jsonl", partial);
  auto rest = Sim(input, resumed, 1, {});
  CHECK(rest.output.find("4 tasks (3 already in") != std::string::npos);
  auto merged = ReadLines(resumed, &count);
  CHECK(count == 7);
  CHECK(merged.size() == 7);
}

TEST_CASE("labloop-sim reads its back-end from a config and refuses an output of another input",
          "[integration]") {
  TempDir dir;
  std::string config = dir.Write("sim.toml", "[simulator]\nkind = \"mmff\"\nconformers = 5\n");
  std::string input = dir.Write("in.smi", "CCO ethanol\nCCCC butane\n");
  std::string output = dir.File("out.jsonl");
  std::vector<std::string> env = kMpiEnv;
  auto run = RunProgram("mpirun",
                        {"-np", "2", "--oversubscribe", LABLOOP_SIM, "--config", config, "--input",
                         input, "--output", output},
                        env);
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  int count = 0;
  auto results = ReadLines(output, &count);
  REQUIRE(count == 2);
  CHECK(results[1]["properties"]["strain_energy"].get<double>() >= 0);
  CHECK(results[2]["id"] == "butane");
  CHECK(results[2]["fidelity"] == "simulation");

  // Line 1 changed since: resuming would mismatch molecules, so labloop-sim stops and says why.
  dir.Write("in.smi", "CCN ethylamine\nCCCC butane\nCCCCC pentane\n");
  auto refused = RunProgram(
      "mpirun", {"-np", "1", LABLOOP_SIM, "--config", config, "--input", input, "--output", output},
      env);
  CHECK(refused.exit_code != 0);
  CHECK(refused.output.find("line 1 is for 'CCO', but") != std::string::npos);
  ReadLines(output, &count);
  CHECK(count == 2);

  auto bad = RunProgram(
      "mpirun",
      {"-np", "1", LABLOOP_SIM, "--config", dir.Write("bad.toml", "[simulator]\nkind = \"vina\"\n"),
       "--input", input, "--output", dir.File("other.jsonl")},
      env);
  CHECK(bad.exit_code != 0);
  CHECK(bad.output.find("the vina simulator needs 'simulator.receptor'") != std::string::npos);
}

TEST_CASE("labloop-sim stops handing out tasks when its output cannot be written",
          "[integration]") {
  TempDir dir;
  std::string input = dir.Write("in.smi", DemoPoolHead(20));
  std::string output = dir.File("out.jsonl");
  // A full disk planted after 3 lines: no more tasks start, and it says what it wrote.
  auto run = Sim(input, output, 2, {"LABLOOP_SIM_FAIL_WRITES_AFTER=3"});
  INFO(run.output);
  CHECK(run.exit_code != 0);
  CHECK(run.output.find("no more tasks are started") != std::string::npos);
  CHECK(run.output.find("wrote 3 results (0 failed) to " + output + ", then writing failed") !=
        std::string::npos);
  int count = 0;
  std::ifstream in(output);
  for (std::string text; std::getline(in, text);) ++count;
  CHECK(count == 3);
  // A rerun with room computes the rest, once each.
  auto rerun = Sim(input, output, 2, {});
  INFO(rerun.output);
  CHECK(rerun.exit_code == 0);
  std::map<int64_t, nlohmann::json> by_line = ReadLines(output, &count);
  CHECK(count == 20);
  CHECK(by_line.size() == 20);
}
