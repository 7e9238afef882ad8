#include "core/torch/torch_util.h"

#include <dlfcn.h>

#include "core/parallel.h"

namespace labloop {

Result<torch::Device> ParseDevice(const std::string& name) {
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    if (!torch::cuda::is_available()) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "device '" + name +
                           "' requested but this LibTorch has no usable CUDA (Debian's libtorch "
                           "is CPU-only: build with Torch_DIR pointing at a CUDA LibTorch, or "
                           "set device = \"cpu\")");
    }
    torch::Device device(torch::kCPU);
    try {
      device = torch::Device(name);
    } catch (const std::exception&) {
      return MakeError(ErrorCode::kInvalidArgument, "malformed device '" + name + "'");
    }
    const auto count = static_cast<int64_t>(torch::cuda::device_count());
    if (device.has_index() && device.index() >= count) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "device '" + name + "' requested but this machine has " +
                           std::to_string(count) + " CUDA device" + (count == 1 ? "" : "s") +
                           " (cuda:0 to cuda:" + std::to_string(count - 1) + ")");
    }
    return device;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   "unknown device '" + name + "' (allowed: cpu, cuda, cuda:N)");
}

namespace {
// OpenBLAS's thread-count functions, looked up at run time: present when OpenBLAS is the BLAS
// LibTorch loaded, absent (null) with any other.
using SetThreads = void (*)(int);
using GetThreads = int (*)();
SetThreads OpenBlasSet() {
  static auto f = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  return f;
}
GetThreads OpenBlasGet() {
  static auto f = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  return f;
}
}  // namespace

void UseSingleThreadedBlas() {
  if (OpenBlasSet() != nullptr && OpenBlasGet() != nullptr && OpenBlasGet()() != 1) {
    OpenBlasSet()(1);
  }
}

ScopedTorchThreads::ScopedTorchThreads(int threads) : previous_(torch::get_num_threads()) {
  UseSingleThreadedBlas();
  // OMP_NUM_THREADS=1 (set for xtb) would otherwise leave LibTorch on one core.
  torch::set_num_threads(threads > 0 ? threads : DefaultThreadCount());
}

ScopedTorchThreads::~ScopedTorchThreads() { torch::set_num_threads(previous_); }

std::unique_lock<std::recursive_mutex> SeedTorch(uint64_t seed) {
  static std::recursive_mutex mutex;
  std::unique_lock<std::recursive_mutex> lock(mutex);
  torch::manual_seed(seed);
  return lock;
}

}  // namespace labloop
