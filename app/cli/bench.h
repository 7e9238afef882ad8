#pragma once
// `labloop bench ...`: benchmark programs that print a table and write JSON (BENCHMARKS.md).

#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "generators/generator.h"

namespace labloop::cli {

struct StorePredictionsBench {
  int64_t predictions = 1000000;
  std::string json_path;
};
Status RunStorePredictionsBench(const StorePredictionsBench& options);

// Browsing a large campaign as the GUI and server do (BENCHMARKS.md 5: time to open it).
struct BrowseBench {
  int64_t candidates = 1000000;
  std::string library = "../shared/data/qm9/qm9_130k.smi.gz";  // SMILES for the candidates
  int decided = 2000;                                          // decisions, half measured
  std::string substructure = "c1ccccc1";
  std::string keep;  // keep the campaign file here (for `labloop-gui --time-open`)
  std::string json_path;
};
Status RunBrowseBench(const BrowseBench& options);

struct FastLoopBench {
  std::string library;  // SMILES file (optionally .gz) with at least `candidates` molecules
  int64_t candidates = 100000;
  int64_t training = 1000;
  int batch = 100;
  int repeats = 3;
  int epochs = 0;      // 0: the model's default
  int batch_size = 0;  // training minibatch; 0: the model's default
  int threads = 0;     // LibTorch threads; 0: one per core
  std::string json_path;
};
Status RunFastLoopBench(const FastLoopBench& options);

// MolPAL's retrospective protocol (BENCHMARKS.md 1): a docking-score library, `init` of it at
// random, then `iters` batches chosen by each acquisition function, the model retrained from
// scratch every iteration, over `seeds` seeds. Prints the three MolPAL metrics beside the
// published table, times each iteration, runs the Python baseline in the same run, and scores a
// `scale_pool`-row pool once to time the fast loop at that size.
struct AlBench {
  std::string library;  // CSV with a smiles column
  std::string scores;   // CSV of smiles,score (lower is better); missing scores count as failures
  std::vector<std::string> models{"tanimoto_gp", "deep_ensemble"};
  std::vector<std::string> acquisitions{"greedy", "ucb", "thompson", "ei", "pi", "random"};
  std::string batch_selection = "top_k";  // top_k, diverse, maxmin
  double max_similarity = 0.6;
  int seeds = 5;
  double init = 0.01;   // fraction of the library
  double batch = 0.01;  // fraction of the library
  int iters = 5;
  int top_k = 100;
  double beta = 2.0;                // ucb, as MolPAL
  double xi = 0.01;                 // ei, pi, as MolPAL
  std::optional<double> threshold;  // the threshold acquisition's value to beat (--threshold)
  int hidden = 0, epochs = 0, members = 0;  // 0: the model's defaults
  int64_t scale_pool = 1000000;             // 0: skip the pool-scale timing
  std::string python = "/usr/bin/python3";
  std::string baseline_script;  // empty: no baseline
  std::string json_path;
};
Status RunAlBench(const AlBench& options);

// Property prediction with calibrated uncertainty (BENCHMARKS.md 2): ESOL, a random 80/10/10 split
// over `seeds` seeds and the published scaffold split; every model, before and after each
// calibrator (fitted on the validation part); training time; and the deep ensemble's prediction
// throughput on cached fingerprints.
struct PredictorsBench {
  std::string data = "../shared/data/moleculenet/esol.csv";  // smiles + target column
  std::string target = "logp";  // ESOL's column (log solubility, despite its name)
  std::string scaffold_dir = "../shared/data/moleculenet/esol_scaffold_split";  // "" skips
  // The fingerprint models; the graph models (dmpnn, gp_dmpnn, minutes a split) when named.
  std::vector<std::string> models{"tanimoto_gp", "deep_ensemble", "mc_dropout"};
  int seeds = 5;
  int64_t throughput_rows = 200000;            // 0 skips
  std::string descriptor_set = "rdkit2d";      // beside fingerprints: basic or rdkit2d
  std::string graph_descriptor_set = "basic";  // beside the D-MPNN's graph readout
  double descriptors = 0;  // > 0: RDKit 2D descriptors beside the fingerprint, scaled to [0, this]
  // Network overrides (0: the model's default) and early stopping's hold-out share.
  int epochs = 0, hidden = 0, members = 0;
  double early_stopping = 0;
  // > 0: calibrators are also fitted on the training rows' cross-fitted predictions (this many
  // folds, as many extra fits), alone ("+cv-only") and beside the validation rows ("+cv"). Models
  // with exact leave-one-out predictions (the GP) use those instead ("+loo-only", "+loo").
  int calibration_folds = 0;
  std::string json_path;
  std::string predictions_path;  // CSV of every test (and validation) prediction; "" skips
};
Status RunPredictorsBench(const PredictorsBench& options);

// Simulation throughput over MPI (BENCHMARKS.md 4): GFN2-xTB molecules per second with labloop-sim
// on 1 and 2 ranks against a plain loop over libxtb in this process, the parallel efficiency and
// the overhead per task (process isolation, messages, output).
struct SimulatorsBench {
  std::string input = "examples/qm9-gap/pool.smi";  // SMILES file
  int molecules = 200;                              // the first ones of it
  std::vector<int> ranks{1, 2};
  std::string sim;  // labloop-sim; empty: next to this labloop
  std::string json_path;
  // The check of xtb values against Colmena's GFN2-xTB atomization energies of QM9 molecules.
  std::string qm9_reference = "../shared/data/qm9/qm9_xtb_atomization_1005.json";
  int qm9_molecules = 200;  // the first ones of it (0: all 1,005; empty reference: no check)
  bool check_only = false;  // skip the throughput runs
};
Status RunSimulatorsBench(const SimulatorsBench& options);

// Generative design (BENCHMARKS.md 3): the SMILES LSTM's validity, uniqueness, novelty against its
// training set, internal diversity and valid molecules per second over `samples` raw samples,
// beside the published SMILES-RNN figures; then rediscovery of `target` by each of
// `goal_generators` over `seeds` seeds, with the objective calls each needed.
struct GeneratorsBench {
  std::string training = "../shared/data/generative/zinc250k.smi.gz";
  std::string model;        // empty: the shipped model
  int64_t samples = 10000;  // 0 skips the distribution part
  double temperature = 1.0;
  bool grammar = true;   // grammar-constrained sampling (generators/smiles_grammar.h)
  bool valences = true;  // the grammar's valence rules too
  int wind_up_after = generators::GeneratorOptions{}.wind_up_after;  // the grammar's wind-up
  bool tensor_sampler = false;  // the device sampler, on the CPU too
  std::string target = "Cc1ccc(-c2cc(C(F)(F)F)nn2-c2ccc(S(N)(=O)=O)cc2)cc1";  // celecoxib; "" skips
  std::vector<std::string> goal_generators{"graph_ga", "smiles_lm"};
  int seeds = 1, first_seed = 1;  // seeds first_seed .. first_seed + seeds - 1
  std::string ga_pool = "../shared/data/generative/zinc_first_1000.smi";
  int ga_population = 100, ga_generations = 300;
  // The steered LSTM as it rediscovers celecoxib (docs/benchmarks.md): REINVENT's learning rate,
  // not the generator's default (5e-4, quicker for a campaign round's few steps).
  int lm_steps = 1500, lm_batch = 64;
  double lm_sigma = 60;
  double lm_learning_rate = 1e-4;  // the steering's Adam step
  std::string raw_path;  // non-empty: every raw sample written here, one a line (invalid ones too)
  std::string json_path;
};
Status RunGeneratorsBench(const GeneratorsBench& options);

// The instrument layer against labloop-emulator processes: round trips per driver, recovery from a
// lost reply, the emergency stop of a campaign file (target 100 ms), and the 4PL fit.
struct InstrumentsBench {
  std::string emulator;  // labloop-emulator; empty: next to this labloop
  int round_trips = 1000;
  int stops = 20;
  int fits = 1000;
  std::string json_path;
};
Status RunInstrumentsBench(const InstrumentsBench& options);

}  // namespace labloop::cli
