#pragma once
// A labloop-emulator child process for the instrument tests: started with the given flags, its
// address read from its port file, killed (SIGKILL) when the object goes away.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/temp_dir.h"

namespace labloop::testing {

class EmulatorProcess {
 public:
  explicit EmulatorProcess(std::vector<std::string> flags) {
    const std::string port_file = dir_.File("port");
    flags.insert(flags.begin(), {LABLOOP_EMULATOR, "--port-file", port_file});
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& f : flags) argv.push_back(f.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    for (int i = 0; i < 500; ++i) {  // up to 5 s
      std::ifstream in(port_file);
      if (in >> endpoint_) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (endpoint_.empty()) throw std::runtime_error("labloop-emulator did not start");
  }
  ~EmulatorProcess() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  // "127.0.0.1:PORT" for TCP and HTTP, the pty's path for --serial.
  std::string Address() const {
    return endpoint_.front() == '/' ? "serial:" + endpoint_ : "127.0.0.1:" + endpoint_;
  }

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  std::string endpoint_;
};

}  // namespace labloop::testing
