#include "simulators/external_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

namespace labloop::simulators {

Result<std::string> FindProgram(const std::string& name) {
  if (name.empty()) return MakeError(ErrorCode::kInvalidArgument, "no program given");
  auto executable = [](const std::string& path) { return access(path.c_str(), X_OK) == 0; };
  if (name.find('/') != std::string::npos) {
    if (executable(name)) return name;
    return MakeError(ErrorCode::kNotFound, "program '" + name + "' does not exist or cannot run");
  }
  const char* path = std::getenv("PATH");
  std::istringstream folders(path != nullptr ? path : "/usr/bin:/bin");
  std::string folder;
  while (std::getline(folders, folder, ':')) {
    std::string candidate = (folder.empty() ? "." : folder) + "/" + name;
    if (executable(candidate)) return candidate;
  }
  return MakeError(ErrorCode::kNotFound, "program '" + name + "' is not on PATH");
}

ScratchDir::ScratchDir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp ? tmp : "/tmp") + "/" + prefix + "-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (mkdtemp(buffer.data()) != nullptr) path_ = buffer.data();
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
}

std::string ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string DescribeFailure(const ProcessOutput& output) {
  std::string what = output.signal != 0 ? "killed by signal " + std::to_string(output.signal) +
                                              " (" + strsignal(output.signal) + ")"
                                        : "exit code " + std::to_string(output.exit_code);
  std::string tail = output.err.empty() ? output.out : output.err;
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
  auto newline = tail.rfind('\n');
  if (newline != std::string::npos) tail = tail.substr(newline + 1);
  if (tail.size() > 300) tail = tail.substr(tail.size() - 300);
  return tail.empty() ? what : what + ": " + tail;
}

namespace {

struct Pipe {
  int fd[2] = {-1, -1};
  bool Open() { return pipe2(fd, O_CLOEXEC) == 0; }
  void Close(int end) {
    if (fd[end] >= 0) close(fd[end]);
    fd[end] = -1;
  }
  ~Pipe() {
    Close(0);
    Close(1);
  }
};

}  // namespace

Result<ProcessOutput> RunProcess(const std::vector<std::string>& argv,
                                 const ProcessOptions& options) {
  // A program that exits before reading its input would make our write raise SIGPIPE, which
  // ends the process by default: labloop ignores it and reads EPIPE instead.
  static std::once_flag ignore_sigpipe;
  std::call_once(ignore_sigpipe, [] { signal(SIGPIPE, SIG_IGN); });
  if (argv.empty()) return MakeError(ErrorCode::kInvalidArgument, "no program given");
  auto program = FindProgram(argv[0]);
  if (!program) return tl::unexpected(program.error());
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  Pipe in, out, err, exec_error;
  if (!in.Open() || !out.Open() || !err.Open() || !exec_error.Open()) {
    return MakeError(ErrorCode::kInternal, std::string("cannot create pipes: ") + strerror(errno));
  }
  auto start = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid < 0) return MakeError(ErrorCode::kInternal, std::string("fork: ") + strerror(errno));
  if (pid == 0) {
    signal(SIGPIPE, SIG_DFL);          // programs expect the default
    setpgid(0, 0);                     // its own group: a timeout kills what it started too
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // and it dies with labloop
    dup2(in.fd[0], 0);
    dup2(out.fd[1], 1);
    dup2(err.fd[1], 2);
    if (!options.working_directory.empty() && chdir(options.working_directory.c_str()) != 0) {
      int e = errno;
      (void)!write(exec_error.fd[1], &e, sizeof(e));
      _exit(127);
    }
    execv(program->c_str(), args.data());
    int e = errno;
    (void)!write(exec_error.fd[1], &e, sizeof(e));
    _exit(127);
  }
  in.Close(0);
  out.Close(1);
  err.Close(1);
  exec_error.Close(1);
  int child_errno = 0;
  if (read(exec_error.fd[0], &child_errno, sizeof(child_errno)) == sizeof(child_errno)) {
    waitpid(pid, nullptr, 0);
    return MakeError(
        ErrorCode::kNotFound,
        "cannot run '" + *program + "'" +
            (options.working_directory.empty() ? "" : " in '" + options.working_directory + "'") +
            ": " + strerror(child_errno));
  }
  fcntl(in.fd[1], F_SETFL, O_NONBLOCK);
  fcntl(out.fd[0], F_SETFL, O_NONBLOCK);
  fcntl(err.fd[0], F_SETFL, O_NONBLOCK);
  ProcessOutput result;
  size_t written = 0;
  if (options.input.empty()) in.Close(1);
  bool timed_out = false, exited = false;
  int status = 0;
  char buffer[65536];
  // Reads what is there now from stdout and stderr; closes a pipe at its end.
  auto drain = [&] {
    for (Pipe* p : {&out, &err}) {
      while (p->fd[0] >= 0) {
        ssize_t k = read(p->fd[0], buffer, sizeof(buffer));
        if (k > 0) {
          (p == &out ? result.out : result.err).append(buffer, static_cast<size_t>(k));
        } else if (k == 0 || errno != EAGAIN) {
          p->Close(0);
        } else {
          break;
        }
      }
    }
  };
  // Until the program exits (its output read as it comes) or the time is up. A program whose
  // children keep its pipes open, or that closed them itself, ends the wait when it exits.
  while (!exited) {
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (options.timeout_seconds > 0 && elapsed >= options.timeout_seconds) {
      timed_out = true;
      break;
    }
    pollfd fds[3];
    int n = 0;
    if (out.fd[0] >= 0) fds[n++] = {out.fd[0], POLLIN, 0};
    if (err.fd[0] >= 0) fds[n++] = {err.fd[0], POLLIN, 0};
    if (in.fd[1] >= 0) fds[n++] = {in.fd[1], POLLOUT, 0};
    int wait_ms = n > 0 ? 200 : 20;
    if (options.timeout_seconds > 0) {
      wait_ms = std::max(
          1, std::min(wait_ms, static_cast<int>((options.timeout_seconds - elapsed) * 1000)));
    }
    if (n > 0) {
      if (poll(fds, n, wait_ms) < 0 && errno != EINTR) break;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
    }
    if (in.fd[1] >= 0) {
      ssize_t k = write(in.fd[1], options.input.data() + written, options.input.size() - written);
      if (k > 0) written += static_cast<size_t>(k);
      // EPIPE (SIGPIPE is ignored, above): the program closed its stdin, fine.
      if ((k < 0 && errno != EAGAIN) || written == options.input.size()) in.Close(1);
    }
    drain();
    exited = waitpid(pid, &status, WNOHANG) == pid;
  }
  if (exited) drain();  // what it wrote just before exiting
  kill(-pid, SIGKILL);  // on a timeout, the program; always, anything it left in its group
  if (!exited) waitpid(pid, &status, 0);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (timed_out) {
    std::ostringstream message;
    message << "'" << argv[0] << "' timed out after " << options.timeout_seconds << " s";
    return MakeError(ErrorCode::kUnavailable, message.str());
  }
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

}  // namespace labloop::simulators
