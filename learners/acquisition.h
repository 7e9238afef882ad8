#pragma once
// Acquisition functions: how much a candidate is worth evaluating next, from its prediction.
//
// Scores are "higher is better" whatever the objective's direction, so batch selection is always
// a top-k (or a diversity-aware pick, see batch.h). Built-ins, with σ the total predicted σ:
//   greedy     the predicted value itself
//   ucb        optimism: value + β σ
//   ei         expected improvement over the best value measured so far, less a margin ξ
//   pi         probability of improving on the best value measured so far by more than ξ
//   thompson   one draw per candidate from the model's posterior: a random ensemble member's
//              mean when the model gives them, else a normal draw with the epistemic σ
//   threshold  probability that the value beats `threshold` (below it when minimizing)
//   random     uniform scores, the baseline
// EI, PI and threshold keep full relative precision in their tails (to z ≈ -38, where they
// underflow to 0), so even candidates far from improving stay in order.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/registry.h"
#include "learners/property_model.h"

namespace labloop::learners {

enum class Direction { kMinimize, kMaximize };

struct AcquisitionOptions {
  std::string kind = "ucb";
  double beta = 2.0;                // ucb: how many σ of optimism
  double xi = 0.0;                  // ei, pi: improvement margin, in the property's unit
  std::optional<double> threshold;  // threshold: the value to beat (required by that kind)
  uint64_t seed = 0;                // random, thompson: same seed, same scores

  Status Validate() const;
};

class Acquisition {
 public:
  virtual ~Acquisition() = default;
  virtual std::string Kind() const = 0;
  // One score per prediction; `best` is the best value measured so far (used by ei and pi; pass
  // ±infinity, the worst value for the direction, when nothing is measured yet).
  virtual std::vector<double> Score(const Predictions& predictions, Direction direction,
                                    double best) const = 0;
};

using AcquisitionRegistry = Registry<Acquisition, const AcquisitionOptions&>;

void RegisterBuiltinAcquisitions(AcquisitionRegistry& registry);

// The names RegisterBuiltinAcquisitions registers, for config validation and help texts.
std::vector<std::string> BuiltinAcquisitionNames();

// Indices of the k highest scores, best first; ties go to the lower index. k is capped at size.
std::vector<int64_t> SelectTopK(const std::vector<double>& scores, int64_t k);

}  // namespace labloop::learners
