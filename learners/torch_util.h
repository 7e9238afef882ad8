#pragma once
// Private to learners/: LibTorch helpers shared by the torch models.

#include <torch/torch.h>

#include <string>

#include "core/result.h"
#include "core/torch/torch_util.h"
#include "learners/property_model.h"
#include "learners/sparse_matrix.h"

namespace labloop::learners {

// The LibTorch helpers every torch user shares (core/torch).
using labloop::GuardTorch;
using labloop::ParseDevice;
using labloop::ScopedTorchThreads;
using labloop::UseSingleThreadedBlas;

// Rows [start, start + count) of a CSR matrix as embedding-bag inputs on `device`.
struct CsrTensors {
  torch::Tensor indices, offsets, weights;
};
CsrTensors ToTensors(const SparseMatrix& x, int64_t start, int64_t count, torch::Device device);

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

}  // namespace labloop::learners
