#pragma once
// ParallelFor: runs body(i) for i in [0, n) on `threads` worker threads.
//
// Work is handed out one index at a time, so items of very different cost (a 3-atom molecule and a
// 40-atom one) still balance. `threads` <= 0 means one per hardware core. body must be thread-safe.
// If a body throws, the other threads stop taking indices and the first exception is rethrown
// once every thread has stopped.

#include <cstdint>
#include <functional>

namespace labloop {

int DefaultThreadCount();
void ParallelFor(int64_t n, int threads, const std::function<void(int64_t)>& body);

}  // namespace labloop
