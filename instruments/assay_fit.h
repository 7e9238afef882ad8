#pragma once
// Dose-response fitting: the four-parameter logistic (4PL) through a plate reader's raw readouts
// over a dilution series, fitted with Ceres Solver, and pIC50 with its standard error from the
// parameter covariance.
//
//   signal(c) = bottom + (top - bottom) / (1 + 10^(hill * (log10 c - log10 IC50)))
//
// Concentrations are in mol/L; pIC50 = -log10 IC50. σ(pIC50) is the square root of the log10 IC50
// variance from Ceres' covariance, scaled by the residual variance (RSS / (n - 4)).
//
// A fit is only trusted when it passes every check; otherwise `flags` says why and the result must
// go to a person for review, never into the campaign as a measurement:
//   not_converged   the solver stopped without converging
//   flat_curve      the span |top - bottom| is below min_span_noise residual standard deviations
//                   (no dose response in the data)
//   outside_range   IC50 lies outside the tested concentrations (extrapolated)
//   poor_fit        R² below min_r2
//   uncertain       σ(pIC50) above max_sigma, or the covariance could not be computed
//   bad_hill        Hill slope outside [min_hill, max_hill]
//   too_few_points  fewer than 7 finite points (σ needs a few degrees of freedom beyond the 4
//                   parameters)

#include <string>
#include <vector>

#include "core/result.h"

namespace labloop::instruments {

struct DoseResponse {
  std::vector<double> concentration;  // mol/L, > 0
  std::vector<double> signal;         // raw readout (e.g. % activity, counts)
};

struct AssayFitOptions {
  double min_span_noise = 5;  // span / residual sd at least this
  double min_r2 = 0.8;
  double max_sigma = 0.5;  // σ(pIC50), log units
  double min_hill = 0.2, max_hill = 5;
};

struct AssayFit {
  bool ok = false;  // every check passed: usable as a measurement
  std::vector<std::string> flags;
  double pic50 = 0, pic50_sigma = 0;
  double top = 0, bottom = 0, hill = 0;
  double r2 = 0, residual_sd = 0;
  int points = 0;
  std::string Summary() const;  // "pIC50 6.42 ± 0.08 (R² 0.99)" or "flagged: flat_curve, ..."
  std::string ToJson() const;
};

// Errors only for malformed input (sizes differ, a concentration <= 0); a poor fit is a flagged
// result, not an error.
Result<AssayFit> FitDoseResponse(const DoseResponse& data, const AssayFitOptions& options = {});

}  // namespace labloop::instruments
