#include "learners/torch_util.h"

#include <dlfcn.h>

#include "core/parallel.h"

namespace labloop::learners {

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
    try {
      return torch::Device(name);
    } catch (const std::exception&) {
      return MakeError(ErrorCode::kInvalidArgument, "malformed device '" + name + "'");
    }
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   "unknown device '" + name + "' (allowed: cpu, cuda, cuda:N)");
}

CsrTensors ToTensors(const SparseMatrix& x, int64_t start, int64_t count, torch::Device device) {
  const int64_t begin = x.offsets[start];
  const int64_t end = x.offsets[start + count];
  auto long_opts = torch::TensorOptions().dtype(torch::kInt64);
  CsrTensors t;
  t.indices =
      torch::from_blob(const_cast<int64_t*>(x.indices.data()) + begin, {end - begin}, long_opts)
          .to(device, /*non_blocking=*/false, /*copy=*/true);
  t.offsets = torch::from_blob(const_cast<int64_t*>(x.offsets.data()) + start, {count}, long_opts)
                  .to(device, false, true) -
              begin;
  t.weights =
      torch::from_blob(const_cast<float*>(x.values.data()) + begin, {end - begin}, torch::kFloat32)
          .to(device, false, true);
  return t;
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

}  // namespace labloop::learners
