#pragma once
// A labloop-emulator child process: started with the given flags, its address read from its port
// file, killed (SIGKILL) when the object goes away. For tests and `labloop bench instruments`.

#include <sys/types.h>

#include <string>
#include <vector>

namespace labloop::instruments {

class EmulatorProcess {
 public:
  // `program` is the labloop-emulator binary; the port file goes into `folder`. Throws
  // std::runtime_error when the emulator does not come up within 5 s.
  EmulatorProcess(const std::string& program, std::vector<std::string> flags,
                  const std::string& folder);
  ~EmulatorProcess();
  EmulatorProcess(const EmulatorProcess&) = delete;
  EmulatorProcess& operator=(const EmulatorProcess&) = delete;

  // "127.0.0.1:PORT" for TCP and HTTP, "serial:/dev/pts/N" for --serial.
  std::string Address() const;

 private:
  pid_t pid_ = -1;
  std::string endpoint_;
};

}  // namespace labloop::instruments
