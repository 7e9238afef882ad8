#pragma once
// GpDmpnn: the Tanimoto Gaussian process (on the fingerprint rows, with any descriptors beside
// them) and the D-MPNN ensemble (on the molecular graphs) as one model, weighted equally.
//
// The two see a molecule differently (substructure counts against learned graph features), so
// where they disagree the prediction is less sure. Their predictions are combined as an equal
// mixture of two normal distributions:
//   μ = (μ_gp + μ_mpnn) / 2
//   σ²_epistemic = (σ²_e,gp + σ²_e,mpnn) / 2 + ((μ_gp − μ_mpnn) / 2)²   (the disagreement term)
//   σ²_aleatoric = (σ²_a,gp + σ²_a,mpnn) / 2
// so the total σ² is the mixture's variance. On ESOL's random splits it is more accurate than
// either model and ranks its errors by σ better (docs/benchmarks.md). Reads graphs and
// fingerprints (ReadsGraphs); both parts take the same ModelOptions, except that the GP always
// runs on the CPU (the D-MPNN on `device`).

#include <memory>

#include "learners/property_model.h"

namespace labloop::learners {

// Fails as CreateTanimotoGp or CreateDmpnn would.
Result<std::unique_ptr<PropertyModel>> CreateGpDmpnn(const ModelOptions& options);

// The equal mixture of two models' predictions (same rows), as above. Member means are left
// empty: the two parts' spreads are not draws of one ensemble.
Result<Predictions> MixPredictions(const Predictions& a, const Predictions& b);

}  // namespace labloop::learners
