#pragma once
// Logging for every labloop library and executable (spdlog underneath).
//
// Messages go to standard error as "[time] [level] message". Libraries log; only executables call
// SetLogLevel. Thread-safe.

#include <string>

#include <spdlog/spdlog.h>

namespace labloop {

enum class LogLevel { kDebug, kInfo, kWarn, kError, kOff };

// "debug", "info", "warn", "error", "off"; anything else is an error naming the allowed values.
bool ParseLogLevel(const std::string& text, LogLevel& level);
void SetLogLevel(LogLevel level);

template <typename... Args>
void LogDebug(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::debug(fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void LogInfo(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::info(fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void LogWarn(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::warn(fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void LogError(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::error(fmt, std::forward<Args>(args)...);
}

}  // namespace labloop
