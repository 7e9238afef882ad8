#pragma once
// Progress: a progress bar for long steps.
//
// On a terminal it redraws one line on standard error ("evaluate [#####.....] 16/32 0:03");
// otherwise (a pipe, a log file, a batch job) it writes a plain log line at every 10%.
// Advance() may be called from any thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace labloop {

class Progress {
 public:
  Progress(std::string label, int64_t total);
  ~Progress();  // finishes the line
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void Advance(int64_t steps = 1);
  void Finish();

  // Whether standard error is a terminal; tests and CI see false.
  static bool IsInteractive();

 private:
  void Draw(int64_t done, bool final);

  std::string label_;
  int64_t total_;
  std::atomic<int64_t> done_{0};
  bool interactive_;
  bool finished_ = false;
  int last_decile_ = -1;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  std::mutex mutex_;
};

}  // namespace labloop
