#pragma once
// Crash injection for the crash-safety tests: LABLOOP_CRASH_AT="point:N" makes the process kill
// itself with SIGKILL the N-th time it reaches `point` (train, dispatch, evaluate, ingest).
// Unset (always, outside tests) it costs one getenv at first use.

#include <string>

namespace labloop::engine {

void CrashPoint(const std::string& point);

}  // namespace labloop::engine
