#pragma once
// LibTorch helpers shared by every library that runs torch code (learners/, generators/). Private
// to .cpp files: torch headers stay out of public headers.

#include <torch/torch.h>

#include <cstdint>
#include <mutex>
#include <string>

#include "core/result.h"

namespace labloop {

// "cpu", "cuda", "cuda:N". CUDA asked of a CPU-only LibTorch (Debian's) is a clear error.
Result<torch::Device> ParseDevice(const std::string& name);

// Sets LibTorch's intra-op thread count for a scope (0: one per core), with OpenBLAS on one
// thread (UseSingleThreadedBlas).
class ScopedTorchThreads {
 public:
  explicit ScopedTorchThreads(int threads);
  ~ScopedTorchThreads();

 private:
  int previous_;
};

// Keeps OpenBLAS (Debian LibTorch's BLAS) on one thread, process-wide; a no-op with other BLAS
// libraries. OpenBLAS has a thread pool of its own that LibTorch's thread setting does not reach;
// its idle threads spin after each call and took the cores from labloop's own parallel loops
// (measured on the GP: predictions with σ 1.6x, means alone 1.9x faster without them). Setting
// it back after use wakes the pool again, so it stays at one: the deep ensemble's prediction
// time is the same either way (0.29 s vs 0.31 s for 30,000 molecules).
void UseSingleThreadedBlas();

// LibTorch's default random generator is one per process. SeedTorch seeds it and returns a lock
// on it, to be held until the caller's last draw: a fit on another thread then waits instead of
// drawing from the same stream in between, which would make both depend on timing. Fits and
// samplings on distinct threads therefore take turns; the lock is recursive, so a model that fits
// another inside its own fit (gp_dmpnn) may seed again. Threads started under the lock must not
// seed (they would wait for it); they draw from generators of their own.
[[nodiscard]] std::unique_lock<std::recursive_mutex> SeedTorch(uint64_t seed);

// Runs body, turning LibTorch's exceptions into kInternal errors: none cross a labloop header.
template <typename F>
auto GuardTorch(const std::string& what, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::string message = e.what();
    // LibTorch appends a long C++ backtrace; the first line says what went wrong.
    message = message.substr(0, message.find('\n'));
    return MakeError(ErrorCode::kInternal, what + ": " + message);
  }
}

}  // namespace labloop
