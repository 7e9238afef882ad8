#include "app/engine/fault_injection.h"

#include <csignal>
#include <cstdlib>
#include <mutex>

#include "core/log.h"

namespace labloop::engine {

void CrashPoint(const std::string& point) {
  static std::string target;
  static int remaining = 0;
  static std::once_flag once;
  static std::mutex mutex;
  std::call_once(once, [] {
    const char* spec = std::getenv("LABLOOP_CRASH_AT");
    if (spec == nullptr) return;
    std::string s(spec);
    size_t colon = s.find(':');
    target = s.substr(0, colon);
    remaining = colon == std::string::npos ? 1 : std::atoi(s.c_str() + colon + 1);
  });
  if (target.empty() || point != target) return;
  std::lock_guard<std::mutex> lock(mutex);
  if (--remaining == 0) {
    LogWarn("crash injection: killing the process at '{}'", point);
    spdlog::default_logger()->flush();
    std::raise(SIGKILL);
  }
}

}  // namespace labloop::engine
