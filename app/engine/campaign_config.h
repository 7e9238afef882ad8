#pragma once
// CampaignConfig: a campaign's TOML config, parsed, validated and with defaults filled in.
//
// Every error names the key, the value and what is allowed. Relative paths are resolved against
// the config file's folder, and ToToml() writes the resolved config that the campaign file keeps,
// so a campaign runs the same wherever it is started from.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/chem/descriptors.h"
#include "core/chem/filters.h"
#include "core/chem/fingerprint.h"
#include "core/chem/reader.h"
#include "core/config.h"
#include "generators/generator.h"
#include "instruments/assay_fit.h"
#include "instruments/instrument.h"
#include "learners/acquisition.h"
#include "learners/batch.h"
#include "learners/objectives.h"
#include "learners/property_model.h"
#include "learners/router.h"
#include "simulators/launcher.h"
#include "simulators/simulator.h"

namespace labloop::db {
class CampaignDb;
}

namespace labloop::engine {

// A generator in the loop ([generators.NAME]): each model-guided round it proposes `per_round`
// new molecules, steered by the round's acquisition values; they pass the [filters] and join the
// pool as candidates with source "generator:NAME" and their provenance.
struct CampaignGenerator {
  std::string name;
  int per_round = 50;
  generators::GeneratorOptions options;
};

// [experiment]: how an `experiment` decision is carried out on the [instruments.NAME]: an optional
// synthesis step, then a dose-response assay whose 4PL fit gives `property` (pIC50) with its σ.
struct ExperimentConfig {
  std::string property = "pic50";  // what the assay's fit reports (the objective's name)
  std::string synthesizer;         // instrument for the synthesis step; empty: none
  double amount_mg = 5;
  double min_yield = 0.1;           // less and the job fails: not enough compound to assay
  std::string reader;               // instrument for the assay
  double top_concentration = 1e-4;  // mol/L, the first well of the dilution series
  int points = 10;
  double fold = 3;
  double poll_seconds = 0.2;  // how often running experiments are looked at
  double timeout = 3600;      // seconds a step may take before it is aborted
  int per_round = 0;          // experiments the router may dispatch each round
  instruments::AssayFitOptions fit;
};

// [filters]: what generated molecules must pass (library molecules are the chemist's own choice).
struct GeneratedFilters {
  chem::FilterOptions options;
  std::string known;      // novelty: a file of known molecules (empty: only the campaign's own)
  std::string reference;  // similarity bounds: a file of reference molecules
};

struct CampaignConfig {
  std::string name = "campaign";
  uint64_t seed = 0;

  std::vector<std::string> library_files;  // absolute paths
  chem::ReadOptions read;

  std::string property;  // the objective (the primary one when there are several)
  learners::Direction direction = learners::Direction::kMinimize;
  // Every objective, the primary first (property, direction above); more than one makes the
  // campaign multi-objective: one model per property, acquisition ehvi or desirability.
  std::vector<learners::Objective> objectives;
  std::vector<double> hv_reference;  // ehvi's reference point; empty: from the measurements
  int acquisition_samples = 32;      // posterior draws per candidate for ehvi and desirability

  chem::MorganOptions fingerprint;
  // > 0: RDKit 2D descriptors beside the fingerprint, each scaled to [0, descriptor_weight] over
  // the pool ([features] descriptors = W).
  double descriptor_weight = 0;
  // Which ones: beside the fingerprint ([features] descriptor_set) and, for graph models, beside
  // the graph readout ([features] graph_descriptor_set). "basic" (16, cheap) for both by default,
  // which campaigns made before the choice existed keep; "rdkit2d" (206) makes the GP more
  // accurate, the D-MPNN less (core/chem/descriptors.h).
  chem::DescriptorSets descriptor_sets;
  learners::ModelOptions model;
  // σ calibration of each round's model: none, sigma_scaling, isotonic or empirical, fitted on
  // a held-out share of the measurements and stored with the model version.
  std::string calibration = "none";
  double calibration_fraction = 0.2;
  // > 0: instead of one held-out share, every measurement calibrates: K models, each fitted
  // without a K-th of them, predict that K-th ([model] calibration_folds; K − 1 more fits a
  // round than the held-out share). The GP needs none: its round model's exact leave-one-out
  // predictions are used instead.
  int calibration_folds = 0;
  learners::AcquisitionOptions acquisition;
  learners::BatchOptions batch_selection;
  // trust_sigma > 0 lets the router trust confident predictions instead of simulating them.
  // Experiments need the instrument layer: until it exists, no experiment is dispatched.
  learners::RouterOptions router;
  // Routes whose decisions wait for `labloop approve` before their jobs run.
  std::vector<std::string> approval_routes{"experiment"};
  // Hard constraints on RDKit descriptors ([constraints.mol_wt] max = 500): a pick outside them
  // is rejected by the router, with the reason, and never proposed again.
  std::vector<learners::Constraint> constraints;
  simulators::SimulatorOptions simulator;
  int simulator_threads = 0;  // 0: one per core
  // Where simulations run: in-process threads (default), labloop-sim under mpirun, or Slurm.
  simulators::LauncherOptions launcher;

  std::vector<instruments::InstrumentOptions> instruments;
  ExperimentConfig experiment;
  std::vector<CampaignGenerator> generators;
  GeneratedFilters filters;

  int initial_batch = 32;         // round 0: picked at random
  int batch_size = 32;            // later rounds: picked by the acquisition function
  int64_t max_evaluations = 256;  // the budget, in evaluations (jobs)
  int max_rounds = 0;             // 0: no limit besides the budget
  int min_training_points = 8;    // below this, rounds pick at random

  // Stopping rules besides the budget (0 / unset: off).
  int stop_no_improvement_rounds = 0;  // stop when the best has not improved for this many rounds
  std::optional<double> stop_target;   // stop once a measured value reaches this one

  // Resolved TOML, as stored in the campaign file.
  std::string ToToml() const;
};

// `base_dir` resolves relative paths (the config file's folder).
Result<CampaignConfig> ParseCampaignConfig(const Config& config, const std::string& base_dir);
Result<CampaignConfig> LoadCampaignConfig(const std::string& path);
// The config stored in a campaign file (refused when its init did not finish).
Result<CampaignConfig> ConfigOf(db::CampaignDb& db);

const char* DirectionName(learners::Direction direction);

}  // namespace labloop::engine
