#pragma once
// BackgroundRun: the engine on a worker thread, for the GUI and the server.
//
// Start() runs rounds one at a time (each a RunCampaign of one round, so every round resumes
// exactly as `labloop run` would); Pause() stops the run at its next safe point: between rounds,
// or while it waits on a batch (left running, re-attached later) or on instruments (their steps
// polled again later). Simulations already running on threads finish first. The next Start()
// resumes the round. State() may be called from any thread at any time.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "core/result.h"

namespace labloop::engine {

class BackgroundRun {
 public:
  explicit BackgroundRun(std::string campaign_path);
  // Pauses and waits for the worker (at its next safe point).
  ~BackgroundRun();
  BackgroundRun(const BackgroundRun&) = delete;
  BackgroundRun& operator=(const BackgroundRun&) = delete;

  // Starts rounds until the campaign stops (budget, approval, emergency stop, ...), a pause,
  // or `max_rounds` rounds (0: no limit). Fails with kFailedPrecondition while running.
  Status Start(int max_rounds = 0);
  // Stops at the next safe point (see above); no further round starts.
  void Pause();
  // Waits until the worker has stopped.
  void Wait();

  struct Snapshot {
    std::string state = "idle";  // idle | running | pausing | paused | stopped | failed
    int rounds_run = 0;
    int64_t evaluations = 0;
    std::string stop_reason;  // why the last run stopped
    std::string error;        // when failed
  };
  Snapshot State() const;
  // {"state", "rounds_run", "evaluations", "stop_reason", "error"}
  std::string StateJson() const;

 private:
  void Loop(int max_rounds);

  std::string path_;
  std::atomic<bool> pause_{false};
  mutable std::mutex mutex_;
  Snapshot snapshot_;
  std::thread worker_;
};

}  // namespace labloop::engine
