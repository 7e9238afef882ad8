#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "learners/calibration.h"
#include "learners/metrics.h"

using namespace labloop;
using namespace labloop::learners;

namespace {
// Residuals drawn with true σ_true = 0.2 + 3 σ: a model whose σ is three times too small and
// misses a noise floor.
struct Data {
  std::vector<double> observed, mean, sigma;
};
Data Miscalibrated(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(0.05, 1.0);
  std::normal_distribution<double> normal(0.0, 1.0);
  Data d;
  for (int i = 0; i < n; ++i) {
    double s = uniform(rng);
    double truth = std::hypot(3 * s, 0.2);
    d.mean.push_back(0.0);
    d.sigma.push_back(s);
    d.observed.push_back(truth * normal(rng));
  }
  return d;
}
}  // namespace

TEST_CASE("Metrics on cases with known answers") {
  // Perfect means: rmse 0, r2 1; NLL = 0.5 ln(2π σ²) with σ = 1.
  auto perfect = EvaluatePredictions({1, 2, 3, 4}, {1, 2, 3, 4}, {1, 1, 1, 1});
  REQUIRE(perfect);
  CHECK(perfect->rmse == 0.0);
  CHECK(perfect->r2 == 1.0);
  CHECK(perfect->nll == Approx(0.5 * std::log(2 * M_PI)));
  // Errors 1, -1, 2, -2: rmse sqrt(2.5), mae 1.5; |error| rises with σ: Spearman 1 (ties average).
  auto m = EvaluatePredictions({1, 1, 1, 1}, {0, 2, -1, 3}, {0.5, 0.5, 1.0, 1.0});
  REQUIRE(m);
  CHECK(m->rmse == Approx(std::sqrt(2.5)));
  CHECK(m->mae == 1.5);
  CHECK(m->spearman == Approx(1.0));
  CHECK(Spearman({1, 2, 3}, {3, 2, 1}) == Approx(-1.0));
  CHECK(Spearman({1, 1, 1}, {3, 2, 1}) == 0.0);
  CHECK_FALSE(EvaluatePredictions({1, 2}, {1, 2}, {1, 0}));  // σ must be > 0
  CHECK_FALSE(EvaluatePredictions({1}, {1}, {1}));

  // Honest Gaussian σ: the curve hugs the diagonal; σ three times too small: far from it.
  std::mt19937_64 rng(1);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> y, mu, sigma, too_small;
  for (int i = 0; i < 20000; ++i) {
    double s = 0.1 + (i % 10) * 0.1;
    y.push_back(s * normal(rng));
    mu.push_back(0);
    sigma.push_back(s);
    too_small.push_back(s / 3);
  }
  auto honest = EvaluatePredictions(y, mu, sigma);
  CHECK(honest->miscalibration_area < 0.01);
  CHECK(honest->ence < 0.03);
  auto overconfident = EvaluatePredictions(y, mu, too_small);
  CHECK(overconfident->miscalibration_area > 0.25);
  CHECK(overconfident->ence > 1.5);  // |σ/3 - σ| / (σ/3) = 2
  auto curve = CalibrationCurveOf(y, mu, sigma, 11);
  CHECK(curve.expected[5] == 0.5);
  CHECK(curve.observed[5] == Approx(0.5).margin(0.02));
}

TEST_CASE("Every calibrator makes held-out σ better calibrated - and round-trips") {
  auto fit = Miscalibrated(2000, 1), held_out = Miscalibrated(20000, 2);
  std::vector<double> residual(fit.observed.size());
  for (size_t i = 0; i < residual.size(); ++i) residual[i] = fit.observed[i] - fit.mean[i];
  auto before = EvaluatePredictions(held_out.observed, held_out.mean, held_out.sigma);
  REQUIRE(before);
  CalibratorRegistry registry("calibrator");
  RegisterBuiltinCalibrators(registry);
  for (const auto& kind : registry.Names()) {
    DYNAMIC_SECTION(kind) {
      auto calibrator = registry.Create(kind);
      REQUIRE(calibrator);
      REQUIRE((*calibrator)->Fit(fit.sigma, residual));
      std::vector<double> calibrated;
      for (double s : held_out.sigma) calibrated.push_back((*calibrator)->Apply(s));
      auto after = EvaluatePredictions(held_out.observed, held_out.mean, calibrated);
      REQUIRE(after);
      INFO(kind << ": miscalibration " << before->miscalibration_area << " -> "
                << after->miscalibration_area << ", nll " << before->nll << " -> " << after->nll);
      CHECK(after->miscalibration_area < 0.03);
      CHECK(after->miscalibration_area < before->miscalibration_area / 5);
      CHECK(after->nll < before->nll);
      CHECK(after->ence < before->ence);
      // Saved and loaded: the same map.
      auto copy = registry.Create(kind);
      REQUIRE((*copy)->Load((*calibrator)->Save()));
      for (double s : {0.01, 0.3, 0.77, 5.0}) CHECK((*copy)->Apply(s) == (*calibrator)->Apply(s));
      CHECK_FALSE((*copy)->Load("{}"));
      CHECK_FALSE((*calibrator)->Fit({1.0}, {0.5}));  // too few points
    }
  }
  // σ scaling finds the truth it can express: a = 3, b = 0.2.
  auto scaling = std::move(*registry.Create("sigma_scaling"));
  REQUIRE(scaling->Fit(held_out.sigma, [&] {
    std::vector<double> r;
    for (size_t i = 0; i < held_out.observed.size(); ++i) r.push_back(held_out.observed[i]);
    return r;
  }()));
  CHECK(scaling->Apply(1.0) == Approx(std::hypot(3.0, 0.2)).epsilon(0.03));
  CHECK(scaling->Apply(0.0) == Approx(0.2).epsilon(0.3));
}

TEST_CASE("Points of equal sigma all count - none is dropped") {
  // Every σ the same (a model whose σ saturated): the map is the RMSE of all the residuals.
  std::vector<double> sigma(40, 0.5), residual;
  for (int i = 0; i < 40; ++i) residual.push_back(i % 2 ? 1.0 : -3.0);
  CalibratorRegistry registry("calibrator");
  RegisterBuiltinCalibrators(registry);
  for (const std::string kind : {"isotonic", "empirical"}) {
    auto calibrator = std::move(*registry.Create(kind));
    REQUIRE(calibrator->Fit(sigma, residual));
    CHECK(calibrator->Apply(0.5) == Approx(std::sqrt(5.0)));  // mean of 1 and 9
  }
}

TEST_CASE("A perfectly calibrated model's miscalibration area on finite test sets") {
  // Against an independent Monte Carlo (NumPy, 2,000 draws of 113 points): 0.0290.
  const double at_113 = ExpectedMiscalibrationArea(113);
  CHECK(at_113 > 0.026);
  CHECK(at_113 < 0.032);
  // It shrinks as 1/sqrt(n): four times the points, half the area.
  const double at_452 = ExpectedMiscalibrationArea(452);
  CHECK(at_452 / at_113 == Approx(0.5).margin(0.06));
}
