#include "core/progress.h"

#include <unistd.h>

#include <cstdio>

#include "core/log.h"

namespace labloop {

bool Progress::IsInteractive() { return isatty(STDERR_FILENO) == 1; }

Progress::Progress(std::string label, int64_t total)
    : label_(std::move(label)),
      total_(total),
      interactive_(IsInteractive()),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() { Finish(); }

void Progress::Advance(int64_t steps) {
  int64_t done = done_.fetch_add(steps) + steps;
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  Draw(done, false);
}

void Progress::Finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  finished_ = true;
  if (total_ > 0) Draw(done_.load(), true);
}

void Progress::Draw(int64_t done, bool final) {
  auto now = std::chrono::steady_clock::now();
  double elapsed = std::chrono::duration<double>(now - start_).count();
  double fraction = total_ > 0 ? static_cast<double>(done) / static_cast<double>(total_) : 1.0;
  if (fraction > 1.0) fraction = 1.0;
  if (!interactive_) {
    int decile = static_cast<int>(fraction * 10.0);
    if (decile != last_decile_ && (decile > last_decile_ || final)) {
      last_decile_ = decile;
      LogInfo("{}: {}/{} ({:.0f}%) after {:.1f} s", label_, done, total_, fraction * 100.0,
              elapsed);
    }
    return;
  }
  if (!final && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  constexpr int kWidth = 30;
  int filled = static_cast<int>(fraction * kWidth);
  std::string bar(filled, '#');
  bar.append(kWidth - filled, '.');
  int seconds = static_cast<int>(elapsed);
  std::fprintf(stderr, "\r%s [%s] %lld/%lld %d:%02d%s", label_.c_str(), bar.c_str(),
               static_cast<long long>(done), static_cast<long long>(total_), seconds / 60,
               seconds % 60, final ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace labloop
