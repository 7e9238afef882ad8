#pragma once
// PropertyModel: a regression model that says how sure it is.
//
// Predict returns, per row, the mean and two standard deviations: epistemic (the model does not
// know: members disagree) and aleatoric (the data are noisy there). Total σ = sqrt(e² + a²).
// Models are created through a ModelRegistry by kind name; Save/Load round-trip the fitted state
// as an opaque byte string the campaign file stores. Fit and Predict are not thread-safe on one
// object; distinct objects may be used from distinct threads.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/chem/graph.h"
#include "core/registry.h"
#include "core/result.h"
#include "learners/sparse_matrix.h"

namespace labloop::learners {

struct Predictions {
  std::vector<double> mean;
  std::vector<double> sigma_epistemic;
  std::vector<double> sigma_aleatoric;
  // Optional: for each ensemble member, its mean for every row (members × rows). Empty for models
  // without members; Thompson sampling draws from these when present.
  std::vector<std::vector<float>> member_means;

  size_t size() const { return mean.size(); }
  double Sigma(size_t i) const;  // total
  // Every row's total σ, at least `floor` (a non-finite σ becomes the floor): what metrics and
  // calibrators, which need σ > 0, take.
  std::vector<double> Sigmas(double floor = 1e-12) const;
};

struct ModelOptions {
  std::string kind = "deep_ensemble";  // deep_ensemble, mc_dropout, tanimoto_gp, dmpnn, gp_dmpnn
  int members = 5;                     // ensemble size
  int hidden = 128;     // width of each hidden layer (128: as accurate as 256 on ESOL, 2.5x faster)
  int epochs = 40;      // passes over the training data (at least min_steps updates)
  int min_steps = 300;  // optimizer steps at the least, for very small training sets
  int batch_size = 64;
  double learning_rate = 1e-3;
  double weight_decay = 1e-5;
  uint64_t seed = 0;           // same seed, same data, same device: same model on CPU
  std::string device = "cpu";  // cpu, cuda, cuda:N
  int threads = 0;             // intra-op threads; 0: 1 for training, one per core to predict
  double dropout = 0.1;        // mc_dropout: drop probability after each hidden layer
  int mc_samples = 20;         // mc_dropout: stochastic forward passes per prediction
  int depth = 3;               // dmpnn: message-passing steps
  // Early stopping (deep_ensemble, mc_dropout, dmpnn, gp_dmpnn's D-MPNN): this fraction of the
  // training rows is held out, and training keeps the weights of the epoch with the lowest
  // validation loss, stopping after `patience` epochs without improvement. 0: no hold-out, train
  // for `epochs`.
  double validation_fraction = 0;
  int patience = 10;

  // Names the first option out of range.
  Status Validate() const;
};

class PropertyModel {
 public:
  virtual ~PropertyModel() = default;
  virtual std::string Kind() const = 0;
  // Fits from scratch. `y` has one value per row of `x`; at least 2 rows.
  virtual Status Fit(const SparseMatrix& x, const std::vector<double>& y) = 0;
  virtual Result<Predictions> Predict(const SparseMatrix& x) const = 0;
  // The means alone, for callers that rank by the mean (greedy acquisition); the σ vectors may be
  // left NaN when leaving them out is cheaper, as it is for the Gaussian process.
  virtual Result<Predictions> PredictMean(const SparseMatrix& x) const { return Predict(x); }
  // Models on molecular graphs (dmpnn, gp_dmpnn) read graphs, one per row, beside the
  // fingerprint rows `x` (which dmpnn ignores and gp_dmpnn's Gaussian process reads): callers
  // check ReadsGraphs() and call these.
  virtual bool ReadsGraphs() const { return false; }
  virtual Status FitGraphs(const SparseMatrix& x, const std::vector<chem::MolGraph>& graphs,
                           const std::vector<double>& y);
  virtual Result<Predictions> PredictGraphs(const SparseMatrix& x,
                                            const std::vector<chem::MolGraph>& graphs) const;
  // The means alone, as PredictMean.
  virtual Result<Predictions> PredictGraphsMean(const SparseMatrix& x,
                                                const std::vector<chem::MolGraph>& graphs) const {
    return PredictGraphs(x, graphs);
  }
  // What the last Fit found worth reporting, as a JSON object (early stopping's kept epoch and
  // validation RMSE, say); stored with the campaign's model version.
  virtual std::string FitReport() const { return "{}"; }
  // Each training row predicted by the model fitted on all the others, in training order: what a
  // calibrator can be fitted on without holding data out. Models that cannot do it exactly and
  // cheaply answer kFailedPrecondition, and callers hold out a validation share instead.
  // The Gaussian process does (closed form, one pass over its eigenvectors).
  virtual Result<Predictions> LeaveOneOut() const;
  virtual Result<std::string> Save() const = 0;
  virtual Status Load(const std::string& bytes) = 0;
};

using ModelRegistry = Registry<PropertyModel, const ModelOptions&>;

// One line per built-in model kind.
void RegisterBuiltinModels(ModelRegistry& registry);

// Fit / Predict with the input the model reads: `graphs` (one per row of `x`) for graph models,
// the fingerprints `x` otherwise. Callers that may hold either kind of model use these.
Status FitOn(PropertyModel& model, const SparseMatrix& x, const std::vector<chem::MolGraph>& graphs,
             const std::vector<double>& y);
Result<Predictions> PredictOn(const PropertyModel& model, const SparseMatrix& x,
                              const std::vector<chem::MolGraph>& graphs);
// The graphs of these rows, in this order.
std::vector<chem::MolGraph> SelectGraphs(const std::vector<chem::MolGraph>& graphs,
                                         const std::vector<int64_t>& rows);
// Whether models of this kind read graphs (dmpnn, gp_dmpnn), without creating one.
bool KindReadsGraphs(const std::string& kind);

// Root-mean-square error; the caller keeps sizes equal.
double Rmse(const std::vector<double>& predicted, const std::vector<double>& observed);

}  // namespace labloop::learners
