#include "learners/gp_dmpnn.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "learners/dmpnn.h"
#include "learners/tanimoto_gp.h"

namespace labloop::learners {

namespace {

// Saved as a header line with the Gaussian process's length, then the two parts' bytes.
constexpr char kMagic[] = "labloop-gp-dmpnn 1";

class GpDmpnn final : public PropertyModel {
 public:
  GpDmpnn(std::unique_ptr<PropertyModel> gp, std::unique_ptr<PropertyModel> mpnn)
      : gp_(std::move(gp)), mpnn_(std::move(mpnn)) {}

  std::string Kind() const override { return "gp_dmpnn"; }
  bool ReadsGraphs() const override { return true; }

  Status Fit(const SparseMatrix&, const std::vector<double>&) override {
    return MakeError(ErrorCode::kInvalidArgument,
                     "gp_dmpnn reads fingerprints and molecular graphs: use FitGraphs");
  }
  Result<Predictions> Predict(const SparseMatrix&) const override {
    return MakeError(ErrorCode::kInvalidArgument,
                     "gp_dmpnn reads fingerprints and molecular graphs: use PredictGraphs");
  }

  Status FitGraphs(const SparseMatrix& x, const std::vector<chem::MolGraph>& graphs,
                   const std::vector<double>& y) override {
    fitted_ = false;  // until both parts are fitted
    LABLOOP_TRY(CheckRows(x, graphs));
    LABLOOP_TRY(gp_->Fit(x, y));
    LABLOOP_TRY(mpnn_->FitGraphs(x, graphs, y));
    fitted_ = true;
    return {};
  }

  Result<Predictions> PredictGraphs(const SparseMatrix& x,
                                    const std::vector<chem::MolGraph>& graphs) const override {
    return Mixed(x, graphs, false);
  }

  // The means alone: the GP's without its n² σ work per row (the engine's training RMSE).
  Result<Predictions> PredictGraphsMean(const SparseMatrix& x,
                                        const std::vector<chem::MolGraph>& graphs) const override {
    return Mixed(x, graphs, true);
  }

  std::string FitReport() const override {
    auto parse = [](const std::string& text) {
      auto j = nlohmann::json::parse(text, nullptr, false);
      return j.is_discarded() ? nlohmann::json::object() : j;
    };
    nlohmann::json report = {{"tanimoto_gp", parse(gp_->FitReport())},
                             {"dmpnn", parse(mpnn_->FitReport())}};
    return report.dump();
  }

  Result<std::string> Save() const override {
    if (!fitted_) return MakeError(ErrorCode::kFailedPrecondition, "gp_dmpnn is not fitted");
    auto gp = gp_->Save();
    if (!gp) return gp;
    auto mpnn = mpnn_->Save();
    if (!mpnn) return mpnn;
    return std::string(kMagic) + " " + std::to_string(gp->size()) + "\n" + *gp + *mpnn;
  }

  Status Load(const std::string& bytes) override {
    fitted_ = false;  // until both parts load
    const size_t newline = bytes.find('\n');
    const std::string magic(kMagic);
    if (newline == std::string::npos || bytes.compare(0, magic.size() + 1, magic + " ") != 0) {
      return MakeError(ErrorCode::kInvalidArgument, "not a gp_dmpnn model (bad header)");
    }
    char* end = nullptr;
    const std::string length_text = bytes.substr(magic.size() + 1, newline - magic.size() - 1);
    const unsigned long long gp_length = std::strtoull(length_text.c_str(), &end, 10);
    if (length_text.empty() || *end != '\0' || gp_length > bytes.size() - newline - 1) {
      return MakeError(ErrorCode::kInvalidArgument, "not a gp_dmpnn model (bad length)");
    }
    LABLOOP_TRY(gp_->Load(bytes.substr(newline + 1, gp_length)));
    LABLOOP_TRY(mpnn_->Load(bytes.substr(newline + 1 + gp_length)));
    fitted_ = true;
    return {};
  }

 private:
  // Both parts' predictions mixed; with `means_only` the GP skips its σ and σ is left NaN.
  Result<Predictions> Mixed(const SparseMatrix& x, const std::vector<chem::MolGraph>& graphs,
                            bool means_only) const {
    if (!fitted_) return MakeError(ErrorCode::kFailedPrecondition, "gp_dmpnn is not fitted");
    LABLOOP_TRY(CheckRows(x, graphs));
    auto a = means_only ? gp_->PredictMean(x) : gp_->Predict(x);
    if (!a) return a;
    auto b = mpnn_->PredictGraphs(x, graphs);
    if (!b) return b;
    if (!means_only) return MixPredictions(*a, *b);
    for (size_t i = 0; i < a->size(); ++i) b->mean[i] = 0.5 * (a->mean[i] + b->mean[i]);
    std::fill(b->sigma_epistemic.begin(), b->sigma_epistemic.end(), std::nan(""));
    std::fill(b->sigma_aleatoric.begin(), b->sigma_aleatoric.end(), std::nan(""));
    b->member_means.clear();
    return b;
  }

  static Status CheckRows(const SparseMatrix& x, const std::vector<chem::MolGraph>& graphs) {
    if (static_cast<int64_t>(graphs.size()) == x.Rows()) return {};
    return MakeError(ErrorCode::kInvalidArgument,
                     "gp_dmpnn needs one molecular graph per fingerprint row (" +
                         std::to_string(graphs.size()) + " graphs, " + std::to_string(x.Rows()) +
                         " rows)");
  }

  std::unique_ptr<PropertyModel> gp_, mpnn_;
  bool fitted_ = false;
};

}  // namespace

Result<Predictions> MixPredictions(const Predictions& a, const Predictions& b) {
  if (a.size() != b.size()) {
    return MakeError(ErrorCode::kInternal, "mixing predictions of " + std::to_string(a.size()) +
                                               " and " + std::to_string(b.size()) + " rows");
  }
  Predictions p;
  p.mean.resize(a.size());
  p.sigma_epistemic.resize(a.size());
  p.sigma_aleatoric.resize(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const double half_gap = 0.5 * (a.mean[i] - b.mean[i]);
    p.mean[i] = 0.5 * (a.mean[i] + b.mean[i]);
    p.sigma_epistemic[i] = std::sqrt(0.5 * (a.sigma_epistemic[i] * a.sigma_epistemic[i] +
                                            b.sigma_epistemic[i] * b.sigma_epistemic[i]) +
                                     half_gap * half_gap);
    p.sigma_aleatoric[i] = std::sqrt(0.5 * (a.sigma_aleatoric[i] * a.sigma_aleatoric[i] +
                                            b.sigma_aleatoric[i] * b.sigma_aleatoric[i]));
  }
  return p;
}

Result<std::unique_ptr<PropertyModel>> CreateGpDmpnn(const ModelOptions& options) {
  ModelOptions gp_options = options, mpnn_options = options;
  gp_options.kind = "tanimoto_gp";
  gp_options.device = "cpu";  // the GP runs on the CPU; the D-MPNN on the device asked for
  mpnn_options.kind = "dmpnn";
  auto gp = CreateTanimotoGp(gp_options);
  if (!gp) return tl::unexpected(gp.error());
  auto mpnn = CreateDmpnn(mpnn_options);
  if (!mpnn) return tl::unexpected(mpnn.error());
  return std::unique_ptr<PropertyModel>(new GpDmpnn(std::move(*gp), std::move(*mpnn)));
}

}  // namespace labloop::learners
