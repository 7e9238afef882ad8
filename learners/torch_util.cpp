#include "learners/torch_util.h"

#include <algorithm>
#include <cmath>

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

torch::Tensor MeanVarianceLoss(const torch::Tensor& mu, const torch::Tensor& raw_variance,
                               const torch::Tensor& target, bool warmup) {
  if (warmup) return (mu - target).pow(2).mean();
  auto variance = torch::nn::functional::softplus(raw_variance) + 1e-6;
  return 0.5 * (torch::log(variance) + (mu - target).pow(2) / variance).mean();
}

Status FillEnsemblePredictions(const torch::Tensor& out, double y_mean, double y_std, int64_t start,
                               const std::string& kind, Predictions& p) {
  const int64_t members = out.size(0), n = out.size(1);
  auto mu = out.select(2, 0);
  auto variance = torch::nn::functional::softplus(out.select(2, 1)) + 1e-6;
  auto mean = mu.mean(0).to(torch::kCPU).to(torch::kFloat64).contiguous();
  auto epistemic = mu.var(0, /*unbiased=*/false).to(torch::kCPU).to(torch::kFloat64).contiguous();
  auto aleatoric = variance.mean(0).to(torch::kCPU).to(torch::kFloat64).contiguous();
  auto member = (mu * y_std + y_mean).to(torch::kCPU).contiguous();
  for (int64_t k = 0; k < members; ++k) {
    const float* v = member[k].data_ptr<float>();
    std::copy(v, v + n, p.member_means[k].begin() + start);
  }
  const double* m = mean.data_ptr<double>();
  const double* e = epistemic.data_ptr<double>();
  const double* a = aleatoric.data_ptr<double>();
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(m[i]) || !std::isfinite(e[i]) || !std::isfinite(a[i])) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       kind + " predicted a non-finite value for row " + std::to_string(start + i) +
                           "; retrain with a lower learning rate");
    }
    p.mean[start + i] = m[i] * y_std + y_mean;
    p.sigma_epistemic[start + i] = std::sqrt(e[i]) * y_std;
    p.sigma_aleatoric[start + i] = std::sqrt(a[i]) * y_std;
  }
  return {};
}

}  // namespace labloop::learners
