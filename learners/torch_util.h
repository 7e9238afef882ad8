#pragma once
// Private to learners/: LibTorch helpers shared by the torch models.

#include <torch/torch.h>

#include <string>

#include "core/result.h"
#include "learners/property_model.h"
#include "learners/sparse_matrix.h"

namespace labloop::learners {

// "cpu", "cuda", "cuda:N". CUDA asked of a CPU-only LibTorch (Debian's) is a clear error.
Result<torch::Device> ParseDevice(const std::string& name);

// Rows [start, start + count) of a CSR matrix as embedding-bag inputs on `device`.
struct CsrTensors {
  torch::Tensor indices, offsets, weights;
};
CsrTensors ToTensors(const SparseMatrix& x, int64_t start, int64_t count, torch::Device device);

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

// The mean-variance networks' loss, in standardized units: mean squared error during the warm-up,
// then the Gaussian negative log-likelihood with variance softplus(raw_variance) + 1e-6.
torch::Tensor MeanVarianceLoss(const torch::Tensor& mu, const torch::Tensor& raw_variance,
                               const torch::Tensor& target, bool warmup);

// Rows [start, start + n) of `p` from the members' outputs `out` [members, n, 2] (mean, raw
// variance; standardized units): μ the members' mean, epistemic σ their spread, aleatoric σ their
// mean variance, and each member's means for Thompson sampling. A non-finite value is an error
// naming the row and `kind`.
Status FillEnsemblePredictions(const torch::Tensor& out, double y_mean, double y_std, int64_t start,
                               const std::string& kind, Predictions& p);

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

}  // namespace labloop::learners
