#include "instruments/emulator/emulated_lab.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "instruments/ground_truth.h"

namespace labloop::instruments {

namespace {
std::vector<std::string> Words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}
}  // namespace

EmulatedLab::EmulatedLab(EmulatorOptions options)
    : options_(std::move(options)), rng_(options_.seed) {}

std::string EmulatedLab::Capabilities() const {
  nlohmann::json caps = {{"kind", options_.kind}, {"concurrency", options_.concurrency}};
  if (options_.kind == "plate_reader") {
    caps["min_concentration"] = options_.min_concentration;
    caps["max_concentration"] = options_.max_concentration;
    caps["max_points"] = options_.max_points;
  } else {
    caps["max_amount_mg"] = options_.max_amount_mg;
    caps["elements"] = {"C", "H", "N", "O", "S", "F", "Cl", "Br", "I", "P", "B"};
  }
  return caps.dump();
}

void EmulatedLab::Advance() {
  const auto now = Clock::now();
  int running = 0;
  for (const auto& id : order_) {
    Run& run = runs_[id];
    if (run.state == State::kRunning) {
      if (std::chrono::duration<double>(now - run.started).count() >= options_.duration) {
        std::uniform_real_distribution<double> u(0, 1);
        if (u(rng_) < options_.fail_rate) {
          run.state = State::kFailed;
          run.why = options_.kind == "plate_reader" ? "plate jammed" : "reaction did not proceed";
        } else {
          run.result = Result(id, run);
          run.state = run.result.rfind("DATA", 0) == 0 ? State::kDone : State::kFailed;
          if (run.state == State::kFailed) run.why = run.result;
        }
      } else {
        ++running;
      }
    }
  }
  for (const auto& id : order_) {
    Run& run = runs_[id];
    if (run.state == State::kQueued && running < options_.concurrency) {
      run.state = State::kRunning;
      run.started = now;
      ++run.starts;
      ++running;
    }
  }
}

std::string EmulatedLab::Result(const std::string& id, const Run& run) {
  // Seeded by the request id: the same run always reads the same.
  std::mt19937_64 rng(options_.seed ^ std::hash<std::string>()(id));
  std::normal_distribution<double> noise(0, 1);
  if (options_.kind == "plate_reader") {
    auto truth = GroundTruth(run.smiles);
    if (!truth) return "unreadable molecule";
    std::string data = "DATA ";
    double c = run.args[0];
    for (int i = 0; i < static_cast<int>(run.args[1]); ++i, c /= run.args[2]) {
      const double y =
          truth->bottom + (truth->top - truth->bottom) /
                              (1 + std::pow(10.0, truth->hill * (std::log10(c) + truth->pic50)));
      data += fmt::format("{}{:.6g},{:.4f}", i ? ";" : "", c, y + options_.noise * noise(rng));
    }
    return data;
  }
  auto expected = ExpectedYield(run.smiles);
  if (!expected) return "unreadable molecule";
  const double yield = std::clamp(*expected + 0.05 * noise(rng), 0.0, 1.0);
  return fmt::format("DATA yield={:.4f};amount_mg={:.4f}", yield, yield * run.args[0]);
}

std::string EmulatedLab::Start(const std::string& id, const std::string& smiles,
                               const std::vector<double>& args) {
  if (runs_.count(id)) return "OK " + id + " KNOWN";  // a retried request: nothing new starts
  if (stopped_) return "ERR STOPPED: emergency stop active, RESET first";
  if (options_.kind == "plate_reader") {
    if (args.size() != 3) return "ERR RUN needs <top concentration> <points> <fold>";
    if (args[0] > options_.max_concentration || args[0] <= 0) {
      return fmt::format("ERR top concentration {} outside (0, {}]", args[0],
                         options_.max_concentration);
    }
    if (args[1] < 5 || args[1] > options_.max_points || args[2] <= 1) {
      return fmt::format("ERR points must be 5..{} and fold > 1", options_.max_points);
    }
    if (args[0] / std::pow(args[2], args[1] - 1) < options_.min_concentration) {
      return "ERR the dilution series goes below the lowest concentration";
    }
  } else {
    if (args.size() != 1) return "ERR RUN needs <amount mg>";
    if (args[0] <= 0 || args[0] > options_.max_amount_mg) {
      return fmt::format("ERR amount {} mg outside (0, {}]", args[0], options_.max_amount_mg);
    }
  }
  Run run;
  run.smiles = smiles;
  run.args = args;
  runs_[id] = run;
  order_.push_back(id);
  Advance();
  return "OK " + id;
}

std::string EmulatedLab::Handle(const std::string& line) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto w = Words(line);
  if (w.empty()) return "ERR empty command";
  const std::string& command = w[0];
  Advance();
  if (command == "*IDN?") {
    std::string kind = options_.kind;
    std::transform(kind.begin(), kind.end(), kind.begin(), ::toupper);
    return fmt::format("LABLOOP,{}-EMULATOR,{},1.0", kind, options_.seed);
  }
  if (command == "CAPS?") return Capabilities();
  if (command == "STOP") {
    stopped_ = true;
    for (auto& [id, run] : runs_) {
      if (run.state == State::kQueued || run.state == State::kRunning) run.state = State::kAborted;
    }
    return "OK STOPPED";
  }
  if (command == "RESET") {
    stopped_ = false;
    return "OK";
  }
  if (w.size() < 2) return "ERR " + command + " needs a request id";
  const std::string& id = w[1];
  if (command == "RUN") {
    if (w.size() < 3) return "ERR RUN needs <id> <smiles> ...";
    std::vector<double> args;
    for (size_t i = 3; i < w.size(); ++i) {
      try {
        args.push_back(std::stod(w[i]));
      } catch (const std::exception&) {
        return "ERR not a number: " + w[i];
      }
    }
    return Start(id, w[2], args);
  }
  auto it = runs_.find(id);
  if (command == "STARTS?") return std::to_string(it == runs_.end() ? 0 : it->second.starts);
  if (it == runs_.end()) return command == "STAT?" ? "UNKNOWN" : "ERR unknown request " + id;
  Run& run = it->second;
  if (command == "STAT?") {
    switch (run.state) {
      case State::kQueued:
        return "QUEUED";
      case State::kRunning:
        return "RUNNING";
      case State::kDone:
        return "DONE";
      case State::kFailed:
        return "FAILED " + run.why;
      case State::kAborted:
        return "ABORTED";
    }
  }
  if (command == "FETCH?") {
    if (run.state != State::kDone) return "ERR run " + id + " is not done";
    return run.result;
  }
  if (command == "ABORT") {
    if (run.state == State::kQueued || run.state == State::kRunning) run.state = State::kAborted;
    return "OK";
  }
  return "ERR unknown command " + command;
}

}  // namespace labloop::instruments
