#pragma once
// Shared by the app tests: a small retrospective campaign (ESOL solubility through a lookup
// table) that runs in seconds, and a way to run the real `labloop` binary.

#include <string>
#include <vector>

namespace labloop::testing {

// A campaign config over tests/data/esol150.csv, maximizing logS with the lookup simulator.
std::string EsolConfig(int budget, int batch = 10, int simulator_threads = 1);

// The lab of examples/lab on two emulated instruments at `synth` and `reader` (addresses of
// labloop-emulator; `reader_driver` scpi or http): 40 ZINC molecules written to dir/pool.smi,
// the proxy "simulation", experiments of 2 a round; `experiment_extra` goes into [experiment].
class TempDir;
std::string LabConfig(const TempDir& dir, const std::string& synth, const std::string& reader,
                      const std::string& reader_driver, const std::string& experiment_extra = "");

// The first `count` molecules of the demo pool (examples/qm9-gap/pool.smi), as .smi text.
std::string DemoPoolHead(int count);

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;      // the signal that killed it, or 0
  std::string output;  // stdout and stderr together
};

// The rows of a read-only query on a campaign file, every column as text ("" for NULL);
// `parameters` bind the query's ? in order.
std::vector<std::vector<std::string>> QueryCampaign(
    const std::string& path, const std::string& sql,
    const std::vector<std::string>& parameters = {});

// Runs build/bin/labloop with `args`; `env` entries ("NAME=value") are added to the environment.
CommandResult RunLabloop(const std::vector<std::string>& args,
                         const std::vector<std::string>& env = {}, double kill_after_seconds = 0);
// The same for any program (a path, or a name looked up on PATH).
CommandResult RunProgram(const std::string& program, const std::vector<std::string>& args,
                         const std::vector<std::string>& env = {}, double kill_after_seconds = 0);

}  // namespace labloop::testing
