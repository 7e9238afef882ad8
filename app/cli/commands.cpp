#include "app/cli/commands.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>

#include <nlohmann/json.hpp>

#include "app/cli/bench.h"
#include "app/cli/lm_train_options.h"
#include "app/engine/demo.h"
#include "app/engine/engine.h"
#include "app/engine/evaluation_plot.h"
#include "app/engine/experiments.h"
#include "app/engine/filter_file.h"
#include "app/engine/model_file.h"
#include "app/server/server.h"
#include "core/chem/descriptors.h"
#include "core/chem/reader.h"
#include "core/log.h"
#include "generators/generator.h"
#include "generators/smiles_lm.h"
#include "learners/batch.h"

namespace labloop::cli {

namespace {

int Fail(const Error& error) {
  std::cerr << "labloop: error: " << error.message << "\n";
  return 1;
}

// --descriptor-set and --graph-descriptor-set, as `model train` and `bench predictors` take them.
void AddDescriptorSetOptions(CLI::App* command, std::string& set, std::string& graph_set) {
  command
      ->add_option("--descriptor-set", set,
                   "which descriptors beside the fingerprint: rdkit2d (206, the default) or "
                   "basic (16)")
      ->check(CLI::IsMember({"basic", "rdkit2d"}));
  command
      ->add_option("--graph-descriptor-set", graph_set,
                   "dmpnn, gp_dmpnn: which descriptors the D-MPNN reads beside its graph "
                   "readout: basic (the default) or rdkit2d")
      ->check(CLI::IsMember({"basic", "rdkit2d"}));
}

}  // namespace

int Main(int argc, char** argv) {
  // xtb and RDKit use OpenMP; parallelism comes from labloop's own threads (one xtb per thread).
  // LibTorch sets its own thread count per call.
  setenv("OMP_NUM_THREADS", "1", /*overwrite=*/0);

  CLI::App app{"labloop: an active-learning controller for autonomous laboratories"};
  app.set_version_flag("--version", "labloop 0.1.0");
  app.require_subcommand(1);
  app.fallthrough();  // --log-level may also follow the subcommand (inherited when created)
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "debug, info, warn, error or off")
      ->check(CLI::IsMember({"debug", "info", "warn", "error", "off"}));

  std::string campaign, config_path, format, output, dir = "labloop-demo";
  bool as_json = false;
  int rounds = 0;

  auto* init = app.add_subcommand("init", "create a campaign file from a TOML config");
  init->add_option("file", campaign, "the campaign file to create (FILE.labloop)")->required();
  init->add_option("--config,-c", config_path, "campaign config (TOML)")->required();

  auto* run = app.add_subcommand("run", "run rounds until the budget is spent (resumes)");
  run->add_option("file", campaign, "the campaign file")->required();
  run->add_option("--rounds", rounds,
                  "stop after this many rounds (default: until the budget is spent)")
      ->check(CLI::NonNegativeNumber);

  auto* status = app.add_subcommand("status", "print the campaign's state");
  status->add_option("file", campaign, "the campaign file")->required();
  status->add_flag("--json", as_json, "print a JSON object instead of a table");

  std::vector<int64_t> candidate_ids;
  bool approve_all = false;
  std::string who, reason;
  const char* user = std::getenv("USER");
  who = user != nullptr && *user != '\0' ? user : "unknown";
  auto* approve = app.add_subcommand(
      "approve", "approve decisions waiting at the approval gate, so their jobs run");
  approve->add_option("file", campaign, "the campaign file")->required();
  approve->add_option("ids", candidate_ids, "candidate ids (labloop status lists them)");
  approve->add_flag("--all", approve_all, "approve every waiting decision");
  approve->add_option("--by", who, "who approves, for the audit log (default: $USER)");
  auto* reject = app.add_subcommand(
      "reject", "reject decisions waiting at the approval gate: their jobs are cancelled");
  reject->add_option("file", campaign, "the campaign file")->required();
  reject->add_option("ids", candidate_ids, "candidate ids (labloop status lists them)")->required();
  reject->add_option("--reason", reason, "why, for the audit log")->required();
  reject->add_option("--by", who, "who rejects, for the audit log (default: $USER)");

