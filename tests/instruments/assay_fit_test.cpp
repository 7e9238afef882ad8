// 4PL dose-response fits: known curves are recovered, σ(pIC50) is calibrated, poor fits flagged.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "instruments/assay_fit.h"

using namespace labloop;
using namespace labloop::instruments;

namespace {
// A 10-point, 3-fold dilution series from 100 µM through a 4PL curve, with Gaussian noise.
DoseResponse Curve(double pic50, double hill, double bottom, double top, double noise,
                   std::mt19937_64& rng, double start = 1e-4) {
  std::normal_distribution<double> e(0, noise);
  DoseResponse d;
  for (int i = 0; i < 10; ++i) {
    const double c = start / std::pow(3.0, i);
    const double y = bottom + (top - bottom) / (1 + std::pow(10.0, hill * (std::log10(c) + pic50)));
    d.concentration.push_back(c);
    d.signal.push_back(y + e(rng));
  }
  return d;
}
}  // namespace

TEST_CASE("A clean 4PL curve is recovered exactly") {
  std::mt19937_64 rng(1);
  auto fit = FitDoseResponse(Curve(6.5, 1.2, 5, 100, 0.0, rng));
  REQUIRE(fit);
  CHECK(fit->pic50 == Approx(6.5).margin(1e-4));
  CHECK(fit->hill == Approx(1.2).margin(1e-3));
  CHECK(fit->top == Approx(100).margin(1e-2));
  CHECK(fit->bottom == Approx(5).margin(1e-2));
  CHECK(fit->r2 == Approx(1.0).margin(1e-9));
}

TEST_CASE("σ(pIC50) from the covariance is calibrated over noisy replicates") {
  // With 10 wells and 4 parameters the z-scores follow Student's t with 6 degrees of freedom:
  // |t| < 1 for 64.4% of fits and |t| < 2 for 90.8%.
  std::mt19937_64 rng(7);
  const double truth = 6.0;
  int n = 0, flagged = 0, within1 = 0, within2 = 0;
  for (int r = 0; r < 400; ++r) {
    auto fit = FitDoseResponse(Curve(truth, 1.0, 0, 100, 5.0, rng));
    REQUIRE(fit);
    if (!fit->ok) {
      ++flagged;
      continue;
    }
    const double z = std::abs(fit->pic50 - truth) / fit->pic50_sigma;
    within1 += z < 1;
    within2 += z < 2;
    ++n;
  }
  CHECK(flagged < 20);  // a good curve with 5% noise is rarely flagged
  INFO(within1 << " and " << within2 << " of " << n << " within 1 and 2 σ");
  CHECK(double(within1) / n == Approx(0.644).margin(0.07));
  CHECK(double(within2) / n == Approx(0.908).margin(0.05));
}

TEST_CASE("Poor fits are flagged for review, never measurements") {
  std::mt19937_64 rng(3);
  // No dose response: a flat line with noise.
  auto flat = FitDoseResponse(Curve(6.0, 1.0, 50, 50, 3.0, rng));
  REQUIRE(flat);
  CHECK(!flat->ok);
  CHECK(std::find(flat->flags.begin(), flat->flags.end(), "flat_curve") != flat->flags.end());
  // IC50 of 1 nM while the series stops at 5 nM: extrapolated.
  auto outside = FitDoseResponse(Curve(9.0, 1.0, 0, 100, 1.0, rng));
  REQUIRE(outside);
  CHECK(!outside->ok);
  CHECK(std::find(outside->flags.begin(), outside->flags.end(), "outside_range") !=
        outside->flags.end());
  // Garbage readouts.
  DoseResponse noise = Curve(6.0, 1.0, 0, 100, 0.0, rng);
  std::uniform_real_distribution<double> u(0, 100);
  for (auto& y : noise.signal) y = u(rng);
  auto garbage = FitDoseResponse(noise);
  REQUIRE(garbage);
  CHECK(!garbage->ok);
  CHECK(garbage->Summary().rfind("flagged for review: ", 0) == 0);
  // Too few wells, and malformed input.
  DoseResponse few{{1e-6, 1e-7, 1e-8}, {10, 50, 90}};
  auto too_few = FitDoseResponse(few);
  REQUIRE(too_few);
  CHECK(too_few->flags == std::vector<std::string>{"too_few_points"});
  DoseResponse bad{{1e-6, 0.0, 1e-8, 1e-9, 1e-10}, {10, 50, 90, 95, 99}};
  auto error = FitDoseResponse(bad);
  REQUIRE(!error);
  CHECK(error.error().message.find("point 2") != std::string::npos);
}
