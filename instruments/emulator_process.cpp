#include "instruments/emulator_process.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace labloop::instruments {

EmulatorProcess::EmulatorProcess(const std::string& program, std::vector<std::string> flags,
                                 const std::string& folder) {
  static std::atomic<int> counter{0};
  const std::string port_file =
      folder + "/emulator-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + ".port";
  flags.insert(flags.begin(), {program, "--port-file", port_file});
  std::vector<char*> argv;  // built before fork: the child may only make async-signal-safe calls
  for (auto& f : flags) argv.push_back(f.data());
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    // The emulator dies with whoever started it, even when that one crashes: an orphan would keep
    // the test's output pipe open, and ctest would wait for it until its timeout.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent died before prctl
    execv(argv[0], argv.data());
    _exit(127);
  }
  for (int i = 0; i < 500 && endpoint_.empty(); ++i) {  // up to 5 s
    std::ifstream in(port_file);
    in >> endpoint_;
    if (endpoint_.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (endpoint_.empty()) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    throw std::runtime_error("labloop-emulator (" + program + ") did not start");
  }
}

EmulatorProcess::~EmulatorProcess() {
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
}

std::string EmulatorProcess::Address() const {
  return endpoint_.front() == '/' ? "serial:" + endpoint_ : "127.0.0.1:" + endpoint_;
}

}  // namespace labloop::instruments
