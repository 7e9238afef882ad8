#include "app/engine/background_run.h"

#include <nlohmann/json.hpp>

#include "app/engine/engine.h"

namespace labloop::engine {

BackgroundRun::BackgroundRun(std::string campaign_path) : path_(std::move(campaign_path)) {}

BackgroundRun::~BackgroundRun() {
  Pause();
  Wait();
}

Status BackgroundRun::Start(int max_rounds) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (snapshot_.state == "running" || snapshot_.state == "pausing") {
    return MakeError(ErrorCode::kFailedPrecondition, "the engine is already running");
  }
  if (worker_.joinable()) worker_.join();  // a finished worker
  pause_ = false;
  snapshot_ = Snapshot{};
  snapshot_.state = "running";
  worker_ = std::thread([this, max_rounds] { Loop(max_rounds); });
  return {};
}

void BackgroundRun::Pause() {
  pause_ = true;
  std::lock_guard<std::mutex> lock(mutex_);
  if (snapshot_.state == "running") snapshot_.state = "pausing";
}

void BackgroundRun::Wait() {
  if (worker_.joinable() && worker_.get_id() != std::this_thread::get_id()) worker_.join();
}

void BackgroundRun::Loop(int max_rounds) {
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (pause_) {
        snapshot_.state = "paused";
        snapshot_.stop_reason = "paused by request";
        return;
      }
      if (max_rounds > 0 && snapshot_.rounds_run >= max_rounds) {
        snapshot_.state = "stopped";
        snapshot_.stop_reason = "round limit of this run";
        return;
      }
    }
    RunOptions options;
    options.max_rounds = 1;
    options.stop = &pause_;
    auto summary = RunCampaign(path_, options);
    std::lock_guard<std::mutex> lock(mutex_);
    if (!summary) {
      snapshot_.state = "failed";
      snapshot_.error = summary.error().ToString();
      return;
    }
    snapshot_.rounds_run += summary->rounds_run;
    snapshot_.evaluations += summary->evaluations;
    snapshot_.stop_reason = summary->stop_reason;
    if (pause_) {
      snapshot_.state = "paused";
      snapshot_.stop_reason = "paused by request: " + summary->stop_reason;
      return;
    }
    // One round per call: anything but that limit means the campaign itself stopped.
    if (summary->stop_reason != "round limit of this run") {
      snapshot_.state = "stopped";
      return;
    }
  }
}

BackgroundRun::Snapshot BackgroundRun::State() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return snapshot_;
}

std::string BackgroundRun::StateJson() const {
  auto s = State();
  return nlohmann::json{{"state", s.state},
                        {"rounds_run", s.rounds_run},
                        {"evaluations", s.evaluations},
                        {"stop_reason", s.stop_reason},
                        {"error", s.error}}
      .dump();
}

}  // namespace labloop::engine