  auto* exporter =
      app.add_subcommand("export", "write candidates with predictions and measurements");
  exporter->add_option("file", campaign, "the campaign file")->required();
  auto* filter = app.add_subcommand(
      "filter", "keep the molecules of a file that pass structural alerts and drug-likeness rules");
  std::string filter_input, filter_output, filter_dropped;
  chem::FilterOptions filter_options;
  bool no_pains = false, no_brenk = false;
  double max_sa = 0;
  filter->add_option("input", filter_input, "SMILES, CSV or SDF file (.gz too)")->required();
  filter->add_option("-o,--output", filter_output, "molecules that pass: .smi, or CSV")->required();
  filter->add_option("--dropped", filter_dropped, "CSV of the others with every reason");
  filter->add_flag("--no-pains", no_pains, "skip the PAINS alerts");
  filter->add_flag("--no-brenk", no_brenk, "skip Brenk's unwanted groups");
  filter->add_flag("--lipinski", filter_options.lipinski, "at most one rule-of-five violation");
  filter->add_flag("--veber", filter_options.veber, "rotatable bonds <= 10 and TPSA <= 140");
  filter->add_option("--max-sa", max_sa, "synthetic accessibility at most this (1 .. 10)")
      ->check(CLI::Range(1.0, 10.0));
  std::string known_file, reference_file;
  double max_known_similarity = -1, min_similarity = -1, max_similarity = -1;
  filter->add_option("--known", known_file,
                     "novelty: drop molecules in this file (SMILES, CSV or SDF)");
  filter
      ->add_option("--max-known-similarity", max_known_similarity,
                   "novelty: also drop molecules more similar than this to a known one")
      ->check(CLI::Range(0.0, 1.0));
  filter->add_option("--reference", reference_file,
                     "similarity bounds: molecules to compare with (SMILES, CSV or SDF)");
  filter
      ->add_option("--min-similarity", min_similarity,
                   "keep molecules at least this similar to the nearest reference")
      ->check(CLI::Range(0.0, 1.0));
  filter
      ->add_option("--max-similarity", max_similarity,
                   "keep molecules at most this similar to the nearest reference")
      ->check(CLI::Range(0.0, 1.0));
  auto* generate = app.add_subcommand("generate", "propose molecules, one SMILES a line");
  generators::GeneratorOptions generator_options;
  int64_t generate_n = 0;
  std::string generate_output, generate_provenance;
  generate
      ->add_option("--generator", generator_options.kind, "pool, graph_ga, smiles_lm or reactions")
      ->required();
  generate->add_option("-n", generate_n, "how many molecules")
      ->required()
      ->check(CLI::PositiveNumber);
  generate->add_option("-o,--output", generate_output, "SMILES file to write")->required();
  generate->add_option("--seed", generator_options.seed, "random seed (same seed, same output)");
  generate->add_option("--pool", generator_options.pool, "pool: the molecule file to draw from");
  generate->add_option("--smiles-column", generator_options.smiles_column, "pool, CSV: column");
  std::string generate_target;
  generate->add_option(
      "--target", generate_target,
      "graph_ga, smiles_lm, reactions: steer toward this molecule (Tanimoto on Morgan "
      "counts)");
  generate->add_option("--population", generator_options.population, "graph_ga: population");
  generate->add_option("--generations", generator_options.generations, "graph_ga: generations");
  generate->add_option("--mutation-rate", generator_options.mutation_rate,
                       "graph_ga: share of children mutated");
  generate->add_option("--model", generator_options.model,
                       "smiles_lm: model file (default: the shipped ZINC 250k model)");
  generate
      ->add_option("--temperature", generator_options.temperature,
                   "smiles_lm: sampling temperature (1: as trained)")
      ->check(CLI::PositiveNumber);
  generate->add_flag("--no-grammar{false}", generator_options.grammar,
                     "smiles_lm: sample every token, not only those the SMILES grammar allows");
  generate->add_flag(
      "--no-valences{false}", generator_options.valences,
      "smiles_lm: let the grammar overfill valences and leave aromatic rings unkekulizable");
  generate
      ->add_option("--wind-up-after", generator_options.wind_up_after,
                   "smiles_lm: from this many tokens on, the grammar allows only moves towards the "
                   "end (0: never)")
      ->check(CLI::NonNegativeNumber);
  generate->add_option("--device", generator_options.device,
                       "smiles_lm: cpu, cuda or cuda:N (needs a CUDA LibTorch: docs/gpu.md)");
  generate->add_option("--steps", generator_options.steps, "smiles_lm: policy-gradient steps");
  generate->add_option("--batch-size", generator_options.batch_size,
                       "smiles_lm: molecules sampled a step");
  generate->add_option("--sigma", generator_options.sigma,
                       "smiles_lm: weight of the fitness against the prior");
  generate->add_option("--building-blocks", generator_options.building_blocks,
                       "reactions: SMILES/CSV/SDF of building blocks (default: the shipped set)");
  generate->add_option("--reactions", generator_options.reactions,
                       "reactions: file of 'name SMARTS' lines (default: the built-in templates)");
  generate->add_option("--provenance", generate_provenance,
                       "also write a CSV of smiles,inchikey,generator,provenance");
  auto* lm = app.add_subcommand("lm", "the SMILES language model");
  auto* lm_train = lm->add_subcommand("train", "train a SMILES LSTM from scratch");
  lm->require_subcommand(1);
  generators::LmTrainOptions lm_options;
  AddLmTrainOptions(*lm_train, lm_options);
  auto* estop = app.add_subcommand(
      "estop", "emergency stop: halt every instrument and the experiment queue at once");
  estop->add_option("file", campaign, "the campaign file")->required();
  estop->add_option("--by", who, "who stops, for the audit log (default: $USER)");
  std::string estop_reason = "emergency stop";
  estop->add_option("--reason", estop_reason, "why, for the audit log");
  auto* resume = app.add_subcommand(
      "resume", "clear an emergency stop once the lab is safe (needs --ack); instruments reset");
  resume->add_option("file", campaign, "the campaign file")->required();
  resume->add_option("--by", who, "who resumes, for the audit log (default: $USER)");
  bool acknowledged = false;
  resume->add_flag("--ack", acknowledged, "confirm the lab was checked after the stop");
  server::ServeOptions serve_options;
  auto* serve = app.add_subcommand(
      "serve",
      "serve the campaign's JSON API under /api/ for robots and remote GUIs (docs/api.md)");
  serve->add_option("file", serve_options.campaign_path, "the campaign file")->required();
  serve->add_option("--port", serve_options.port, "TCP port (default 8080; 0: any free port)");
  serve->add_option("--bind", serve_options.bind,
                    "address to listen on (default 127.0.0.1; 0.0.0.0 for other machines)");
  serve->add_option("--tls-cert", serve_options.tls_cert, "PEM certificate: serve HTTPS");
  serve->add_option("--tls-key", serve_options.tls_key, "PEM private key of --tls-cert");
  auto* token = app.add_subcommand("token", "API tokens of `labloop serve` (stored hashed)");
  token->require_subcommand(1);
  std::string token_name, token_role = "viewer";
  auto* token_add = token->add_subcommand("add", "make a token and print it (shown only once)");
  token_add->add_option("file", campaign, "the campaign file")->required();
  token_add->add_option("--name", token_name, "who or what uses it (robot1, alice)")->required();
  token_add->add_option("--role", token_role, "viewer, operator or admin (default viewer)")
      ->check(CLI::IsMember({"viewer", "operator", "admin"}));
  auto* token_list = token->add_subcommand("list", "list the tokens (names and roles)");
  token_list->add_option("file", campaign, "the campaign file")->required();
  auto* token_revoke = token->add_subcommand("revoke", "revoke a token at once");
  token_revoke->add_option("file", campaign, "the campaign file")->required();
  token_revoke->add_option("--name", token_name, "the token's name")->required();
  auto* cancel = app.add_subcommand(
      "cancel", "stop the campaign's running batches (Slurm, mpirun) and cancel unfinished jobs");
  cancel->add_option("file", campaign, "the campaign file")->required();
  cancel->add_option("--by", who, "who cancels, for the audit log (default: $USER)");
  bool rejected = false;
  exporter->add_option("--format,-f", format, "csv or sdf (candidates)")
      ->check(CLI::IsMember({"csv", "sdf"}));
  exporter->add_flag("--rejected", rejected,
                     "write the input records rejected at import (CSV) instead of candidates");
  exporter->add_option("-o,--output", output, "output file")->required();

