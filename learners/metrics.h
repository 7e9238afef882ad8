#pragma once
// How good a model's predictions are, and how honest its σ is (Chemprop's and the Uncertainty
// Toolbox's definitions, so figures compare with published ones).
//
//   rmse, mae, r2                accuracy of the mean
//   spearman                     Spearman rank correlation of |error| with σ: does a larger σ
//                                point at a larger error?
//   nll                          mean Gaussian negative log-likelihood of the observations
//   miscalibration_area          area between the calibration curve and the diagonal, where
//                                the curve is, for each expected proportion p, the observed
//                                share of errors inside the central p-interval of N(μ, σ²)
//   ence                         expected normalized calibration error: points binned by σ, the
//                                mean of |RMV − RMSE| / RMV over the bins

#include <vector>

#include "core/result.h"

namespace labloop::learners {

struct RegressionMetrics {
  int64_t n = 0;
  double rmse = 0, mae = 0, r2 = 0;
  double spearman = 0, nll = 0, miscalibration_area = 0, ence = 0;
};

// `sigma` is the total σ, one per prediction; every σ must be > 0. Fails on size mismatch or
// fewer than 2 points.
Result<RegressionMetrics> EvaluatePredictions(const std::vector<double>& observed,
                                              const std::vector<double>& mean,
                                              const std::vector<double>& sigma, int ence_bins = 10);

// The calibration curve: expected proportions 0, 1/(points-1), ..., 1 and the observed share of
// errors inside each central interval.
struct CalibrationCurve {
  std::vector<double> expected, observed;
};
CalibrationCurve CalibrationCurveOf(const std::vector<double>& observed,
                                    const std::vector<double>& mean,
                                    const std::vector<double>& sigma, int points = 101);

// The miscalibration area a perfectly calibrated model shows on `n` points, on average: its
// errors are drawn from N(0, σ²) `trials` times (seeded) and each draw's area is measured the same
// way. Finite test sets never reach 0; about 0.029 at n = 114, the test part of ESOL's 80/10/10
// split, so an area near this floor is as calibrated as the test set can show.
double ExpectedMiscalibrationArea(int64_t n, int trials = 2000, uint64_t seed = 1);

// Spearman rank correlation (average ranks for ties); 0 when either side is constant.
double Spearman(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace labloop::learners
