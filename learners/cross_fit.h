#pragma once
// Cross-fitted predictions: each training row predicted by a model that never saw it.
//
// The rows are dealt into `folds` parts (shuffled by `seed`); for each part a fresh model of the
// same kind and options is fitted on the other parts and predicts that part. The result, in
// training order, is what a calibrator can be fitted on without holding data out of the final
// model: about as many (σ, residual) pairs as there are training rows, instead of the tenth that a
// validation split gives. The part models trained on (k − 1)/k of the rows, so their errors
// and σ are a little larger than the final model's; `model train` pools the pairs with its
// validation split's, a campaign (which holds none out) uses them alone.
//
// Cost: `folds` extra fits. Models with exact leave-one-out predictions (the GP) need none:
// callers try PropertyModel::LeaveOneOut first.

#include <cstdint>
#include <functional>
#include <vector>

#include "core/chem/graph.h"
#include "core/result.h"
#include "learners/property_model.h"
#include "learners/sparse_matrix.h"

namespace labloop::learners {

constexpr int kMinFolds = 2, kMaxFolds = 20;
// A calibration_folds setting (model train, bench, campaigns): 0 (none) or kMinFolds..kMaxFolds.
inline bool ValidCalibrationFolds(int folds) {
  return folds == 0 || (folds >= kMinFolds && folds <= kMaxFolds);
}

struct CrossFitOptions {
  int folds = 5;      // 2 to 20, and at most one per row (folds = rows: leave-one-out refits)
  uint64_t seed = 0;  // deals the rows into parts; the part models get ModelOptions' own seed
  // Called after each part with (parts done, parts); may be empty.
  std::function<void(int, int)> progress;
};

// `graphs`: one per row of `x` for models that read graphs, else empty. Errors: the options out
// of range (kInvalidArgument), or the first part model's fit or prediction error, naming the part.
Result<Predictions> CrossFitPredictions(const ModelRegistry& registry, const ModelOptions& model,
                                        const SparseMatrix& x,
                                        const std::vector<chem::MolGraph>& graphs,
                                        const std::vector<double>& y,
                                        const CrossFitOptions& options = {});

// The training rows of `fitted` (fitted on exactly `x`, `graphs`, `y`) predicted out of sample:
// its exact leave-one-out predictions where it has them (no fit), else CrossFitPredictions with
// `options` (options.folds = 0: none; the answer is then kFailedPrecondition). `leave_one_out`,
// when given, says which it was. An error of the model's own leave-one-out is returned as is.
Result<Predictions> OutOfSamplePredictions(
    const PropertyModel& fitted, const ModelRegistry& registry, const ModelOptions& model,
    const SparseMatrix& x, const std::vector<chem::MolGraph>& graphs, const std::vector<double>& y,
    const CrossFitOptions& options, bool* leave_one_out = nullptr);

}  // namespace labloop::learners