  auto* demo = app.add_subcommand("demo", "create and run the embedded demo campaign");
  demo->add_option("--dir", dir, "demo folder (default ./labloop-demo/)");

  auto* model = app.add_subcommand("model", "train, evaluate and use a model without a campaign");
  model->require_subcommand(1);
  engine::ModelTrainOptions train_options;
  std::string model_path, data_path, target, smiles_column, model_json, model_device = "cpu";
  auto* model_train = model->add_subcommand(
      "train", "fit a model with calibrated uncertainty on a molecule file with a target column");
  model_train->add_option("--data", train_options.data, "SMILES, CSV or SDF file")->required();
  model_train->add_option("--target", train_options.target, "column or SDF field to learn")
      ->required();
  model_train
      ->add_option("--model", train_options.kind,
                   "deep_ensemble, mc_dropout, tanimoto_gp, dmpnn or gp_dmpnn")
      ->check(CLI::IsMember({"deep_ensemble", "mc_dropout", "tanimoto_gp", "dmpnn", "gp_dmpnn"}));
  model_train
      ->add_option("--calibration", train_options.calibration,
                   "sigma_scaling, isotonic, empirical or none")
      ->check(CLI::IsMember({"sigma_scaling", "isotonic", "empirical", "none"}));
  model_train->add_option("--validation", train_options.validation,
                          "share held out to calibrate (default 0.1)");
  model_train
      ->add_option("--calibration-folds", train_options.calibration_folds,
                   "also calibrate on the training rows' K-fold cross-fitted predictions (K more "
                   "fits; the GP uses its exact leave-one-out ones); 0: the validation rows only")
      ->check(CLI::Range(0, 20));
  model_train->add_option("--seed", train_options.seed, "split and training seed");
  model_train->add_option("--descriptors", train_options.descriptors,
                          "add RDKit 2D descriptors scaled to [0, W] beside the fingerprint "
                          "(20 is a good start)");
  AddDescriptorSetOptions(model_train, train_options.descriptor_set,
                          train_options.graph_descriptor_set);
  model_train->add_option("--smiles-column", train_options.smiles_column, "CSV: SMILES column");
  model_train->add_option("--epochs", train_options.epochs, "networks: training epochs");
  model_train->add_option("--hidden", train_options.hidden, "networks: hidden width");
  model_train->add_option("--members", train_options.members, "ensembles: members");
  model_train->add_option("--depth", train_options.depth, "dmpnn, gp_dmpnn: message-passing steps");
  model_train->add_option("--early-stopping", train_options.early_stopping,
                          "networks: share of training rows held out to stop early (e.g. 0.1)");
  model_train->add_option("--device", train_options.device,
                          "cpu, cuda or cuda:N (needs a CUDA LibTorch: docs/gpu.md)");
  model_train->add_option("-o,--output", train_options.output, "model file to write")->required();
  auto* model_evaluate =
      model->add_subcommand("evaluate", "accuracy and calibration of a model on labelled data");
  model_evaluate->add_option("--model", model_path, "model file")->required();
  model_evaluate->add_option("--data", data_path, "SMILES, CSV or SDF file")->required();
  model_evaluate->add_option("--target", target, "column or SDF field (default: the trained one)");
  model_evaluate->add_option("--smiles-column", smiles_column, "CSV: SMILES column");
  model_evaluate->add_option("--device", model_device,
                             "cpu, cuda or cuda:N (needs a CUDA LibTorch: docs/gpu.md)");
  model_evaluate->add_option("--json", model_json,
                             "also write metrics, calibration curve and parity data as JSON");
  std::string model_plot;
  model_evaluate->add_option("--plot", model_plot,
                             "also draw the parity plot and the calibration curve (SVG)");
  auto* model_predict = model->add_subcommand(
      "predict", "write mean, sigma, sigma_epistemic and sigma_aleatoric for each molecule");
  model_predict->add_option("--model", model_path, "model file")->required();
  model_predict->add_option("--data", data_path, "SMILES, CSV or SDF file")->required();
  model_predict->add_option("--smiles-column", smiles_column, "CSV: SMILES column");
  model_predict->add_option("--device", model_device,
                            "cpu, cuda or cuda:N (needs a CUDA LibTorch: docs/gpu.md)");
  model_predict->add_option("-o,--output", output, "CSV to write")->required();

