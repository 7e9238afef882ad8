#include <catch2/catch.hpp>

#include <cmath>

#include "learners/router.h"

using namespace labloop::learners;

namespace {
RouteInput Candidate(double mean, double sigma, double acquisition,
                     std::optional<double> simulated = std::nullopt) {
  RouteInput c;
  c.mean = mean;
  c.sigma = sigma;
  c.acquisition = acquisition;
  c.simulated = simulated;
  return c;
}
}  // namespace

TEST_CASE("A confident model is trusted - an unsure one is evaluated") {
  RouterOptions options;
  options.trust_sigma = 0.2;
  auto d = RouteCandidates({Candidate(1.0, 0.1, 5.0), Candidate(1.0, 0.8, 4.0)}, options);
  CHECK(d[0].route == Route::kTrust);
  CHECK(d[0].reason == "model is sure: σ 0.1 <= trust_sigma 0.2");
  CHECK(d[1].route == Route::kSimulate);
  // ½ ln(1 + 0.8² / 0.5²) nats for a simulation of cost 1.
  CHECK(d[1].gain_per_cost == Approx(0.5 * std::log(1 + 0.64 / 0.25)));
}

TEST_CASE("Simulation and model disagreeing asks for an experiment") {
  RouterOptions options;
  options.experiments_left = 1;
  // spread = hypot(0.3, 0.5) = 0.583; gap 3.0 = 5.1 spreads > 3.
  auto d = RouteCandidates({Candidate(1.0, 0.3, 2.0, 4.0), Candidate(1.0, 0.3, 1.0, 1.2)}, options);
  CHECK(d[0].route == Route::kExperiment);
  CHECK(d[0].reason == "simulation (4) and model (1 ± 0.3) disagree by 5.1 σ");
  // Agreeing, already simulated, and the only experiment is spent: nothing to dispatch.
  CHECK(d[1].route == Route::kNone);
  // The same disagreement without an experiment budget: nothing is dispatched.
  options.experiments_left = 0;
  auto none = RouteCandidates({Candidate(1.0, 0.3, 2.0, 4.0)}, options);
  CHECK(none[0].route == Route::kNone);
  CHECK(none[0].reason ==
        "simulation (4) and model (1 ± 0.3) disagree by 5.1 σ, but no experiment budget is left");
}

TEST_CASE("Over budget nothing more is dispatched - best acquisition first") {
  RouterOptions options;
  options.simulations_left = 2;
  auto d = RouteCandidates({Candidate(0, 1.0, 1.0), Candidate(0, 1.0, 3.0), Candidate(0, 1.0, 2.0)},
                           options);
  CHECK(d[1].route == Route::kSimulate);  // acquisition 3
  CHECK(d[2].route == Route::kSimulate);  // acquisition 2
  CHECK(d[0].route == Route::kNone);      // acquisition 1: the budget is spent
  CHECK(d[0].reason == "no simulation or experiment budget is left");
}

TEST_CASE("Information per unit cost picks the evaluation") {
  RouterOptions options;
  options.experiments_left = 10;
  options.simulation_sigma = 1.0;  // a rough simulation
  // Unsure model (σ 3): the simulation teaches 1.15 nats for 1, the experiment 4.6 for 20.
  auto unsure = RouteCandidates({Candidate(0, 3.0, 1.0)}, options);
  CHECK(unsure[0].route == Route::kSimulate);
  // Fairly sure model (σ 0.3): the rough simulation teaches 0.043 per unit cost, the experiment
  // ½ ln(10) / 20 = 0.058: ground truth is worth its price.
  auto sure = RouteCandidates({Candidate(0, 0.3, 1.0)}, options);
  CHECK(sure[0].route == Route::kExperiment);
  CHECK(sure[0].gain_per_cost == Approx(0.5 * std::log(10.0) / 20));
}

TEST_CASE("Finalists are confirmed by experiment and constraints reject") {
  RouterOptions options;
  options.experiments_left = 5;
  options.finalists = 1;
  RouteInput bad = Candidate(0, 1.0, 9.0);
  bad.violation = "molecular weight 612 > 500";
  auto d =
      RouteCandidates({Candidate(1.0, 0.3, 3.0, 1.1), Candidate(1.0, 0.3, 2.0, 0.9), bad}, options);
  CHECK(d[2].route == Route::kReject);
  CHECK(d[2].reason == "fails a constraint: molecular weight 612 > 500");
  CHECK(d[0].route == Route::kExperiment);
  CHECK(d[0].reason == "finalist 1 of 1: confirm by experiment");
  // The second simulated candidate is not a finalist; the experiment still pays for itself.
  CHECK(d[1].route == Route::kExperiment);
  RouterOptions invalid;
  invalid.simulation_cost = 0;
  CHECK_FALSE(invalid.Validate());
}
