#pragma once
// Runs one simulation in a child process, so that a task that crashes (a segfault inside Fortran
// code), hangs or exhausts memory costs only itself: the caller gets a failed result with the
// reason, and goes on.
//
// The child is forked from the caller (it inherits the loaded back-end; nothing is set up twice),
// computes, writes its summary to a pipe and exits with _exit. The parent waits up to `timeout`
// seconds, then kills the child's process group. Forking costs about a millisecond here; xtb's
// single point costs about twenty.

#include <string>

#include "simulators/simulator.h"

namespace labloop::simulators {

struct IsolationOptions {
  double timeout_seconds = 600;  // per task; <= 0: no limit
};

// kUnavailable with "timed out after N s" or "crashed (signal N: name)" when the child did not
// finish; the back-end's own error otherwise.
Result<SimulationSummary> RunIsolated(const Simulator& simulator, const std::string& smiles,
                                      const IsolationOptions& options);

// A simulator whose every Run goes through RunIsolated: the threads launcher's `isolate`.
class IsolatedSimulator final : public Simulator {
 public:
  IsolatedSimulator(const Simulator& inner, IsolationOptions options)
      : inner_(inner), options_(options) {}
  std::string Kind() const override { return inner_.Kind(); }
  std::vector<std::string> Properties() const override { return inner_.Properties(); }
  Result<SimulationSummary> Run(const std::string& smiles) const override {
    return RunIsolated(inner_, smiles, options_);
  }

 private:
  const Simulator& inner_;
  IsolationOptions options_;
};

// The summary as one line of JSON ({"properties": {...}, "fidelity": ..., "raw": ..., "seconds":
// ...}), and back; used across the pipe and by labloop-sim's output.
std::string SummaryToJson(const SimulationSummary& summary);
Result<SimulationSummary> SummaryFromJson(const std::string& json);

}  // namespace labloop::simulators
