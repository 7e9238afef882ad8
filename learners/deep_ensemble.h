#pragma once
// DeepEnsemble: M mean-variance MLPs on sparse fingerprints (Lakshminarayanan et al., 2017).
//
// The first layer of every member is an embedding bag over the input's on-bits (weighted by their
// values), so a row costs its number of on-bits, not the fingerprint length: that is what makes a
// million-molecule pool cheap to score. The M members are trained together as one batched network
// (their weights stacked, one batched matmul per layer), each from its own random initialization,
// with a Gaussian negative log-likelihood after a short mean-squared-error warm-up.
// μ is the mean of member means; epistemic σ² their variance; aleatoric σ² the mean of member
// variances. Targets are standardized internally.

#include <memory>

#include "learners/property_model.h"

namespace labloop::learners {

// Fails with kFailedPrecondition when the options name a device this LibTorch cannot use.
Result<std::unique_ptr<PropertyModel>> CreateDeepEnsemble(const ModelOptions& options);

// MC dropout (Gal & Ghahramani, 2016): one mean-variance network of the same shape, trained with
// dropout after each hidden layer and predicting with dropout still on, `mc_samples` times. The
// passes play the members' part: μ is their mean, epistemic σ their spread, and they are the
// draws Thompson sampling takes. Same seed, same draws.
Result<std::unique_ptr<PropertyModel>> CreateMcDropout(const ModelOptions& options);

}  // namespace labloop::learners
