#pragma once
// Calibrators: a map from a model's σ to a calibrated σ, fitted on a validation split that the
// model never trained on, and stored with the model version.
//
//   sigma_scaling  σ' = sqrt((a σ)² + b²): a scale and a floor chosen by the Gaussian negative
//                  log-likelihood of the validation residuals (Ceres, L-BFGS)
//   isotonic       σ'² = the non-decreasing function of σ closest to the squared residuals
//                  (pool-adjacent-violators), interpolated between its steps
//   empirical      σ' = the RMSE of the validation points of similar σ (equal-count bins),
//                  interpolated between bins: the error-vs-σ mapping as measured
// Fit and Apply never throw; Save gives JSON text that Load reads back.

#include <memory>
#include <string>
#include <vector>

#include "core/registry.h"
#include "core/result.h"

namespace labloop::learners {

class Calibrator {
 public:
  virtual ~Calibrator() = default;
  virtual std::string Kind() const = 0;
  // `sigma` (> 0) and `residual` (observed − predicted mean) of the validation points.
  virtual Status Fit(const std::vector<double>& sigma, const std::vector<double>& residual) = 0;
  virtual double Apply(double sigma) const = 0;
  virtual std::string Save() const = 0;
  virtual Status Load(const std::string& json) = 0;
};

using CalibratorRegistry = Registry<Calibrator>;

void RegisterBuiltinCalibrators(CalibratorRegistry& registry);

}  // namespace labloop::learners