  std::string descriptor_set = "rdkit2d";
  auto* descriptors = app.add_subcommand(
      "descriptors", "write RDKit 2D descriptors of each molecule as CSV columns");
  descriptors->add_option("--data", data_path, "SMILES, CSV or SDF file")->required();
  descriptors->add_option("--smiles-column", smiles_column, "CSV: SMILES column");
  descriptors
      ->add_option("--descriptor-set", descriptor_set,
                   "rdkit2d (206, the default) or basic (16, the campaigns' default)")
      ->check(CLI::IsMember({"basic", "rdkit2d"}));
  descriptors->add_option("-o,--output", output, "CSV to write")->required();

  auto* bench = app.add_subcommand("bench", "benchmarks: print a table and write JSON");
  bench->require_subcommand(1);
  StorePredictionsBench store_options;
  auto* store =
      bench->add_subcommand("store-predictions", "time storing predictions in a campaign file");
  store->add_option("--n", store_options.predictions, "number of predictions");
  store->add_option("--json", store_options.json_path, "write results as JSON");
  FastLoopBench loop_options;
  loop_options.library = "../shared/data/qm9/qm9_130k.smi.gz";
  auto* loop = bench->add_subcommand("fast-loop", "time train + predict + acquire for one round");
  loop->add_option("--library", loop_options.library, "SMILES file of the pool");
  loop->add_option("--candidates", loop_options.candidates, "pool size");
  loop->add_option("--train", loop_options.training, "training set size");
  loop->add_option("--batch", loop_options.batch, "batch size to select");
  loop->add_option("--repeats", loop_options.repeats, "rounds to time");
  loop->add_option("--epochs", loop_options.epochs, "training epochs (default: the model's)");
  loop->add_option("--batch-size", loop_options.batch_size,
                   "training minibatch (default: the model's)");
  loop->add_option("--threads", loop_options.threads, "LibTorch threads (default: one per core)");
  loop->add_option("--json", loop_options.json_path, "write results as JSON");
  PredictorsBench predictors_options;
  std::string predictors_model;
  auto* predictors = bench->add_subcommand(
      "predictors", "accuracy and calibrated uncertainty on ESOL (BENCHMARKS.md 2)");
  predictors->add_option("--data", predictors_options.data, "CSV with smiles and the target");
  predictors->add_option("--target", predictors_options.target, "target column");
  predictors->add_option("--scaffold-split", predictors_options.scaffold_dir,
                         "folder with train/valid/test.csv (empty: skip)");
  predictors->add_option("--model", predictors_model,
                         "one model kind (default: the fingerprint models; dmpnn and gp_dmpnn "
                         "only when named)");
  predictors->add_option("--seeds", predictors_options.seeds, "random splits");
  predictors->add_option("--throughput-rows", predictors_options.throughput_rows,
                         "molecules to time prediction on (0: skip)");
  predictors->add_option("--descriptors", predictors_options.descriptors,
                         "add RDKit 2D descriptors scaled to [0, W] beside the fingerprint");
  AddDescriptorSetOptions(predictors, predictors_options.descriptor_set,
                          predictors_options.graph_descriptor_set);
  predictors->add_option("--json", predictors_options.json_path, "write results as JSON");
  predictors->add_option(
      "--predictions", predictors_options.predictions_path,
      "write every raw test, validation and held-out training prediction as CSV (split, seed, "
      "model, y, mean, σ)");
  predictors->add_option("--epochs", predictors_options.epochs, "networks: training epochs");
  predictors->add_option("--hidden", predictors_options.hidden, "networks: hidden width");
  predictors->add_option("--members", predictors_options.members, "ensembles: members");
  predictors->add_option("--early-stopping", predictors_options.early_stopping,
                         "networks: share of training rows held out to stop early");
  predictors
      ->add_option("--calibration-folds", predictors_options.calibration_folds,
                   "also calibrate on the training rows' K-fold cross-fitted predictions (K "
                   "extra fits; 0: no)")
      ->check(CLI::Range(0, 20));
  SimulatorsBench simulators_options;
  auto* sims = bench->add_subcommand(
      "simulators",
      "xtb molecules per second over MPI ranks against a plain loop (BENCHMARKS.md 4)");
  sims->add_option("--input", simulators_options.input, "SMILES file");
  sims->add_option("--molecules", simulators_options.molecules, "how many of its first molecules");
  sims->add_option("--ranks", simulators_options.ranks, "rank counts to time (default 1 2)");
  sims->add_option("--sim", simulators_options.sim, "labloop-sim (default: next to labloop)");
  sims->add_option("--json", simulators_options.json_path, "write results as JSON");
  sims->add_option("--qm9-reference", simulators_options.qm9_reference,
                   "GFN2-xTB atomization energies to check against ('' skips the check)");
  sims->add_option("--qm9-molecules", simulators_options.qm9_molecules,
                   "how many of its molecules (0: all)");
  sims->add_flag("--check-only", simulators_options.check_only,
                 "only the atomization-energy check, no throughput");
  GeneratorsBench generators_bench;
  auto* gens = bench->add_subcommand(
      "generators",
      "SMILES LSTM validity, uniqueness, novelty, diversity, speed; rediscovery (BENCHMARKS.md 3)");
  gens->add_option("--training", generators_bench.training, "the LSTM's training SMILES");
  gens->add_option("--model", generators_bench.model, "LSTM model file (default: shipped)");
  gens->add_option("--samples", generators_bench.samples, "raw samples (0: skip)");
  gens->add_option("--temperature", generators_bench.temperature, "sampling temperature");
  gens->add_flag("--no-grammar{false}", generators_bench.grammar,
                 "sample every token, not only those the SMILES grammar allows");
  gens->add_flag("--no-valences{false}", generators_bench.valences,
                 "let the grammar overfill valences and leave aromatic rings unkekulizable");
  gens->add_option("--wind-up-after", generators_bench.wind_up_after,
                   "from this many tokens on, the grammar allows only moves towards the end "
                   "(0: never)")
      ->check(CLI::NonNegativeNumber);
  gens->add_flag("--tensor-sampler", generators_bench.tensor_sampler,
                 "sample with the batched tensor sampler GPUs run, on the CPU too");
  gens->add_option("--target", generators_bench.target, "molecule to rediscover ('' skips)");
  gens->add_option("--goal-generators", generators_bench.goal_generators,
                   "generators for rediscovery (default graph_ga smiles_lm)");
  gens->add_option("--seeds", generators_bench.seeds, "seeds per rediscovery generator");
  gens->add_option("--first-seed", generators_bench.first_seed, "the first rediscovery seed");
  gens->add_option("--ga-pool", generators_bench.ga_pool, "graph_ga starting molecules");
  gens->add_option("--ga-population", generators_bench.ga_population, "graph_ga population");
  gens->add_option("--ga-generations", generators_bench.ga_generations, "graph_ga generations");
  gens->add_option("--lm-steps", generators_bench.lm_steps, "smiles_lm policy-gradient steps");
  gens->add_option("--lm-batch", generators_bench.lm_batch, "smiles_lm samples a step");
  gens->add_option("--lm-sigma", generators_bench.lm_sigma, "smiles_lm fitness weight");
  gens->add_option("--lm-learning-rate", generators_bench.lm_learning_rate,
                   "smiles_lm steering's Adam learning rate");
  gens->add_option("--raw", generators_bench.raw_path,
                   "write every raw LSTM sample, valid or not, one a line");
  gens->add_option("--json", generators_bench.json_path, "write results as JSON");
  BrowseBench browse_bench;
  auto* browse = bench->add_subcommand(
      "browse", "open, page, sort, search a large campaign as the GUI does (BENCHMARKS.md 5)");
  browse->add_option("--candidates", browse_bench.candidates, "candidates (default 1,000,000)");
  browse->add_option("--library", browse_bench.library, "SMILES for the candidates");
  browse->add_option("--substructure", browse_bench.substructure, "SMARTS to search for");
  browse->add_option("--keep", browse_bench.keep,
                     "keep the campaign file at this path (e.g. for labloop-gui --time-open)");
  browse->add_option("--json", browse_bench.json_path, "write results as JSON");
  InstrumentsBench instruments_bench;
  auto* instruments_cmd = bench->add_subcommand(
      "instruments", "instrument round trips, lost-reply recovery, emergency stop, 4PL fits");
  instruments_cmd->add_option("--emulator", instruments_bench.emulator,
                              "labloop-emulator (default: next to labloop)");
  instruments_cmd->add_option("--round-trips", instruments_bench.round_trips, "status queries");
  instruments_cmd->add_option("--stops", instruments_bench.stops, "emergency stops to time");
  instruments_cmd->add_option("--fits", instruments_bench.fits, "simulated curves to fit");
  instruments_cmd->add_option("--json", instruments_bench.json_path, "write results as JSON");
  AlBench al_options;
  al_options.library = "../shared/data/molpal/libraries_Enamine10k.csv.gz";
  al_options.scores = "../shared/data/molpal/data_Enamine10k_scores.csv.gz";
  al_options.baseline_script = std::string(LABLOOP_SOURCE_DIR) + "/bench/baselines/molpal_rf.py";
  std::string al_model, al_acquisition;
  bool no_baseline = false;
  auto* al = bench->add_subcommand(
      "al", "retrospective active learning on docking scores (MolPAL protocol, BENCHMARKS.md 1)");
  al->add_option("--library", al_options.library, "CSV with a smiles column");
  al->add_option("--scores", al_options.scores, "CSV of smiles,score (lower is better)");
  al->add_option("--model", al_model, "one model kind (default: every one)");
  al->add_option("--acquisition", al_acquisition,
                 "one acquisition function (default: greedy, ucb, thompson, ei, pi, random)");
  al->add_option("--batch-selection", al_options.batch_selection, "top_k, diverse or maxmin")
      ->check(CLI::IsMember(learners::BatchKinds()));
  al->add_option("--max-similarity", al_options.max_similarity, "diverse: most similar two picks");
  al->add_option("--seeds", al_options.seeds, "replicate runs");
  al->add_option("--init", al_options.init, "initial random batch, as a fraction of the library");
  al->add_option("--batch", al_options.batch, "each later batch, as a fraction of the library");
  al->add_option("--iters", al_options.iters, "batches chosen by the acquisition function");
  al->add_option("--top-k", al_options.top_k, "k of the top-k metrics");
  al->add_option("--beta", al_options.beta, "ucb: value + beta sigma");
  al->add_option("--xi", al_options.xi, "ei, pi: margin of improvement");
  al->add_option("--threshold", al_options.threshold, "threshold: the score to beat");
  al->add_option("--hidden", al_options.hidden, "model width (default: the model's)");
  al->add_option("--epochs", al_options.epochs, "training epochs (default: the model's)");
  al->add_option("--members", al_options.members, "ensemble members (default: the model's)");
  al->add_option("--scale-pool", al_options.scale_pool,
                 "also time scoring a pool this large (0: skip)");
  al->add_option("--python", al_options.python, "interpreter for the baseline");
  al->add_option("--baseline", al_options.baseline_script, "the Python baseline script");
  al->add_flag("--no-baseline", no_baseline, "do not run the Python baseline");
  al->add_option("--json", al_options.json_path, "write results as JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);  // prints help or the usage error
    return code == 0 ? 0 : 2;
  }
  LogLevel level = LogLevel::kInfo;
  ParseLogLevel(log_level, level);
  SetLogLevel(level);

