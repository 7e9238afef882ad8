#pragma once
// Runs an external program (a user's script, Vina, Open Babel) with text on its standard input,
// collects its standard output and error, and kills it (and everything it started) after a
// timeout. Safe to call from several threads at once: the child only calls async-signal-safe
// functions between fork and exec.

#include <string>
#include <vector>

#include "core/result.h"

namespace labloop::simulators {

struct ProcessOptions {
  std::string input;              // written to the program's stdin, which is then closed
  double timeout_seconds = 600;   // <= 0: no limit
  std::string working_directory;  // empty: the caller's
};

struct ProcessOutput {
  int exit_code = 0;  // valid when signal == 0
  int signal = 0;     // the signal that ended it, if one did
  std::string out, err;
  double seconds = 0;
};

// Fails (kNotFound) when the program cannot be found or started, and (kUnavailable) with "timed
// out after N s" when it ran too long; a program that ran and exited, successfully or not, is a
// ProcessOutput.
Result<ProcessOutput> RunProcess(const std::vector<std::string>& argv,
                                 const ProcessOptions& options);

// The program's path: `name` itself when it has a '/', else the first executable on PATH.
Result<std::string> FindProgram(const std::string& name);

// A private temporary folder under $TMPDIR (or /tmp), removed with everything in it when the
// object goes; path() is empty when it could not be created.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix = "labloop");
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A (small) file's whole text; empty when it cannot be read.
std::string ReadTextFile(const std::string& path);

// A short description for error messages: "exit code 2: <last line of stderr>".
std::string DescribeFailure(const ProcessOutput& output);

}  // namespace labloop::simulators
