#pragma once
// Models outside a campaign: `labloop model train | evaluate | predict`.
//
// A model file holds the fitted PropertyModel, the calibrator fitted on a validation split the
// model never trained on, the fingerprint settings and the target's name, so that predicting
// needs nothing but the file and molecules. Data files are any molecule file labloop reads
// (SMILES, CSV/TSV with a SMILES column, SDF), the target a column or SDF field. Rows that cannot
// be used (unparsable molecules, a missing or non-numeric target) are reported by location and
// skipped; they never stop the command.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/chem/descriptors.h"
#include "core/chem/fingerprint.h"
#include "core/result.h"
#include "learners/metrics.h"

namespace labloop::engine {

struct ModelTrainOptions {
  std::string data;                      // molecule file with the target
  std::string target;                    // its column (CSV) or data field (SDF)
  std::string kind = "tanimoto_gp";      // a registered model kind
  std::string calibration = "isotonic";  // sigma_scaling, isotonic, empirical or none
  double validation = 0.1;  // share of the rows held out for calibration (and reported)
  // > 0: the calibrator is also fitted on the training rows' out-of-sample predictions, beside
  // the validation rows': K-fold cross-fitted ones (K extra fits), or the exact leave-one-out ones
  // of a model that has them (the GP, at no extra fit). Eight times the calibration points: on
  // ESOL the calibrators became steadier (lower NLL and ENCE), the miscalibration area no lower
  // (docs/benchmarks.md). 0, or 2 to 20.
  int calibration_folds = 0;
  uint64_t seed = 0;
  std::string smiles_column;  // CSV: empty picks the column named like "smiles"
  chem::MorganOptions fingerprint{2, 2048, true, false};
  // > 0: RDKit 2D descriptors beside the fingerprint, scaled into [0, descriptors] by the
  // training rows' range (measured on ESOL: GP test RMSE 0.74 -> 0.52 at 20 with rdkit2d).
  double descriptors = 0;
  std::string descriptor_set = "rdkit2d";  // which ones: rdkit2d (206) or basic (16)
  // Graph models (dmpnn, gp_dmpnn's D-MPNN): the descriptors beside the graph readout.
  std::string graph_descriptor_set = "basic";
  // Network models (0: the model's default): epochs, width, ensemble members, dmpnn depth.
  int epochs = 0, hidden = 0, members = 0, depth = 0;
  std::string device = "cpu";  // training device: cpu, cuda, cuda:N (the file loads anywhere)
  // > 0: this share of the training rows is held out for early stopping.
  double early_stopping = 0;
  std::string output;  // the model file to write
};

struct ModelTrainReport {
  int64_t training = 0, validation = 0;
  // What the calibrator was fitted on: "validation", "validation+leave-one-out" or
  // "validation+K-fold cross-fit", and how many rows that was.
  std::string calibrated_on = "validation";
  int64_t calibration_rows = 0;
  std::vector<std::string> skipped;  // "file:line: why", one per unusable row
  // On the validation rows; the calibrated figures are in-sample (the calibrator was fitted on
  // those rows): `labloop model evaluate` on other data gives the honest ones.
  learners::RegressionMetrics validation_raw, validation_calibrated;
  double fit_seconds = 0;
};

Result<ModelTrainReport> TrainModelFile(const ModelTrainOptions& options);

struct ModelEvaluation {
  int64_t rows = 0;
  std::vector<std::string> skipped;
  learners::RegressionMetrics raw, calibrated;  // σ before and after the stored calibration
  learners::CalibrationCurve curve;             // of the calibrated σ
  std::vector<double> observed, predicted;      // the parity plot
};

// `device`: where the model predicts (cpu, cuda, cuda:N; the GP runs on the CPU only).
Result<ModelEvaluation> EvaluateModelFile(const std::string& model_path,
                                          const std::string& data_path, const std::string& target,
                                          const std::string& smiles_column = "",
                                          const std::string& device = "cpu");
// The evaluation as JSON (raw and calibrated metrics, calibration curve, parity data).
Status WriteModelEvaluationJson(const ModelEvaluation& evaluation, const std::string& path);

struct ModelPrediction {
  int64_t written = 0;
  std::vector<std::string> skipped;
};

// Writes `output` (CSV): the input's columns, then mean, sigma (total, calibrated),
// sigma_epistemic and sigma_aleatoric (both scaled with the calibration, so that they still add
// up to sigma in quadrature).
Result<ModelPrediction> PredictWithModelFile(const std::string& model_path,
                                             const std::string& data_path,
                                             const std::string& output,
                                             const std::string& smiles_column = "",
                                             const std::string& device = "cpu");

// Writes `output` (CSV): the input's columns, then every descriptor of `set` (one column each,
// named as RDKit names them). Rows RDKit cannot read are skipped and reported.
Result<ModelPrediction> WriteDescriptorFile(const std::string& data_path, chem::DescriptorSet set,
                                            const std::string& output,
                                            const std::string& smiles_column = "");

}  // namespace labloop::engine