  if (*init) {
    auto s = engine::InitCampaign(campaign, config_path);
    if (!s) return Fail(s.error());
    std::cout << "created " << campaign << "\n";
    return 0;
  }
  if (*run) {
    engine::RunOptions options;
    options.max_rounds = rounds;
    auto summary = engine::RunCampaign(campaign, options);
    if (!summary) return Fail(summary.error());
    std::cout << "stopped: " << summary->stop_reason << " (" << summary->rounds_run << " rounds, "
              << summary->evaluations << " evaluations in this run)\n";
    return 0;
  }
  if (*model_train) {
    auto report = engine::TrainModelFile(train_options);
    if (!report) return Fail(report.error());
    for (const auto& skipped : report->skipped) std::cerr << "skipped " << skipped << "\n";
    std::cout << "trained " << train_options.kind << " on " << report->training << " rows in "
              << report->fit_seconds << " s; " << report->skipped.size() << " rows skipped\n"
              << "validation (" << report->validation << " rows): rmse "
              << report->validation_raw.rmse << ", miscalibration area "
              << report->validation_raw.miscalibration_area << " -> "
              << report->validation_calibrated.miscalibration_area << " after "
              << train_options.calibration;
    if (train_options.calibration != "none") {
      std::cout << " (fitted on " << report->calibration_rows << " rows: " << report->calibrated_on
                << ")";
    }
    std::cout << "\nwrote " << train_options.output << "\n";
    return 0;
  }
  if (*model_evaluate) {
    auto e = engine::EvaluateModelFile(model_path, data_path, target, smiles_column, model_device);
    if (!e) return Fail(e.error());
    for (const auto& skipped : e->skipped) std::cerr << "skipped " << skipped << "\n";
    std::printf("%lld rows (%zu skipped)\n", static_cast<long long>(e->rows), e->skipped.size());
    std::printf("  %-22s %10s %10s\n", "", "raw σ", "calibrated");
    auto row = [](const char* name, double a, double b) {
      std::printf("  %-22s %10.4f %10.4f\n", name, a, b);
    };
    row("rmse", e->raw.rmse, e->calibrated.rmse);
    row("mae", e->raw.mae, e->calibrated.mae);
    row("r2", e->raw.r2, e->calibrated.r2);
    row("spearman(|err|, σ)", e->raw.spearman, e->calibrated.spearman);
    row("nll", e->raw.nll, e->calibrated.nll);
    row("miscalibration area", e->raw.miscalibration_area, e->calibrated.miscalibration_area);
    row("ence", e->raw.ence, e->calibrated.ence);
    if (!model_json.empty()) {
      auto s = engine::WriteModelEvaluationJson(*e, model_json);
      if (!s) return Fail(s.error());
    }
    if (!model_plot.empty()) {
      auto s = engine::WriteEvaluationSvg(*e, model_path + " on " + data_path, model_plot);
      if (!s) return Fail(s.error());
      std::printf("drew %s\n", model_plot.c_str());
    }
    return 0;
  }
  if (*descriptors) {
    auto set = chem::ParseDescriptorSet(descriptor_set);
    if (!set) return Fail(set.error());
    auto p = engine::WriteDescriptorFile(data_path, *set, output, smiles_column);
    if (!p) return Fail(p.error());
    for (const auto& skipped : p->skipped) std::cerr << "skipped " << skipped << "\n";
    std::cout << "wrote " << chem::DescriptorNames(*set).size() << " descriptors of " << p->written
              << " molecules to " << output << " (" << p->skipped.size() << " rows skipped)\n";
    return 0;
  }
  if (*model_predict) {
    auto p =
        engine::PredictWithModelFile(model_path, data_path, output, smiles_column, model_device);
    if (!p) return Fail(p.error());
    for (const auto& skipped : p->skipped) std::cerr << "skipped " << skipped << "\n";
    std::cout << "wrote " << p->written << " predictions to " << output << " (" << p->skipped.size()
              << " rows skipped)\n";
    return 0;
  }
  if (*approve) {
    auto n = engine::ApproveCandidates(campaign, candidate_ids, approve_all, who);
    if (!n) return Fail(n.error());
    std::cout << "approved " << *n << " decisions (by " << who << "); labloop run continues\n";
    return 0;
  }
  if (*reject) {
    auto n = engine::RejectCandidates(campaign, candidate_ids, who, reason);
    if (!n) return Fail(n.error());
    std::cout << "rejected " << *n << " decisions (by " << who << "): their jobs are cancelled\n";
    return 0;
  }
  if (*filter) {
    filter_options.pains = !no_pains;
    filter_options.brenk = !no_brenk;
    if (max_sa > 0) filter_options.max_sa = max_sa;
    if (!known_file.empty()) {
      auto known = chem::ReferenceSet::FromFile(known_file);
      if (!known) return Fail(known.error());
      filter_options.known = *known;
    }
    if (max_known_similarity >= 0) filter_options.max_known_similarity = max_known_similarity;
    if (!reference_file.empty()) {
      auto reference = chem::ReferenceSet::FromFile(reference_file);
      if (!reference) return Fail(reference.error());
      filter_options.reference = *reference;
    }
    if ((min_similarity >= 0 || max_similarity >= 0) && !filter_options.reference) {
      return Fail(Error{ErrorCode::kInvalidArgument,
                        "--min-similarity and --max-similarity need --reference FILE"});
    }
    if (min_similarity >= 0) filter_options.min_similarity = min_similarity;
    if (max_similarity >= 0) filter_options.max_similarity = max_similarity;
    auto r =
        engine::FilterMoleculeFile(filter_input, filter_output, filter_dropped, filter_options);
    if (!r) return Fail(r.error());
    for (const auto& skipped : r->skipped) std::cerr << "skipped " << skipped << "\n";
    std::cout << "kept " << r->kept << " of " << r->read << " molecules in " << filter_output
              << " (" << r->dropped << " dropped, " << r->skipped.size() << " unreadable)\n";
    return 0;
  }
  if (*generate) {
    generators::GeneratorRegistry registry("generator");
    generators::RegisterBuiltinGenerators(registry);
    if (!generate_target.empty()) {
      auto fitness = generators::SimilarityFitness(generate_target);
      if (!fitness) return Fail(fitness.error());
      generator_options.fitness = *fitness;
    }
    auto generator = registry.Create(generator_options.kind, generator_options);
    if (!generator) return Fail(generator.error());
    auto proposals = (*generator)->Generate(generate_n);
    if (!proposals) return Fail(proposals.error());
    std::ofstream out(generate_output);
    for (const auto& p : *proposals) out << p.smiles << "\n";
    out.close();
    if (!out) return Fail(Error{ErrorCode::kFailedPrecondition, "cannot write " + generate_output});
    if (!generate_provenance.empty()) {
      std::ofstream csv(generate_provenance);
      csv << "smiles,inchikey,generator,provenance\n";
      for (const auto& p : *proposals) {
        csv << chem::CsvField(p.smiles) << "," << p.inchikey << "," << p.generator << ","
            << chem::CsvField(p.provenance) << "\n";
      }
      csv.close();
      if (!csv) {
        return Fail(Error{ErrorCode::kFailedPrecondition, "cannot write " + generate_provenance});
      }
    }
    std::cout << "wrote " << proposals->size() << " molecules to " << generate_output << "\n";
    if ((*generator)->Report() != "{}") std::cout << (*generator)->Report() << "\n";
    return 0;
  }
  if (*lm_train) {
    auto trained = RunLmTrain(lm_options);
    return trained ? 0 : Fail(trained.error());
  }
  if (*estop) {
    auto r = engine::EmergencyStop(campaign, who, estop_reason);
    if (!r) return Fail(r.error());
    std::cout << "EMERGENCY STOP: " << r->instruments_stopped << " instruments stopped in "
              << static_cast<int>(r->seconds * 1000) << " ms, " << r->experiments_aborted
              << " running experiments aborted; nothing runs until `labloop resume " << campaign
              << " --ack`\n";
    for (const auto& f : r->failures) std::cerr << "NOT STOPPED: " << f << "\n";
    if (r->experiments_unconfirmed > 0) {
      std::cerr << "NOT STOPPED: " << r->experiments_unconfirmed
                << " experiments on those instruments may still be running\n";
    }
    return r->failures.empty() ? 0 : 3;
  }
  if (*resume) {
    if (!acknowledged) {
      return Fail(Error{ErrorCode::kFailedPrecondition,
                        "resume needs --ack: confirm that the lab was checked after the stop"});
    }
    auto r = engine::ResumeAfterStop(campaign, who);
    if (!r) return Fail(r.error());
    std::cout << "emergency stop cleared (by " << who << "); instruments reset\n";
    return 0;
  }
  if (*serve) return server::Serve(serve_options);
  if (*token_add) {
    auto t = server::AddToken(campaign, token_name, token_role);
    if (!t) return Fail(t.error());
    std::cout << *t << "\n";
    std::cerr << "token '" << token_name << "' (" << token_role
              << "): keep it secret, it is not shown again\n";
    return 0;
  }
  if (*token_list) {
    auto tokens = server::ListTokens(campaign);
    if (!tokens) return Fail(tokens.error());
    for (const auto& t : *tokens) {
      std::cout << t.name << "\t" << t.role << "\tcreated " << t.created_at
                << (t.revoked_at.empty() ? "" : "\trevoked " + t.revoked_at) << "\n";
    }
    return 0;
  }
  if (*token_revoke) {
    auto r = server::RevokeToken(campaign, token_name);
    if (!r) return Fail(r.error());
    std::cout << "revoked token '" << token_name << "'\n";
    return 0;
  }
  if (*cancel) {
    auto c = engine::CancelUnfinishedJobs(campaign, who);
    if (!c) return Fail(c.error());
    for (const auto& batch : c->batches) std::cout << "stopped batch " << batch << "\n";
    std::cout << "cancelled " << c->jobs << " jobs (by " << who << ")\n";
    return 0;
  }
  if (*status) {
    auto s = engine::GetStatus(campaign);
    if (!s) return Fail(s.error());
    std::cout << (as_json ? engine::StatusJson(*s) + "\n" : engine::StatusTable(*s));
    return 0;
  }
  if (*exporter) {
    if (rejected) {
      if (format == "sdf") {
        std::cerr << "labloop: error: --rejected writes CSV (rejected records may not parse as "
                     "molecules); drop --format sdf\n";
        return 2;
      }
      auto written = engine::ExportRejected(campaign, output);
      if (!written) return Fail(written.error());
      std::cout << "wrote " << *written << " rejected records to " << output << "\n";
      return 0;
    }
    if (format.empty()) {
      std::cerr << "labloop: error: export needs --format csv|sdf (or --rejected)\n";
      return 2;
    }
    auto written = engine::ExportCampaign(
        campaign, format == "csv" ? engine::ExportFormat::kCsv : engine::ExportFormat::kSdf,
        output);
    if (!written) return Fail(written.error());
    std::cout << "wrote " << *written << " candidates to " << output << "\n";
    return 0;
  }
  if (*demo) {
    engine::DemoOptions options;
    options.dir = dir;
    auto s = engine::RunDemo(options, std::cout);
    if (!s) return Fail(s.error());
    return 0;
  }
  if (*store) {
    auto s = RunStorePredictionsBench(store_options);
    return s ? 0 : Fail(s.error());
  }
  if (*loop) {
    auto s = RunFastLoopBench(loop_options);
    return s ? 0 : Fail(s.error());
  }
  if (*browse) {
    auto r = RunBrowseBench(browse_bench);
    return r ? 0 : Fail(r.error());
  }
  if (*instruments_cmd) {
    auto r = RunInstrumentsBench(instruments_bench);
    if (!r) return Fail(r.error());
    return 0;
  }
  if (*gens) {
    auto g = RunGeneratorsBench(generators_bench);
    if (!g) return Fail(g.error());
    return 0;
  }
  if (*sims) {
    auto s = RunSimulatorsBench(simulators_options);
    return s ? 0 : Fail(s.error());
  }
  if (*predictors) {
    if (!predictors_model.empty()) predictors_options.models = {predictors_model};
    auto s = RunPredictorsBench(predictors_options);
    return s ? 0 : Fail(s.error());
  }
  if (*al) {
    if (!al_model.empty()) al_options.models = {al_model};
    if (!al_acquisition.empty()) al_options.acquisitions = {al_acquisition};
    if (no_baseline) al_options.baseline_script.clear();
    auto s = RunAlBench(al_options);
    return s ? 0 : Fail(s.error());
  }
  return 2;
}

}  // namespace labloop::cli
