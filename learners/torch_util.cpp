#include "learners/torch_util.h"

#include <algorithm>
#include <cmath>

namespace labloop::learners {

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
