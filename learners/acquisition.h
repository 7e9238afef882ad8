#pragma once
// Acquisition functions: how much a candidate is worth evaluating next, from its prediction.
//
// Scores are "higher is better" whatever the objective's direction, so batch selection is always
// a top-k. Built-ins: greedy (the predicted value itself), ucb (optimism: value + β σ), random.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/registry.h"
#include "learners/property_model.h"

namespace labloop::learners {

enum class Direction { kMinimize, kMaximize };

struct AcquisitionOptions {
  std::string kind = "ucb";
  double beta = 2.0;  // ucb: how many σ of optimism
  uint64_t seed = 0;  // random: same seed, same scores

  Status Validate() const;
};

class Acquisition {
 public:
  virtual ~Acquisition() = default;
  virtual std::string Kind() const = 0;
  // One score per prediction; `best` is the best value measured so far (unused by these three).
  virtual std::vector<double> Score(const Predictions& predictions, Direction direction,
                                    double best) const = 0;
};

using AcquisitionRegistry = Registry<Acquisition, const AcquisitionOptions&>;

void RegisterBuiltinAcquisitions(AcquisitionRegistry& registry);

// Indices of the k highest scores, best first; ties go to the lower index. k is capped at size.
std::vector<int64_t> SelectTopK(const std::vector<double>& scores, int64_t k);

}  // namespace labloop::learners
