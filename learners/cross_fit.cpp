#include "learners/cross_fit.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <string>

namespace labloop::learners {

Result<Predictions> CrossFitPredictions(const ModelRegistry& registry, const ModelOptions& model,
                                        const SparseMatrix& x,
                                        const std::vector<chem::MolGraph>& graphs,
                                        const std::vector<double>& y,
                                        const CrossFitOptions& options) {
  const int64_t n = x.Rows();
  if (options.folds < kMinFolds || options.folds > kMaxFolds) {
    return MakeError(ErrorCode::kInvalidArgument, "cross-fitting needs 2 to 20 folds");
  }
  if (static_cast<int64_t>(y.size()) != n) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "cross-fitting needs one target per row: " + std::to_string(y.size()) +
                         " targets for " + std::to_string(n) + " rows");
  }
  // Every part holds a row, and every part model trains on at least 2.
  const int64_t largest_part = (n + options.folds - 1) / options.folds;
  if (n < options.folds || n - largest_part < 2) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::to_string(n) + " rows are too few for " + std::to_string(options.folds) +
                         "-fold cross-fitting: every part needs a row and every part model 2 "
                         "training rows");
  }
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(options.seed);
  std::shuffle(order.begin(), order.end(), rng);

  Predictions out;
  out.mean.assign(n, 0);
  out.sigma_epistemic.assign(n, 0);
  out.sigma_aleatoric.assign(n, 0);
  for (int fold = 0; fold < options.folds; ++fold) {
    const int64_t lo = n * fold / options.folds, hi = n * (fold + 1) / options.folds;
    std::vector<int64_t> held(order.begin() + lo, order.begin() + hi);
    std::vector<int64_t> kept(order.begin(), order.begin() + lo);
    kept.insert(kept.end(), order.begin() + hi, order.end());
    // Sorted rows keep each part's training order the data's, as a fit on all rows sees it.
    std::sort(held.begin(), held.end());
    std::sort(kept.begin(), kept.end());
    const std::string part =
        "cross-fit part " + std::to_string(fold + 1) + " of " + std::to_string(options.folds);
    auto fitted = registry.Create(model.kind, model);
    if (!fitted) return tl::unexpected(fitted.error());
    std::vector<double> y_kept;
    y_kept.reserve(kept.size());
    for (int64_t row : kept) y_kept.push_back(y[row]);
    auto fit = FitOn(**fitted, x.Select(kept), SelectGraphs(graphs, kept), y_kept);
    if (!fit) return MakeError(fit.error().code, part + ": " + fit.error().message);
    auto p = PredictOn(**fitted, x.Select(held), SelectGraphs(graphs, held));
    if (!p) return MakeError(p.error().code, part + ": " + p.error().message);
    for (size_t i = 0; i < held.size(); ++i) {
      out.mean[held[i]] = p->mean[i];
      out.sigma_epistemic[held[i]] = p->sigma_epistemic[i];
      out.sigma_aleatoric[held[i]] = p->sigma_aleatoric[i];
    }
    if (options.progress) options.progress(fold + 1, options.folds);
  }
  return out;
}

Result<Predictions> OutOfSamplePredictions(const PropertyModel& fitted,
                                           const ModelRegistry& registry, const ModelOptions& model,
                                           const SparseMatrix& x,
                                           const std::vector<chem::MolGraph>& graphs,
                                           const std::vector<double>& y,
                                           const CrossFitOptions& options, bool* leave_one_out) {
  auto loo = fitted.LeaveOneOut();
  if (leave_one_out != nullptr) *leave_one_out = static_cast<bool>(loo);
  if (loo || loo.error().code != ErrorCode::kFailedPrecondition || options.folds == 0) return loo;
  return CrossFitPredictions(registry, model, x, graphs, y, options);
}

}  // namespace labloop::learners
