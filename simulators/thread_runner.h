#pragma once
// Runs simulations on a pool of in-process threads, the default launcher.
//
// Results come back to the calling thread one at a time, in completion order, through
// `on_result`: the caller (the engine's single database writer) ingests each as it arrives, so a
// crash loses at most the tasks still running.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "simulators/simulator.h"

namespace labloop::simulators {

struct Task {
  int64_t id = 0;  // the job id
  std::string smiles;
};

struct TaskResult {
  int64_t id = 0;
  Result<SimulationSummary> summary;
};

// `threads` <= 0: one per core. on_result runs on the calling thread; if it returns false, no new
// task is started and RunOnThreads returns once the running ones finish (their results are not
// delivered). on_start, when given, also runs on the calling thread, just before a task is
// handed to a free worker (the engine marks its job running there, so that a job counts an
// attempt only once it has started); if it returns false, that task and the rest are not started.
// An exception from either callback stops the same way and is rethrown once the workers are done.
void RunOnThreads(const Simulator& simulator, const std::vector<Task>& tasks, int threads,
                  const std::function<bool(TaskResult)>& on_result,
                  const std::function<bool(const Task&)>& on_start = {});

}  // namespace labloop::simulators
