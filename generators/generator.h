#pragma once
// Generators propose molecules for a campaign or for `labloop generate` (DESIGN.md §3).
//
// Every proposal is a valid, sanitized, canonical molecule with its InChIKey and its provenance:
// which generator made it and from what (a file and line, parents, a reaction, a model version).
// A generator never proposes the same InChIKey twice in one call.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/registry.h"
#include "core/result.h"

namespace labloop::generators {

struct Proposal {
  std::string smiles;  // canonical
  std::string inchikey;
  std::string generator;   // "pool", ...
  std::string provenance;  // JSON object: where it came from
};

// Scores canonical SMILES, higher better, one value per molecule (the acquisition value of a
// campaign, or a similarity): what goal-directed generators climb.
using Fitness = std::function<Result<std::vector<double>>(const std::vector<std::string>& smiles)>;

struct GeneratorOptions {
  std::string kind = "pool";
  uint64_t seed = 0;
  // pool: a SMILES, CSV or SDF file of any size (optionally .gz), read as a stream. graph_ga: the
  // starting population is drawn from it.
  std::string pool;
  std::string smiles_column;  // CSV: empty picks the column named like "smiles"
  // graph_ga: starting molecules given directly (a campaign's best-scored candidates); when set,
  // `pool` is not read.
  std::vector<std::string> seeds;
  // graph_ga
  int population = 100;
  int generations = 20;
  double mutation_rate = 0.5;
  int min_heavy_atoms = 5, max_heavy_atoms = 50;
  // smiles_lm: the model file (empty: the shipped ZINC 250k model), the sampling temperature, and
  // the policy-gradient steering used when a fitness is given.
  std::string model;
  double temperature = 1.0;
  bool grammar = true;   // sample only tokens the SMILES grammar allows next (smiles_grammar.h)
  bool valences = true;  // with the grammar: also keep valences and aromatic rings right
  // With the grammar: from this many tokens on, only moves towards the end (0: never); 72 is the
  // longest SMILES of ZINC 250k, which the shipped model learned from.
  int wind_up_after = 72;
  // Sample with the batched tensor sampler that GPUs run, on the CPU too (slower there than the
  // CPU sampler; for checking the device path where no GPU is).
  bool tensor_sampler = false;
  int steps = 100;      // policy-gradient steps
  int batch_size = 64;  // molecules sampled a step
  double sigma = 60;    // weight of the fitness against the prior's log-likelihood
  double learning_rate = 5e-4;
  std::string device = "cpu";
  // reactions: building blocks (empty: the shipped set), a template file (empty: the built-in
  // templates), and with a fitness, how many products are made for each one proposed.
  std::string building_blocks;
  std::string reactions;
  int oversample = 10;
  Fitness fitness;  // required by graph_ga, optional for smiles_lm (steering)
};

// Tanimoto similarity on Morgan count fingerprints (radius 2) to `target_smiles`: the fitness of
// rediscovery benchmarks and of `labloop generate --target`.
Result<Fitness> SimilarityFitness(const std::string& target_smiles);

class Generator {
 public:
  virtual ~Generator() = default;
  virtual std::string Kind() const = 0;
  // Up to `n` distinct proposals (fewer when the source has fewer).
  virtual Result<std::vector<Proposal>> Generate(int64_t n) = 0;
  // What the last Generate did, as a JSON object (fitness calls, best score, ...).
  virtual std::string Report() const { return "{}"; }
};

using GeneratorRegistry = Registry<Generator, const GeneratorOptions&>;
void RegisterBuiltinGenerators(GeneratorRegistry& registry);

}  // namespace labloop::generators
