#pragma once
// TanimotoGp: an exact Gaussian process on sparse count fingerprints with the MinMax (Tanimoto)
// kernel, k(a, b) = Σ min(a_i, b_i) / Σ max(a_i, b_i), for small training sets (up to a few
// thousand points; the fit costs one n³ eigendecomposition).
//
// Prior: y = μ + f + ε, f ~ GP(0, s² k), ε ~ N(0, σn²); μ is the training mean. With the
// eigendecomposition K = U Λ Uᵀ, the log marginal likelihood of every noise ratio r = σn²/s² costs
// O(n), and s² has a closed form for each r, so the hyperparameters are the exact maximum of the
// likelihood over r (golden-section search on log r). Predict gives the posterior mean, the
// epistemic σ of f and the aleatoric σn; PredictMean skips the n² work per row that σ costs.
// Prediction streams the pool in chunks, so a million-row pool needs no pool × n matrix.

#include <memory>

#include "learners/property_model.h"

namespace labloop::learners {

Result<std::unique_ptr<PropertyModel>> CreateTanimotoGp(const ModelOptions& options);

}  // namespace labloop::learners
