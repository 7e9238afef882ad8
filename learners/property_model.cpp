#include "learners/property_model.h"

#include <algorithm>
#include <cmath>

#include "learners/deep_ensemble.h"
#include "learners/dmpnn.h"
#include "learners/gp_dmpnn.h"
#include "learners/tanimoto_gp.h"

namespace labloop::learners {

double Predictions::Sigma(size_t i) const {
  return std::sqrt(sigma_epistemic[i] * sigma_epistemic[i] +
                   sigma_aleatoric[i] * sigma_aleatoric[i]);
}

std::vector<double> Predictions::Sigmas(double floor) const {
  std::vector<double> sigma(size());
  for (size_t i = 0; i < size(); ++i) {
    const double s = Sigma(i);
    sigma[i] = std::isfinite(s) ? std::max(s, floor) : floor;
  }
  return sigma;
}

Status ModelOptions::Validate() const {
  auto bad = [](const std::string& what) {
    return MakeError(ErrorCode::kInvalidArgument, "model option " + what);
  };
  if (members < 1 || members > 64) return bad("members must be 1 to 64");
  if (hidden < 1 || hidden > 8192) return bad("hidden must be 1 to 8192");
  if (epochs < 1) return bad("epochs must be at least 1");
  if (min_steps < 0) return bad("min_steps must not be negative");
  if (batch_size < 1) return bad("batch_size must be at least 1");
  if (!(learning_rate > 0 && learning_rate <= 1)) return bad("learning_rate must be in (0, 1]");
  if (!(weight_decay >= 0)) return bad("weight_decay must not be negative");
  if (!(dropout >= 0 && dropout < 1)) return bad("dropout must be in [0, 1)");
  if (mc_samples < 2 || mc_samples > 1000) return bad("mc_samples must be 2 to 1000");
  if (depth < 1 || depth > 20) return bad("depth must be 1 to 20");
  if (!(validation_fraction >= 0 && validation_fraction < 0.9)) {
    return bad("validation_fraction must be in [0, 0.9)");
  }
  if (patience < 1) return bad("patience must be at least 1");
  return {};
}

Status PropertyModel::FitGraphs(const SparseMatrix&, const std::vector<chem::MolGraph>&,
                                const std::vector<double>&) {
  return MakeError(ErrorCode::kInvalidArgument, Kind() + " reads fingerprints, not graphs");
}

Result<Predictions> PropertyModel::PredictGraphs(const SparseMatrix&,
                                                 const std::vector<chem::MolGraph>&) const {
  return MakeError(ErrorCode::kInvalidArgument, Kind() + " reads fingerprints, not graphs");
}

Result<Predictions> PropertyModel::LeaveOneOut() const {
  return MakeError(ErrorCode::kFailedPrecondition,
                   Kind() + " has no exact leave-one-out predictions");
}

namespace {

// Graph models read one graph per fingerprint row.
Status CheckGraphRows(const PropertyModel& model, const SparseMatrix& x,
                      const std::vector<chem::MolGraph>& graphs) {
  if (static_cast<int64_t>(graphs.size()) == x.Rows()) return {};
  return MakeError(ErrorCode::kInvalidArgument,
                   model.Kind() +
                       " reads molecular graphs, one per row: " + std::to_string(graphs.size()) +
                       " graphs for " + std::to_string(x.Rows()) + " rows");
}

}  // namespace

Status FitOn(PropertyModel& model, const SparseMatrix& x, const std::vector<chem::MolGraph>& graphs,
             const std::vector<double>& y) {
  if (!model.ReadsGraphs()) return model.Fit(x, y);
  LABLOOP_TRY(CheckGraphRows(model, x, graphs));
  return model.FitGraphs(x, graphs, y);
}

Result<Predictions> PredictOn(const PropertyModel& model, const SparseMatrix& x,
                              const std::vector<chem::MolGraph>& graphs) {
  if (!model.ReadsGraphs()) return model.Predict(x);
  LABLOOP_TRY(CheckGraphRows(model, x, graphs));
  return model.PredictGraphs(x, graphs);
}

std::vector<chem::MolGraph> SelectGraphs(const std::vector<chem::MolGraph>& graphs,
                                         const std::vector<int64_t>& rows) {
  std::vector<chem::MolGraph> out;
  if (graphs.empty()) return out;
  out.reserve(rows.size());
  for (int64_t r : rows) out.push_back(graphs[r]);
  return out;
}

bool KindReadsGraphs(const std::string& kind) { return kind == "dmpnn" || kind == "gp_dmpnn"; }

void RegisterBuiltinModels(ModelRegistry& registry) {
  registry.Register("deep_ensemble", CreateDeepEnsemble);
  registry.Register("mc_dropout", CreateMcDropout);
  registry.Register("tanimoto_gp", CreateTanimotoGp);
  registry.Register("dmpnn", CreateDmpnn);
  registry.Register("gp_dmpnn", CreateGpDmpnn);
}

double Rmse(const std::vector<double>& predicted, const std::vector<double>& observed) {
  double sum = 0;
  for (size_t i = 0; i < predicted.size(); ++i) {
    sum += (predicted[i] - observed[i]) * (predicted[i] - observed[i]);
  }
  return predicted.empty() ? 0.0 : std::sqrt(sum / static_cast<double>(predicted.size()));
}

}  // namespace labloop::learners
