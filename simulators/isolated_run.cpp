#include "simulators/isolated_run.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

namespace labloop::simulators {

namespace {

using json = nlohmann::json;

// Test hooks, as real as a crash gets: the child raises SIGSEGV, or sleeps, for this SMILES.
bool Planted(const char* variable, const std::string& smiles) {
  const char* value = std::getenv(variable);
  return value != nullptr && smiles == value;
}

void WriteAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

}  // namespace

std::string SummaryToJson(const SimulationSummary& summary) {
  json j;
  j["properties"] = summary.properties;
  j["fidelity"] = summary.fidelity;
  json raw =
      summary.raw_json.empty() ? json(nullptr) : json::parse(summary.raw_json, nullptr, false);
  // A back-end's raw text that is not JSON travels as a string rather than being lost.
  j["raw"] = raw.is_discarded() ? json(summary.raw_json) : raw;
  j["seconds"] = summary.seconds;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<SimulationSummary> SummaryFromJson(const std::string& text) try {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return MakeError(ErrorCode::kInternal, "unreadable simulation result: " + text.substr(0, 200));
  }
  if (j.contains("error")) {
    return MakeError(static_cast<ErrorCode>(j.value("code", 0)), j["error"].get<std::string>());
  }
  SimulationSummary s;
  s.properties = j.value("properties", std::map<std::string, double>{});
  s.fidelity = j.value("fidelity", std::string("simulation"));
  if (j.contains("raw") && !j["raw"].is_null()) s.raw_json = j["raw"].dump();
  s.seconds = j.value("seconds", 0.0);
  return s;
} catch (const json::exception& e) {
  return MakeError(ErrorCode::kInternal, std::string("unreadable simulation result (") + e.what() +
                                             "): " + text.substr(0, 200));
}

Result<SimulationSummary> RunIsolated(const Simulator& simulator, const std::string& smiles,
                                      const IsolationOptions& options) {
  int fds[2];
  if (pipe(fds) != 0) {
    return MakeError(ErrorCode::kUnavailable, std::string("pipe failed: ") + strerror(errno));
  }
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return MakeError(ErrorCode::kUnavailable, std::string("fork failed: ") + strerror(errno));
  }
  if (pid == 0) {  // the child: compute, report, leave without running the parent's destructors
    close(fds[0]);
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // dies with its parent (Ctrl-C, mpirun's kill)
    if (getppid() == 1) _exit(1);
    // Other threads' task pipes were inherited too: close them, or their readers would wait for
    // this child's end as well.
    close_range(3, static_cast<unsigned>(fds[1]) - 1, 0);
    close_range(static_cast<unsigned>(fds[1]) + 1, ~0U, 0);
    std::string text;
    try {
      if (Planted("LABLOOP_SIM_CRASH_ON", smiles)) raise(SIGSEGV);
      if (Planted("LABLOOP_SIM_HANG_ON", smiles)) {
        std::this_thread::sleep_for(std::chrono::hours(1));
      }
      auto result = simulator.Run(smiles);
      for (const auto& [name, value] :
           result ? result->properties : std::map<std::string, double>{}) {
        if (!std::isfinite(value)) {
          result = MakeError(ErrorCode::kFailedPrecondition,
                             "the back-end computed a non-finite " + name);
          break;
        }
      }
      text = result ? SummaryToJson(*result)
                    : json{{"error", result.error().message},
                           {"code", static_cast<int>(result.error().code)}}
                          .dump(-1, ' ', false, json::error_handler_t::replace);
    } catch (const std::exception& e) {
      text = json{{"error", std::string("the task threw: ") + e.what()},
                  {"code", static_cast<int>(ErrorCode::kInternal)}}
                 .dump(-1, ' ', false, json::error_handler_t::replace);
    } catch (...) {
      text = R"({"error":"the task threw an unknown exception","code":0})";
    }
    WriteAll(fds[1], text);
    close(fds[1]);
    _exit(0);
  }
  close(fds[1]);
  std::string text;
  bool timed_out = false;
  char buffer[4096];
  for (;;) {
    int wait_ms = -1;
    if (options.timeout_seconds > 0) {
      double left = options.timeout_seconds -
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (left <= 0) {
        timed_out = true;
        break;
      }
      wait_ms = static_cast<int>(left * 1000) + 1;
    }
    pollfd p{fds[0], POLLIN, 0};
    int ready = poll(&p, 1, std::min(wait_ms < 0 ? 1000 : wait_ms, 1000));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) break;      // poll itself failed: treat the child as finished
    if (ready == 0) continue;  // re-checks the deadline
    ssize_t n = read(fds[0], buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the child closed its end: done or dead
    text.append(buffer, static_cast<size_t>(n));
  }
  close(fds[0]);
  if (timed_out) {
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  kill(-pid, SIGKILL);  // whatever the task started and left behind; nothing when none
  if (timed_out) {
    return MakeError(ErrorCode::kUnavailable,
                     "timed out after " + std::to_string(options.timeout_seconds) + " s");
  }
  if (WIFSIGNALED(status)) {
    int signal = WTERMSIG(status);
    return MakeError(ErrorCode::kUnavailable,
                     "crashed (signal " + std::to_string(signal) + ": " + strsignal(signal) + ")");
  }
  if (text.empty()) {
    return MakeError(ErrorCode::kUnavailable,
                     "the task process exited with status " +
                         std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
                         " and no result");
  }
  return SummaryFromJson(text);
}

}  // namespace labloop::simulators
