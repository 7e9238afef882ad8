#pragma once
// Private to app/cli: what every `labloop bench` program shares.

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace labloop::cli::detail {

using Clock = std::chrono::steady_clock;

// Seconds since `start`.
double Since(Clock::time_point start);
// Writes `j` to `path` (nothing when path is empty) and says so.
Status WriteJson(const std::string& path, const nlohmann::json& j);
// The machine's description recorded with every result.
nlohmann::json Machine();

// Mean and sample standard deviation (0 for fewer than two values) of replicate results.
struct Stat {
  double mean = 0, sd = 0;
};
Stat Summarize(const std::vector<double>& values);
nlohmann::json StatJson(const Stat& stat);  // {"mean": ..., "sd": ...}

}  // namespace labloop::cli::detail
