#pragma once
// The SMILES language model: an LSTM over SMILES tokens (bracket atoms, two-letter elements, ring
// closures and bonds are one token each), trained on ZINC 250k, sampled with a temperature and
// steered toward a fitness by a prior-regularized policy gradient (REINVENT, Olivecrona et al.,
// J. Cheminform. 2017).
//
// Steering keeps a frozen copy of the trained model (the prior) and fine-tunes the agent so that
// its log-likelihood of a sampled SMILES approaches prior log-likelihood + sigma * fitness: the
// agent moves toward high fitness, and the prior term keeps it from forgetting valid chemistry.
// Fitness values should lie in [0, 1] (a similarity, or a percentile of the acquisition value).
//
// The trained weights ship in generators/models/ (DefaultLmModel()); `labloop lm train` remakes
// them. A model file holds the weights, the vocabulary, the sizes and a version string that every
// proposal's provenance names.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "generators/generator.h"

namespace labloop::generators {

// generators/models/zinc250k_lstm.pt in the source tree.
std::string DefaultLmModel();

struct LmTrainOptions {
  std::string data;    // SMILES file (or CSV, .gz), one molecule a line
  std::string output;  // model file to write (after each epoch)
  std::string init;    // a model file to train further (its sizes and vocabulary); empty: fresh
  int epochs = 3;
  int batch_size = 128;
  double learning_rate = 1e-3;  // Adam's, for the first epoch
  double lr_decay = 0.5;        // the learning rate is multiplied by this after each epoch
  int embedding = 64, hidden = 256, layers = 2;
  double dropout = 0.0;
  uint64_t seed = 1;
  int threads = 0;                    // 0: one per core
  int64_t max_molecules = 0;          // 0: all
  double validation_fraction = 0.01;  // held out: the per-epoch validation loss
  int max_tokens = 100;               // longer SMILES are skipped
  std::string device = "cpu";
  // Called with a line of progress (epoch, batches, loss) now and then.
  std::function<void(const std::string&)> log;
};

// Trains a model from scratch and writes it to options.output. Deterministic for a seed and
// thread count on the CPU.
Status TrainSmilesLm(const LmTrainOptions& options);

// The `smiles_lm` generator: options.model (default DefaultLmModel()), options.temperature,
// options.grammar (grammar-constrained sampling, smiles_grammar.h); with options.fitness set it
// first runs options.steps policy-gradient steps of options.batch_size samples (unconstrained:
// the policy gradient needs the agent's own distribution), then samples from the steered agent.
Result<std::unique_ptr<Generator>> CreateSmilesLm(const GeneratorOptions& options);

// `count` raw samples of the model at options.temperature (grammar-constrained when
// options.grammar), valid or not (unfinished ones empty):
// what distribution benchmarks (validity, uniqueness, novelty) measure. Also returns the model
// version and each sample's log-likelihood under the model itself.
struct RawSamples {
  std::vector<std::string> smiles;
  // ln P(the sampled tokens, then the end) at temperature 1 without the grammar: what
  // SmilesLogLikelihood gives for the same string (a sample that never ended: its tokens only).
  std::vector<double> log_likelihood;
  std::string model;
  // What the sampler's products compute in: "bfloat16" (CPUs with AVX-512 BF16) or "float32".
  std::string precision;
};
Result<RawSamples> SampleSmilesLm(const GeneratorOptions& options, int64_t count);

// The model's log-likelihood of each SMILES (its tokens and the end), NaN for a SMILES with a
// token the model does not know. Lower means the model finds it less like its training set.
Result<std::vector<double>> SmilesLogLikelihood(const GeneratorOptions& options,
                                                const std::vector<std::string>& smiles);

}  // namespace labloop::generators
