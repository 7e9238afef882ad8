#pragma once
// The `labloop` command line: init, run, status, export, demo, bench.

namespace labloop::cli {

// Returns the process exit code: 0 success, 1 error (printed as "labloop: error: ..."),
// 2 bad usage.
int Main(int argc, char** argv);

}  // namespace labloop::cli
