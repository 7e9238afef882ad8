#pragma once
// Launchers run a batch of simulations outside the controller: `labloop-sim` under a local
// `mpirun -np N`, or as a Slurm batch job (sbatch from a template). The default, in-process
// threads, is thread_runner.h.
//
// A batch is a folder the controller writes before anything starts:
//   input.smi       one "SMILES job-id" a line
//   simulator.toml  the back-end's options ([simulator] table)
//   job.sh          the script that runs labloop-sim (the sbatch script under Slurm)
// and that labloop-sim fills as it works:
//   output.jsonl    one result a line, appended and flushed as each task ends
//   exit_code       written when labloop-sim has ended (its exit status)
//   launcher.log    labloop-sim's and mpirun's messages (slurm-<id>.log under Slurm)
// The controller reads results from output.jsonl while the batch runs, so a launcher only
// starts, watches and cancels. Its handle (a process id, a Slurm job id) is stored in the
// campaign file with the batch's jobs, so a controller that restarts re-attaches to a batch
// still running, and resubmits only the tasks of a batch that died without their results.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "simulators/simulator.h"
#include "simulators/thread_runner.h"

namespace labloop::simulators {

struct LauncherOptions {
  std::string kind = "threads";  // threads | mpirun | slurm
  int ranks = 2;                 // MPI ranks per batch (mpirun -np, sbatch --ntasks)
  double poll_seconds = 1;       // how often a running batch is looked at
  double task_timeout_seconds = 600;
  // threads: each task in a child process of its own (RunIsolated), so that a back-end that
  // crashes or hangs (past task_timeout) fails its job instead of taking the controller down.
  bool isolate = false;
  std::string sim_program;  // labloop-sim; empty: next to the running labloop, else on PATH
  std::string mpirun = "mpirun";
  std::vector<std::string> mpirun_args;  // e.g. ["--oversubscribe"]
  // Slurm
  std::string sbatch_template;  // a file; empty: the built-in template (below)
  std::string partition, account;
  std::string time_limit = "01:00:00";
  std::vector<std::string> sbatch_args;  // more sbatch options, e.g. ["--mem=4G"]
};

// The built-in sbatch template. {{name}} placeholders: job_name, ranks, batch_dir (the folder's
// path as it is), batch_dir_quoted (the same, quoted for bash), time_limit, sbatch_options
// (partition and account lines), command (labloop-sim under mpirun, recording its exit code).
// sbatch runs in the batch folder, so Slurm's relative paths (--output) land there. A user's
// template uses the same names.
extern const char* const kDefaultSbatchTemplate;

enum class BatchState { kPending, kRunning, kFinished, kFailed };
const char* BatchStateName(BatchState state);

struct BatchStatus {
  BatchState state = BatchState::kPending;
  std::string detail;  // the scheduler's state or the reason of a failure
};

class Launcher {
 public:
  virtual ~Launcher() = default;
  virtual std::string Kind() const = 0;
  // Starts labloop-sim on a written batch folder; returns the handle to store.
  virtual Result<std::string> Submit(const std::string& batch_dir) = 0;
  virtual Result<BatchStatus> Poll(const std::string& handle, const std::string& batch_dir) = 0;
  // Stops the batch (nothing happens when it has already ended).
  virtual Status Cancel(const std::string& handle, const std::string& batch_dir) = 0;
  // The handle of a batch still running from this folder, if any: for a controller killed after
  // starting a batch but before storing its handle.
  virtual Result<std::optional<std::string>> Find(const std::string& batch_dir) = 0;
};

// mpirun or slurm (threads has no Launcher object). Fails when a program it needs is missing.
Result<std::unique_ptr<Launcher>> CreateLauncher(const LauncherOptions& options);

// Writes input.smi, simulator.toml and job.sh into `batch_dir` (created), removing what an
// earlier batch of the same name left (output.jsonl, exit_code, logs).
Status WriteBatch(const std::string& batch_dir, const std::vector<Task>& tasks,
                  const SimulatorOptions& simulator, const LauncherOptions& launcher,
                  const std::string& job_name);

// Results appended to output.jsonl since byte `offset`, complete lines only; `offset` moves past
// them. A line that is not a result is an error naming the file and line.
Result<std::vector<TaskResult>> ReadBatchResults(const std::string& batch_dir, int64_t& offset);

// [launcher] of a config: kind, ranks, poll_seconds, task_timeout, program, mpirun,
// mpirun_args, template, partition, account, time_limit, sbatch_args. Absent: threads.
Result<LauncherOptions> ParseLauncherOptions(const Config& config, const std::string& base_dir);
std::string LauncherOptionsToToml(const LauncherOptions& options);

// A stored external id: "<kind> <handle> <batch name>", and back.
struct BatchRef {
  std::string kind, handle, name;
};
std::string FormatBatchRef(const BatchRef& ref);
Result<BatchRef> ParseBatchRef(const std::string& external_id);

}  // namespace labloop::simulators
