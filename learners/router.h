#pragma once
// The router: for each candidate an acquisition function picked, how to evaluate it.
//
//   trust       the model is sure enough (total σ at or below trust_sigma): no evaluation is worth
//               its cost, the prediction stands
//   simulate    a simulation gives the most information per unit cost
//   experiment  ground truth is needed: a simulation of it disagrees with the model, it is a
//               finalist, or an experiment simply gives more information per unit cost
//   reject      it fails a hard constraint
//   none        the evaluation it needs has no budget left: nothing is dispatched for it
//
// Information is the expected entropy reduction of the candidate's experimental value from one
// observation with Gaussian noise σ_e: ½ ln(1 + σ²/σ_e²) nats, divided by the evaluation's cost.
// A simulation's σ_e is how far it typically lies from experiment (its fidelity), so a cheap but
// rough simulation stops paying once the model is already that sure. Pure values in and out:
// the engine stores each decision with its reason.

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace labloop::learners {

enum class Route { kTrust, kSimulate, kExperiment, kReject, kNone };
const char* RouteName(Route route);  // "trust", "simulate", "experiment", "reject", "none"

struct RouterOptions {
  double trust_sigma = 0;      // trust at or below this total σ; 0 never trusts
  double simulation_cost = 1;  // per evaluation, in one unit of the user's choice
  double experiment_cost = 20;
  double simulation_sigma = 0.5;   // typical |simulation - experiment|, property's unit
  double experiment_sigma = 0.1;   // experimental noise, property's unit
  double disagreement_sigmas = 3;  // |simulated - μ| beyond this many σ asks for an experiment
  int finalists = 0;               // the best simulated candidates (by acquisition) to confirm
  int64_t simulations_left = std::numeric_limits<int64_t>::max();  // budgets, in evaluations
  int64_t experiments_left = 0;

  Status Validate() const;
};

struct RouteInput {
  double mean = 0, sigma = 0;            // the model's prediction of the objective
  double acquisition = 0;                // higher is better
  std::optional<double> simulated;       // a simulation result the candidate already has
  std::optional<std::string> violation;  // the hard constraint it fails, if any
};

struct RouteDecision {
  Route route = Route::kNone;
  std::string reason;        // one line a chemist can audit
  double gain_per_cost = 0;  // nats per unit cost of the chosen evaluation (0 if none)
};

// One decision per input. Inputs are taken best acquisition first; each dispatched evaluation
// uses one unit of its budget, so later candidates see what is left.
std::vector<RouteDecision> RouteCandidates(const std::vector<RouteInput>& inputs,
                                           const RouterOptions& options);

}  // namespace labloop::learners
