#include "core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace labloop {

bool ParseLogLevel(const std::string& text, LogLevel& level) {
  if (text == "debug")
    level = LogLevel::kDebug;
  else if (text == "info")
    level = LogLevel::kInfo;
  else if (text == "warn")
    level = LogLevel::kWarn;
  else if (text == "error")
    level = LogLevel::kError;
  else if (text == "off")
    level = LogLevel::kOff;
  else
    return false;
  return true;
}

void SetLogLevel(LogLevel level) {
  static bool installed = [] {
    auto logger = spdlog::stderr_color_mt("labloop");
    logger->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
    spdlog::set_default_logger(logger);
    return true;
  }();
  (void)installed;
  switch (level) {
    case LogLevel::kDebug:
      spdlog::set_level(spdlog::level::debug);
      break;
    case LogLevel::kInfo:
      spdlog::set_level(spdlog::level::info);
      break;
    case LogLevel::kWarn:
      spdlog::set_level(spdlog::level::warn);
      break;
    case LogLevel::kError:
      spdlog::set_level(spdlog::level::err);
      break;
    case LogLevel::kOff:
      spdlog::set_level(spdlog::level::off);
      break;
  }
}

}  // namespace labloop
