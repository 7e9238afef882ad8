#pragma once
// Several objectives at once: directions, desirability, constraints, Pareto ranking, hypervolume
// and its expected improvement.
//
// Values are per candidate, one per objective, in the objectives' own units. Everything here works
// in a "higher is better" frame internally (minimized objectives are negated), so callers pass the
// values as measured or predicted and the Direction of each objective.
//   Desirability (Derringer & Suich): each value mapped to [0, 1] between `low` and `high` (a
//     ramp, raised to `shape`), combined by a weighted geometric mean: one bad property sinks a
//     candidate, as chemists expect.
//   Pareto: rank 0 is the non-dominated front, rank 1 the front once rank 0 is removed, ...
//   Hypervolume: the volume dominated by a set of points and bounded by a reference point that is
//     worse than every point of interest; exact (recursive slicing), fine for fronts of a few
//     hundred points in 2-3 objectives.
//   EHVI: the expected hypervolume improvement of a candidate, estimated by averaging the
//     improvement over posterior samples of its values (from ensemble members or normal draws).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "learners/acquisition.h"
#include "learners/property_model.h"

namespace labloop::learners {

struct Objective {
  std::string property;
  Direction direction = Direction::kMinimize;
  double weight = 1;  // in the combined desirability
  // Desirability ramp: the value at which desirability is 0 and the one at which it is 1
  // (worst < best when maximizing, worst > best when minimizing). Unset: the objective takes no
  // part in desirability.
  std::optional<double> worst, best;
  double shape = 1;  // exponent of the ramp: > 1 demands values close to `best`

  Status Validate() const;
};

// A hard constraint: the value must lie within [min, max] (either may be open).
struct Constraint {
  std::string property;
  std::optional<double> min, max;

  // Empty when `value` satisfies it, else "property = value > max" for the decision's reasons.
  std::string Violation(double value) const;
};

// Desirability of one value for an objective with a ramp, in [0, 1].
double Desirability(const Objective& objective, double value);
// Weighted geometric mean of the desirabilities of `values` (one per objective with a ramp).
double CombinedDesirability(const std::vector<Objective>& objectives,
                            const std::vector<double>& values);

// Pareto rank of every point (points[i][k]: objective k of point i).
std::vector<int> ParetoRanks(const std::vector<std::vector<double>>& points,
                             const std::vector<Objective>& objectives);

// The volume dominated by `points` and bounded by `reference` (same units and directions as the
// points). Points not better than the reference in every objective add nothing.
double Hypervolume(const std::vector<std::vector<double>>& points,
                   const std::vector<double>& reference, const std::vector<Objective>& objectives);

// Expected hypervolume improvement of each candidate over `front`, from `samples`:
// samples[s][i][k] is draw s of objective k for candidate i.
std::vector<double> ExpectedHypervolumeImprovement(
    const std::vector<std::vector<double>>& front, const std::vector<double>& reference,
    const std::vector<Objective>& objectives,
    const std::vector<std::vector<std::vector<double>>>& samples);

// Scores for a batch over several objectives, one per candidate, higher is better:
//   "ehvi"          expected hypervolume improvement over `front` (the measured Pareto front)
//   "desirability"  expected combined desirability (every objective needs worst and best)
// `predictions[k]` predicts objective k for every candidate. Each of `samples` draws takes, per
// objective, one ensemble member's means (member s mod M, the same for every candidate, so a draw
// is one function from the posterior) or, for models without members, a normal draw with the
// epistemic σ.
Result<std::vector<double>> ScoreMultiObjective(const std::string& kind,
                                                const std::vector<Predictions>& predictions,
                                                const std::vector<Objective>& objectives,
                                                const std::vector<std::vector<double>>& front,
                                                const std::vector<double>& reference, int samples,
                                                uint64_t seed);

}  // namespace labloop::learners
