#pragma once
// The picture of a model evaluation (`labloop model evaluate --plot FILE.svg`): a parity plot
// (predicted against observed, with the line of perfect predictions) beside the calibration
// curve of the calibrated σ (the share of points inside each central interval against the share
// expected; the diagonal is perfect calibration, the shaded gap is the miscalibration area).
// Plain SVG, so that any browser, slide or paper takes it.

#include <string>

#include "app/engine/model_file.h"
#include "core/result.h"

namespace labloop::engine {

// `title` goes above both panels (e.g. the model file and the data file).
std::string EvaluationSvg(const ModelEvaluation& evaluation, const std::string& title);

Status WriteEvaluationSvg(const ModelEvaluation& evaluation, const std::string& title,
                          const std::string& path);

}  // namespace labloop::engine
