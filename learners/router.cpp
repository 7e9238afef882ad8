#include "learners/router.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

namespace labloop::learners {

namespace {

// Expected entropy reduction (nats) of N(μ, σ²) from one observation with noise σ_e.
double Information(double sigma, double noise) {
  return 0.5 * std::log1p((sigma * sigma) / (noise * noise));
}

}  // namespace

const char* RouteName(Route route) {
  switch (route) {
    case Route::kTrust:
      return "trust";
    case Route::kSimulate:
      return "simulate";
    case Route::kExperiment:
      return "experiment";
    case Route::kReject:
      return "reject";
    case Route::kNone:
      return "none";
  }
  return "none";
}

Status RouterOptions::Validate() const {
  auto bad = [](const std::string& what) {
    return MakeError(ErrorCode::kInvalidArgument, "router option " + what);
  };
  if (!(trust_sigma >= 0)) return bad("trust_sigma must not be negative");
  if (!(simulation_cost > 0) || !(experiment_cost > 0)) return bad("costs must be positive");
  if (!(simulation_sigma > 0) || !(experiment_sigma > 0)) {
    return bad("simulation_sigma and experiment_sigma must be positive");
  }
  if (!(disagreement_sigmas > 0)) return bad("disagreement_sigmas must be positive");
  if (finalists < 0) return bad("finalists must not be negative");
  if (simulations_left < 0 || experiments_left < 0) return bad("budgets must not be negative");
  return {};
}

std::vector<RouteDecision> RouteCandidates(const std::vector<RouteInput>& inputs,
                                           const RouterOptions& options) {
  std::vector<size_t> order(inputs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return inputs[a].acquisition > inputs[b].acquisition;
  });
  int64_t simulations = options.simulations_left, experiments = options.experiments_left;
  int finalists_seen = 0;
  std::vector<RouteDecision> out(inputs.size());
  for (size_t i : order) {
    const RouteInput& c = inputs[i];
    RouteDecision& d = out[i];
    if (c.violation) {
      d.route = Route::kReject;
      d.reason = "fails a constraint: " + *c.violation;
      continue;
    }
    const double experiment_gain =
        Information(c.sigma, options.experiment_sigma) / options.experiment_cost;
    auto experiment = [&](const std::string& why) {
      if (experiments > 0) {
        --experiments;
        d.route = Route::kExperiment;
        d.reason = why;
        d.gain_per_cost = experiment_gain;
      } else {
        d.route = Route::kNone;
        d.reason = why + ", but no experiment budget is left";
      }
    };
    if (c.simulated) {
      // The simulation's own spread and the model's add up when they are compared.
      const double spread = std::hypot(c.sigma, options.simulation_sigma);
      const double gap = std::abs(*c.simulated - c.mean);
      if (gap > options.disagreement_sigmas * spread) {
        experiment(
            fmt::format("simulation ({:.4g}) and model ({:.4g} ± {:.2g}) disagree by "
                        "{:.1f} σ",
                        *c.simulated, c.mean, c.sigma, gap / spread));
        continue;
      }
      if (finalists_seen < options.finalists) {
        ++finalists_seen;
        experiment(fmt::format("finalist {} of {}: confirm by experiment", finalists_seen,
                               options.finalists));
        continue;
      }
    }
    if (options.trust_sigma > 0 && c.sigma <= options.trust_sigma) {
      d.route = Route::kTrust;
      d.reason = fmt::format("model is sure: σ {:.3g} <= trust_sigma {:.3g}", c.sigma,
                             options.trust_sigma);
      continue;
    }
    // The evaluation with the most information per unit cost, among those with budget.
    const double simulation_gain =
        c.simulated ? 0.0
                    : Information(c.sigma, options.simulation_sigma) / options.simulation_cost;
    const bool can_simulate = !c.simulated && simulations > 0;
    const bool can_experiment = experiments > 0;
    if (can_simulate && (!can_experiment || simulation_gain >= experiment_gain)) {
      --simulations;
      d.route = Route::kSimulate;
      d.gain_per_cost = simulation_gain;
      d.reason = fmt::format("simulation: {:.3g} nats per unit cost (experiment: {:.3g})",
                             simulation_gain, experiment_gain);
    } else if (can_experiment) {
      --experiments;
      d.route = Route::kExperiment;
      d.gain_per_cost = experiment_gain;
      d.reason = fmt::format(
          "experiment: {:.3g} nats per unit cost (simulation: {})", experiment_gain,
          c.simulated ? std::string("already done") : fmt::format("{:.3g}", simulation_gain));
    } else {
      d.route = Route::kNone;
      d.reason = c.simulated ? "already simulated and no experiment budget is left"
                             : "no simulation or experiment budget is left";
    }
  }
  return out;
}

}  // namespace labloop::learners
