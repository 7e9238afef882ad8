#include "learners/objectives.h"

#include <algorithm>
#include <cmath>
#include <random>

#include <fmt/format.h>

namespace labloop::learners {

namespace {

double Up(double value, Direction direction) {
  return direction == Direction::kMaximize ? value : -value;
}

using Points = std::vector<std::vector<double>>;

// Points in the "higher is better" frame, keeping only those strictly better than the reference
// in every objective (the others dominate no volume).
Points ToMaximizeFrame(const Points& points, const std::vector<double>& reference,
                       const std::vector<Objective>& objectives, std::vector<double>& ref_up) {
  const size_t k = objectives.size();
  ref_up.resize(k);
  for (size_t j = 0; j < k; ++j) ref_up[j] = Up(reference[j], objectives[j].direction);
  Points out;
  for (const auto& p : points) {
    std::vector<double> q(k);
    bool inside = true;
    for (size_t j = 0; j < k; ++j) {
      q[j] = Up(p[j], objectives[j].direction);
      inside = inside && q[j] > ref_up[j];
    }
    if (inside) out.push_back(std::move(q));
  }
  return out;
}

// Exact hypervolume in the maximize frame over the first `dims` coordinates (recursive slicing
// on the last coordinate; a sort-and-sweep in two dimensions).
double SliceVolume(Points points, const std::vector<double>& ref, size_t dims) {
  if (points.empty()) return 0.0;
  if (dims == 1) {
    double best = ref[0];
    for (const auto& p : points) best = std::max(best, p[0]);
    return best - ref[0];
  }
  const size_t last = dims - 1;
  std::sort(points.begin(), points.end(),
            [last](const auto& a, const auto& b) { return a[last] > b[last]; });
  double volume = 0;
  double widest = ref[0];  // dims == 2: the best first coordinate among points above the slab
  for (size_t i = 0; i < points.size(); ++i) {
    const double lower = i + 1 < points.size() ? points[i + 1][last] : ref[last];
    const double height = points[i][last] - lower;
    if (dims == 2) {
      widest = std::max(widest, points[i][0]);
      if (height > 0) volume += (widest - ref[0]) * height;
    } else if (height > 0) {
      Points above(points.begin(), points.begin() + static_cast<std::ptrdiff_t>(i) + 1);
      volume += SliceVolume(std::move(above), ref, last) * height;
    }
  }
  return volume;
}

}  // namespace

Status Objective::Validate() const {
  auto bad = [&](const std::string& what) {
    return MakeError(ErrorCode::kInvalidArgument, "objective '" + property + "': " + what);
  };
  if (property.empty()) return bad("names no property");
  if (!(weight > 0) || !std::isfinite(weight)) return bad("weight must be positive and finite");
  if (worst.has_value() != best.has_value()) return bad("give both worst and best, or neither");
  if (worst && (!std::isfinite(*worst) || !std::isfinite(*best))) {
    return bad("worst and best must be finite");
  }
  if (worst && !(*worst != *best)) return bad("worst and best must differ");
  if (worst && ((*best > *worst) != (direction == Direction::kMaximize))) {
    return bad(direction == Direction::kMaximize ? "best must be above worst when maximizing"
                                                 : "best must be below worst when minimizing");
  }
  if (!(shape > 0)) return bad("shape must be positive");
  return {};
}

std::string Constraint::Violation(double value) const {
  if (std::isnan(value)) return property + " is not available";
  if (min && value < *min) return fmt::format("{} = {:.4g} < {:.4g}", property, value, *min);
  if (max && value > *max) return fmt::format("{} = {:.4g} > {:.4g}", property, value, *max);
  return {};
}

double Desirability(const Objective& objective, double value) {
  if (!objective.worst || !objective.best) return 1.0;
  double t = (value - *objective.worst) / (*objective.best - *objective.worst);
  return std::pow(std::clamp(t, 0.0, 1.0), objective.shape);
}

double CombinedDesirability(const std::vector<Objective>& objectives,
                            const std::vector<double>& values) {
  double log_sum = 0, weights = 0;
  for (size_t k = 0; k < objectives.size(); ++k) {
    if (!objectives[k].worst) continue;
    double d = Desirability(objectives[k], values[k]);
    if (d <= 0) return 0.0;
    log_sum += objectives[k].weight * std::log(d);
    weights += objectives[k].weight;
  }
  return weights > 0 ? std::exp(log_sum / weights) : 1.0;
}

std::vector<int> ParetoRanks(const Points& points, const std::vector<Objective>& objectives) {
  const size_t n = points.size(), k = objectives.size();
  auto dominates = [&](size_t a, size_t b) {
    bool strictly = false;
    for (size_t j = 0; j < k; ++j) {
      double pa = Up(points[a][j], objectives[j].direction);
      double pb = Up(points[b][j], objectives[j].direction);
      if (pa < pb) return false;
      strictly = strictly || pa > pb;
    }
    return strictly;
  };
  std::vector<int> rank(n, -1);
  size_t ranked = 0;
  for (int level = 0; ranked < n; ++level) {
    std::vector<size_t> front;
    for (size_t i = 0; i < n; ++i) {
      if (rank[i] >= 0) continue;
      bool dominated = false;
      for (size_t j = 0; j < n && !dominated; ++j) {
        dominated = j != i && rank[j] < 0 && dominates(j, i);
      }
      if (!dominated) front.push_back(i);
    }
    for (size_t i : front) rank[i] = level;
    ranked += front.size();
  }
  return rank;
}

double Hypervolume(const Points& points, const std::vector<double>& reference,
                   const std::vector<Objective>& objectives) {
  std::vector<double> ref;
  Points up = ToMaximizeFrame(points, reference, objectives, ref);
  return SliceVolume(std::move(up), ref, objectives.size());
}

std::vector<double> ExpectedHypervolumeImprovement(
    const Points& front, const std::vector<double>& reference,
    const std::vector<Objective>& objectives,
    const std::vector<std::vector<std::vector<double>>>& samples) {
  const double base = Hypervolume(front, reference, objectives);
  const size_t candidates = samples.empty() ? 0 : samples.front().size();
  std::vector<double> ehvi(candidates, 0.0);
  if (samples.empty()) return ehvi;
  Points with = front;
  with.emplace_back();
  for (const auto& draw : samples) {
    for (size_t i = 0; i < candidates; ++i) {
      with.back() = draw[i];
      ehvi[i] += Hypervolume(with, reference, objectives) - base;
    }
  }
  for (double& v : ehvi) v /= static_cast<double>(samples.size());
  return ehvi;
}

Result<std::vector<double>> ScoreMultiObjective(const std::string& kind,
                                                const std::vector<Predictions>& predictions,
                                                const std::vector<Objective>& objectives,
                                                const Points& front,
                                                const std::vector<double>& reference, int samples,
                                                uint64_t seed) {
  const size_t k = objectives.size();
  if (predictions.size() != k || k == 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "multi-objective scoring needs one prediction set per objective");
  }
  if (kind != "ehvi" && kind != "desirability") {
    return MakeError(ErrorCode::kInvalidArgument, "unknown multi-objective acquisition '" + kind +
                                                      "' (known: desirability, ehvi)");
  }
  if (kind == "ehvi" && reference.size() != k) {
    return MakeError(ErrorCode::kInvalidArgument, "ehvi needs a reference point per objective");
  }
  for (const auto& o : objectives) {
    LABLOOP_TRY(o.Validate());
    if (kind == "desirability" && !o.worst) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "desirability needs worst and best for objective '" + o.property + "'");
    }
  }
  const size_t n = predictions.front().size();
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  // draws[s][i][k]
  std::vector<Points> draws(samples, Points(n, std::vector<double>(k)));
  for (int s = 0; s < samples; ++s) {
    for (size_t j = 0; j < k; ++j) {
      const Predictions& p = predictions[j];
      const auto& members = p.member_means;
      for (size_t i = 0; i < n; ++i) {
        draws[s][i][j] = members.empty() ? p.mean[i] + p.sigma_epistemic[i] * normal(rng)
                                         : static_cast<double>(members[s % members.size()][i]);
      }
    }
  }
  if (kind == "ehvi") return ExpectedHypervolumeImprovement(front, reference, objectives, draws);
  std::vector<double> scores(n, 0.0);
  for (const auto& draw : draws) {
    for (size_t i = 0; i < n; ++i) scores[i] += CombinedDesirability(objectives, draw[i]) / samples;
  }
  return scores;
}

}  // namespace labloop::learners
