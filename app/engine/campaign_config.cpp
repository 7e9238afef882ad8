#include "app/engine/campaign_config.h"

#include "core/chem/descriptors.h"
#include "learners/cross_fit.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>

namespace labloop::engine {

namespace fs = std::filesystem;

const char* DirectionName(learners::Direction direction) {
  return direction == learners::Direction::kMinimize ? "minimize" : "maximize";
}

namespace {

Status ParseInstruments(const Config& config, CampaignConfig& c) {
  int64_t v = 0;
  for (const auto& name : config.Keys("instruments")) {
    const std::string key = "instruments." + name + ".";
    instruments::InstrumentOptions o;
    o.name = name;
    LABLOOP_ASSIGN(o.driver, config.GetEnum(key + "driver", {"scpi", "http"}, "scpi"));
    LABLOOP_ASSIGN(o.transport.address, config.GetString(key + "address", ""));
    if (o.transport.address.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       config.Source() + ": instrument '" + name + "' needs '" + key +
                           "address' (tcp:HOST:PORT, serial:DEVICE or http://HOST:PORT)");
    }
    LABLOOP_ASSIGN(o.transport.timeout,
                   config.GetDouble(key + "timeout", o.transport.timeout, 0.001, 86400));
    LABLOOP_ASSIGN(v, config.GetInt(key + "retries", o.transport.retries, 0, 100));
    o.transport.retries = static_cast<int>(v);
    LABLOOP_ASSIGN(o.transport.backoff,
                   config.GetDouble(key + "backoff", o.transport.backoff, 0, 3600));
    LABLOOP_ASSIGN(v, config.GetInt(key + "baud", o.transport.baud, 50, 4000000));
    o.transport.baud = static_cast<int>(v);
    for (const auto& op : config.Keys(key + "commands")) {
      if (!instruments::DefaultScpiCommands().count(op)) {
        return MakeError(ErrorCode::kInvalidArgument,
                         config.Source() + ": key '" + key + "commands." + op +
                             "' is no instrument operation (identify, capabilities, submit, "
                             "status, fetch, abort, stop, reset)");
      }
      LABLOOP_ASSIGN(o.commands[op], config.GetString(key + "commands." + op, ""));
    }
    c.instruments.push_back(std::move(o));
  }
  auto& e = c.experiment;
  LABLOOP_ASSIGN(e.property, config.GetString("experiment.property", e.property));
  LABLOOP_ASSIGN(e.synthesizer, config.GetString("experiment.synthesizer", ""));
  LABLOOP_ASSIGN(e.amount_mg, config.GetDouble("experiment.amount_mg", e.amount_mg, 1e-6, 1e6));
  LABLOOP_ASSIGN(e.min_yield, config.GetDouble("experiment.min_yield", e.min_yield, 0, 1));
  LABLOOP_ASSIGN(e.reader, config.GetString("experiment.reader", ""));
  LABLOOP_ASSIGN(e.top_concentration,
                 config.GetDouble("experiment.top_concentration", e.top_concentration, 1e-15, 10));
  LABLOOP_ASSIGN(v, config.GetInt("experiment.points", e.points, 7, 384));
  e.points = static_cast<int>(v);
  LABLOOP_ASSIGN(e.fold, config.GetDouble("experiment.fold", e.fold, 1.01, 1000));
  LABLOOP_ASSIGN(e.poll_seconds,
                 config.GetDouble("experiment.poll_seconds", e.poll_seconds, 0.001, 3600));
  LABLOOP_ASSIGN(e.timeout, config.GetDouble("experiment.timeout", e.timeout, 0.1, 1e7));
  LABLOOP_ASSIGN(v, config.GetInt("experiment.per_round", e.per_round, 0, 1000000));
  e.per_round = static_cast<int>(v);
  LABLOOP_ASSIGN(e.fit.min_r2, config.GetDouble("experiment.min_r2", e.fit.min_r2, 0, 1));
  LABLOOP_ASSIGN(e.fit.max_sigma,
                 config.GetDouble("experiment.max_sigma", e.fit.max_sigma, 1e-6, 100));
  auto known = [&](const std::string& instrument) {
    return std::any_of(c.instruments.begin(), c.instruments.end(),
                       [&](const auto& i) { return i.name == instrument; });
  };
  for (const auto& [role, instrument] :
       {std::pair<std::string, std::string>{"synthesizer", e.synthesizer}, {"reader", e.reader}}) {
    if (!instrument.empty() && !known(instrument)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       config.Source() + ": key 'experiment." + role + "' names instrument '" +
                           instrument + "', which has no [instruments." + instrument + "] table");
    }
  }
  if (e.per_round > 0 && e.reader.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     config.Source() +
                         ": experiments (experiment.per_round > 0) need experiment.reader, the "
                         "instrument that runs the assay");
  }
  return {};
}

std::string InstrumentsToToml(const CampaignConfig& c) {
  std::ostringstream out;
  for (const auto& i : c.instruments) {
    out << "\n[instruments." << i.name << "]\ndriver = " << TomlString(i.driver)
        << "\naddress = " << TomlString(i.transport.address)
        << "\ntimeout = " << TomlFloat(i.transport.timeout) << "\nretries = " << i.transport.retries
        << "\nbackoff = " << TomlFloat(i.transport.backoff) << "\nbaud = " << i.transport.baud
        << "\n";
    if (!i.commands.empty()) {
      out << "\n[instruments." << i.name << ".commands]\n";
      for (const auto& [op, text] : i.commands) out << op << " = " << TomlString(text) << "\n";
    }
  }
  const auto& e = c.experiment;
  out << "\n[experiment]\nproperty = " << TomlString(e.property);
  if (!e.synthesizer.empty()) out << "\nsynthesizer = " << TomlString(e.synthesizer);
  out << "\namount_mg = " << TomlFloat(e.amount_mg) << "\nmin_yield = " << TomlFloat(e.min_yield);
  if (!e.reader.empty()) out << "\nreader = " << TomlString(e.reader);
  out << "\ntop_concentration = " << TomlFloat(e.top_concentration) << "\npoints = " << e.points
      << "\nfold = " << TomlFloat(e.fold) << "\npoll_seconds = " << TomlFloat(e.poll_seconds)
      << "\ntimeout = " << TomlFloat(e.timeout) << "\nper_round = " << e.per_round
      << "\nmin_r2 = " << TomlFloat(e.fit.min_r2) << "\nmax_sigma = " << TomlFloat(e.fit.max_sigma)
      << "\n";
  return out.str();
}

Status ParseGenerators(const Config& config, const std::string& base_dir, CampaignConfig& c) {
  int64_t v = 0;
  for (const auto& name : config.Keys("generators")) {
    const std::string key = "generators." + name + ".";
    CampaignGenerator g;
    g.name = name;
    auto& o = g.options;
    LABLOOP_ASSIGN(
        o.kind, config.GetEnum(key + "kind", {"pool", "graph_ga", "smiles_lm", "reactions"}, ""));
    if (o.kind.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       config.Source() + ": generator '" + name + "' needs '" + key +
                           "kind' (pool, graph_ga, smiles_lm or reactions)");
    }
    LABLOOP_ASSIGN(v, config.GetInt(key + "per_round", g.per_round, 1, 1000000));
    g.per_round = static_cast<int>(v);
    LABLOOP_ASSIGN(o.pool, config.GetString(key + "pool", ""));
    if (!o.pool.empty()) o.pool = ResolvePath(o.pool, base_dir);
    if (o.kind == "pool" && o.pool.empty()) {
      return MakeError(ErrorCode::kInvalidArgument, config.Source() + ": generator '" + name +
                                                        "' (pool) needs '" + key +
                                                        "pool', the molecule file to draw from");
    }
    LABLOOP_ASSIGN(o.smiles_column, config.GetString(key + "smiles_column", ""));
    LABLOOP_ASSIGN(v, config.GetInt(key + "population", o.population, 2, 100000));
    o.population = static_cast<int>(v);
    LABLOOP_ASSIGN(v, config.GetInt(key + "generations", o.generations, 0, 100000));
    o.generations = static_cast<int>(v);
    LABLOOP_ASSIGN(o.mutation_rate, config.GetDouble(key + "mutation_rate", o.mutation_rate, 0, 1));
    LABLOOP_ASSIGN(v, config.GetInt(key + "min_heavy_atoms", o.min_heavy_atoms, 1, 1000));
    o.min_heavy_atoms = static_cast<int>(v);
    LABLOOP_ASSIGN(v, config.GetInt(key + "max_heavy_atoms", o.max_heavy_atoms, 1, 1000));
    o.max_heavy_atoms = static_cast<int>(v);
    if (o.min_heavy_atoms > o.max_heavy_atoms) {
      return MakeError(ErrorCode::kInvalidArgument,
                       config.Source() + ": table '" + key.substr(0, key.size() - 1) +
                           "' has min_heavy_atoms above max_heavy_atoms: no molecule could pass");
    }
    LABLOOP_ASSIGN(o.model, config.GetString(key + "model", ""));
    if (!o.model.empty()) o.model = ResolvePath(o.model, base_dir);
    LABLOOP_ASSIGN(o.temperature, config.GetDouble(key + "temperature", o.temperature, 0.01, 10));
    LABLOOP_ASSIGN(o.grammar, config.GetBool(key + "grammar", o.grammar));
    LABLOOP_ASSIGN(o.valences, config.GetBool(key + "valences", o.valences));
    LABLOOP_ASSIGN(v, config.GetInt(key + "wind_up_after", o.wind_up_after, 0, 1000));
    o.wind_up_after = static_cast<int>(v);
    LABLOOP_ASSIGN(v, config.GetInt(key + "steps", o.steps, 0, 100000));
    o.steps = static_cast<int>(v);
    LABLOOP_ASSIGN(v, config.GetInt(key + "batch_size", o.batch_size, 1, 100000));
    o.batch_size = static_cast<int>(v);
    LABLOOP_ASSIGN(o.sigma, config.GetDouble(key + "sigma", o.sigma, 0, 1e6));
    LABLOOP_ASSIGN(o.learning_rate,
                   config.GetDouble(key + "learning_rate", o.learning_rate, 1e-8, 1));
    LABLOOP_ASSIGN(o.device, config.GetString(key + "device", o.device));
    LABLOOP_ASSIGN(o.building_blocks, config.GetString(key + "building_blocks", ""));
    if (!o.building_blocks.empty()) o.building_blocks = ResolvePath(o.building_blocks, base_dir);
    LABLOOP_ASSIGN(o.reactions, config.GetString(key + "reactions", ""));
    if (!o.reactions.empty()) o.reactions = ResolvePath(o.reactions, base_dir);
    LABLOOP_ASSIGN(v, config.GetInt(key + "oversample", o.oversample, 1, 1000));
    o.oversample = static_cast<int>(v);
    c.generators.push_back(std::move(g));
  }
  auto& f = c.filters;
  LABLOOP_ASSIGN(f.options.pains, config.GetBool("filters.pains", true));
  LABLOOP_ASSIGN(f.options.brenk, config.GetBool("filters.brenk", true));
  LABLOOP_ASSIGN(f.options.lipinski, config.GetBool("filters.lipinski", false));
  LABLOOP_ASSIGN(f.options.veber, config.GetBool("filters.veber", false));
  LABLOOP_ASSIGN(f.options.max_sa, config.GetOptionalDouble("filters.max_sa", 1, 10));
  LABLOOP_ASSIGN(f.known, config.GetString("filters.known", ""));
  if (!f.known.empty()) f.known = ResolvePath(f.known, base_dir);
  LABLOOP_ASSIGN(f.options.max_known_similarity,
                 config.GetOptionalDouble("filters.max_known_similarity", 0, 1));
  LABLOOP_ASSIGN(f.reference, config.GetString("filters.reference", ""));
  if (!f.reference.empty()) f.reference = ResolvePath(f.reference, base_dir);
  LABLOOP_ASSIGN(f.options.min_similarity,
                 config.GetOptionalDouble("filters.min_similarity", 0, 1));
  LABLOOP_ASSIGN(f.options.max_similarity,
                 config.GetOptionalDouble("filters.max_similarity", 0, 1));
  if ((f.options.min_similarity || f.options.max_similarity) && f.reference.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     config.Source() +
                         ": filters.min_similarity and filters.max_similarity need "
                         "filters.reference, the file of molecules to compare with");
  }
  return {};
}

std::string GeneratorsToToml(const CampaignConfig& c) {
  std::ostringstream out;
  for (const auto& g : c.generators) {
    const auto& o = g.options;
    out << "\n[generators." << g.name << "]\nkind = " << TomlString(o.kind)
        << "\nper_round = " << g.per_round;
    if (!o.pool.empty()) out << "\npool = " << TomlString(o.pool);
    if (!o.smiles_column.empty()) out << "\nsmiles_column = " << TomlString(o.smiles_column);
    out << "\npopulation = " << o.population << "\ngenerations = " << o.generations
        << "\nmutation_rate = " << TomlFloat(o.mutation_rate)
        << "\nmin_heavy_atoms = " << o.min_heavy_atoms
        << "\nmax_heavy_atoms = " << o.max_heavy_atoms;
    if (!o.model.empty()) out << "\nmodel = " << TomlString(o.model);
    out << "\ntemperature = " << TomlFloat(o.temperature)
        << "\ngrammar = " << (o.grammar ? "true" : "false")
        << "\nvalences = " << (o.valences ? "true" : "false")
        << "\nwind_up_after = " << o.wind_up_after << "\nsteps = " << o.steps
        << "\nbatch_size = " << o.batch_size << "\nsigma = " << TomlFloat(o.sigma)
        << "\nlearning_rate = " << TomlFloat(o.learning_rate)
        << "\ndevice = " << TomlString(o.device);
    if (!o.building_blocks.empty()) {
      out << "\nbuilding_blocks = " << TomlString(o.building_blocks);
    }
    if (!o.reactions.empty()) out << "\nreactions = " << TomlString(o.reactions);
    out << "\noversample = " << o.oversample << "\n";
  }
  const auto& f = c.filters;
  out << "\n[filters]\npains = " << (f.options.pains ? "true" : "false")
      << "\nbrenk = " << (f.options.brenk ? "true" : "false")
      << "\nlipinski = " << (f.options.lipinski ? "true" : "false")
      << "\nveber = " << (f.options.veber ? "true" : "false") << "\n";
  if (f.options.max_sa) out << "max_sa = " << TomlFloat(*f.options.max_sa) << "\n";
  if (!f.known.empty()) out << "known = " << TomlString(f.known) << "\n";
  if (f.options.max_known_similarity) {
    out << "max_known_similarity = " << TomlFloat(*f.options.max_known_similarity) << "\n";
  }
  if (!f.reference.empty()) out << "reference = " << TomlString(f.reference) << "\n";
  if (f.options.min_similarity) {
    out << "min_similarity = " << TomlFloat(*f.options.min_similarity) << "\n";
  }
  if (f.options.max_similarity) {
    out << "max_similarity = " << TomlFloat(*f.options.max_similarity) << "\n";
  }
  return out.str();
}

}  // namespace

Result<CampaignConfig> ParseCampaignConfig(const Config& config, const std::string& base_dir) {
  CampaignConfig c;
  LABLOOP_ASSIGN(c.name, config.GetString("campaign.name", c.name));
  int64_t seed = 0;
  LABLOOP_ASSIGN(seed, config.GetInt("campaign.seed", 0, 0, INT64_MAX));
  c.seed = static_cast<uint64_t>(seed);

  std::vector<std::string> files;
  LABLOOP_ASSIGN(files, config.GetStringList("library.files"));
  if (files.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     config.Source() +
                         ": key 'library.files' is missing; name at least one "
                         "SMILES, CSV or SDF file");
  }
  for (const auto& f : files) {
    if (auto format = chem::DetectFormat(f); !format) {
      return MakeError(ErrorCode::kInvalidArgument,
                       config.Source() + ": key 'library.files': " + format.error().message);
    }
    c.library_files.push_back(ResolvePath(f, base_dir));
  }
  LABLOOP_ASSIGN(c.read.smiles_column, config.GetString("library.smiles_column", ""));
  LABLOOP_ASSIGN(c.read.id_column, config.GetString("library.id_column", ""));
  LABLOOP_ASSIGN(c.read.standardize, config.GetBool("library.standardize", true));
  int64_t v = 0;
  LABLOOP_ASSIGN(v,
                 config.GetInt("library.max_heavy_atoms", c.read.limits.max_heavy_atoms, 1, 1000));
  c.read.limits.max_heavy_atoms = static_cast<int>(v);
  LABLOOP_ASSIGN(
      v, config.GetInt("library.max_smiles_length", c.read.limits.max_smiles_length, 1, 100000));
  c.read.limits.max_smiles_length = static_cast<int>(v);

  LABLOOP_ASSIGN(c.property, config.GetString("objective.property", ""));
  if (c.property.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     config.Source() +
                         ": key 'objective.property' is missing; name the property "
                         "to optimize (for xtb: gap, energy or dipole)");
  }
  std::string direction;
  LABLOOP_ASSIGN(direction, config.GetEnum("objective.direction", {"minimize", "maximize"}, ""));
  if (direction.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     config.Source() +
                         ": key 'objective.direction' is missing; allowed: "
                         "minimize, maximize");
  }
  c.direction =
      direction == "minimize" ? learners::Direction::kMinimize : learners::Direction::kMaximize;

  // More objectives: objective.others with objective.other_directions, and per objective (the
  // primary first) optional desirability ramps and weights.
  std::vector<std::string> others, other_directions;
  LABLOOP_ASSIGN(others, config.GetStringList("objective.others"));
  LABLOOP_ASSIGN(other_directions, config.GetStringList("objective.other_directions"));
  if (others.size() != other_directions.size()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     config.Source() +
                         ": keys 'objective.others' and 'objective.other_directions' "
                         "need one direction per property (minimize or maximize)");
  }
  learners::Objective primary;
  primary.property = c.property;
  primary.direction = c.direction;
  c.objectives.push_back(primary);
  for (size_t k = 0; k < others.size(); ++k) {
    if (other_directions[k] != "minimize" && other_directions[k] != "maximize") {
      return MakeError(ErrorCode::kInvalidArgument,
                       config.Source() + ": key 'objective.other_directions' has value '" +
                           other_directions[k] + "', allowed: minimize, maximize");
    }
    for (const auto& o : c.objectives) {
      if (o.property == others[k]) {
        return MakeError(
            ErrorCode::kInvalidArgument,
            config.Source() + ": key 'objective.others' names '" + others[k] + "' twice");
      }
    }
    learners::Objective other;
    other.property = others[k];
    other.direction = other_directions[k] == "minimize" ? learners::Direction::kMinimize
                                                        : learners::Direction::kMaximize;
    c.objectives.push_back(other);
  }
  std::vector<double> worst, best, weights;
  LABLOOP_ASSIGN(worst, config.GetDoubleList("objective.worst"));
  LABLOOP_ASSIGN(best, config.GetDoubleList("objective.best"));
  LABLOOP_ASSIGN(weights, config.GetDoubleList("objective.weights"));
  LABLOOP_ASSIGN(c.hv_reference, config.GetDoubleList("objective.reference"));
  const size_t n_objectives = c.objectives.size();
  for (const auto& [key, list] :
       {std::pair<const char*, const std::vector<double>*>{"worst", &worst},
        {"best", &best},
        {"weights", &weights},
        {"reference", &c.hv_reference}}) {
    if (!list->empty() && list->size() != n_objectives) {
      return MakeError(ErrorCode::kInvalidArgument,
                       config.Source() + ": key 'objective." + key + "' needs " +
                           std::to_string(n_objectives) +
                           " numbers, one per objective (objective.property, then "
                           "objective.others)");
    }
  }
  for (size_t k = 0; k < n_objectives; ++k) {
    if (!worst.empty()) c.objectives[k].worst = worst[k];
    if (!best.empty()) c.objectives[k].best = best[k];
    if (!weights.empty()) c.objectives[k].weight = weights[k];
    if (auto valid = c.objectives[k].Validate(); !valid) {
      return MakeError(ErrorCode::kInvalidArgument, config.Source() + ": " + valid.error().message);
    }
  }

  LABLOOP_ASSIGN(v, config.GetInt("features.radius", c.fingerprint.radius, 0, 6));
  c.fingerprint.radius = static_cast<int>(v);
  LABLOOP_ASSIGN(v, config.GetInt("features.bits", c.fingerprint.size, 64, 1 << 20));
  c.fingerprint.size = static_cast<uint32_t>(v);
  LABLOOP_ASSIGN(c.fingerprint.counts, config.GetBool("features.counts", true));
  LABLOOP_ASSIGN(c.descriptor_weight, config.GetDouble("features.descriptors", 0.0, 0.0, 1000.0));
  for (auto [key, set] :
       {std::make_pair("features.descriptor_set", &c.descriptor_sets.fingerprint),
        std::make_pair("features.graph_descriptor_set", &c.descriptor_sets.graph)}) {
    std::string name;
    LABLOOP_ASSIGN(name, config.GetEnum(key, {"basic", "rdkit2d"}, chem::DescriptorSetName(*set)));
    auto parsed = chem::ParseDescriptorSet(name);
    if (!parsed) {
      return MakeError(ErrorCode::kInvalidArgument,
                       config.Source() + ": key '" + key + "': " + parsed.error().message);
    }
    *set = *parsed;
  }

  LABLOOP_ASSIGN(c.model.kind,
                 config.GetEnum("model.kind",
                                {"deep_ensemble", "mc_dropout", "tanimoto_gp", "dmpnn", "gp_dmpnn"},
                                c.model.kind));
  LABLOOP_ASSIGN(v, config.GetInt("model.members", c.model.members, 1, 64));
  c.model.members = static_cast<int>(v);
  LABLOOP_ASSIGN(v, config.GetInt("model.hidden", c.model.hidden, 1, 8192));
  c.model.hidden = static_cast<int>(v);
  LABLOOP_ASSIGN(v, config.GetInt("model.epochs", c.model.epochs, 1, 100000));
  c.model.epochs = static_cast<int>(v);
  LABLOOP_ASSIGN(v, config.GetInt("model.min_steps", c.model.min_steps, 0, 10000000));
  c.model.min_steps = static_cast<int>(v);
  LABLOOP_ASSIGN(v, config.GetInt("model.batch_size", c.model.batch_size, 1, 1 << 20));
  c.model.batch_size = static_cast<int>(v);
  LABLOOP_ASSIGN(c.model.learning_rate,
                 config.GetDouble("model.learning_rate", c.model.learning_rate, 1e-7, 1.0));
  LABLOOP_ASSIGN(c.model.weight_decay,
                 config.GetDouble("model.weight_decay", c.model.weight_decay, 0.0, 1.0));
  LABLOOP_ASSIGN(c.model.device, config.GetString("model.device", c.model.device));
  LABLOOP_ASSIGN(v, config.GetInt("model.threads", 0, 0, 1024));
  c.model.threads = static_cast<int>(v);
  LABLOOP_ASSIGN(c.model.dropout, config.GetDouble("model.dropout", c.model.dropout, 0.0, 0.95));
  LABLOOP_ASSIGN(v, config.GetInt("model.mc_samples", c.model.mc_samples, 2, 1000));
  c.model.mc_samples = static_cast<int>(v);
  LABLOOP_ASSIGN(v, config.GetInt("model.depth", c.model.depth, 1, 20));
  c.model.depth = static_cast<int>(v);
  LABLOOP_ASSIGN(c.model.validation_fraction,
                 config.GetDouble("model.early_stopping", c.model.validation_fraction, 0.0, 0.5));
  LABLOOP_ASSIGN(v, config.GetInt("model.patience", c.model.patience, 1, 100000));
  c.model.patience = static_cast<int>(v);
  LABLOOP_ASSIGN(c.calibration,
                 config.GetEnum("model.calibration",
                                {"none", "sigma_scaling", "isotonic", "empirical"}, c.calibration));
  LABLOOP_ASSIGN(c.calibration_fraction,
                 config.GetDouble("model.calibration_fraction", c.calibration_fraction, 0.05, 0.5));
  LABLOOP_ASSIGN(
      v, config.GetInt("model.calibration_folds", c.calibration_folds, 0, learners::kMaxFolds));
  if (!learners::ValidCalibrationFolds(static_cast<int>(v))) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "model.calibration_folds must be 0 (a held-out share) or 2 to 20");
  }
  c.calibration_folds = static_cast<int>(v);

  {
    auto kinds = learners::BuiltinAcquisitionNames();
    kinds.push_back("desirability");
    kinds.push_back("ehvi");
    std::sort(kinds.begin(), kinds.end());
    LABLOOP_ASSIGN(c.acquisition.kind,
                   config.GetEnum("acquisition.kind", kinds, n_objectives > 1 ? "ehvi" : "ucb"));
    const bool multi_kind = c.acquisition.kind == "ehvi" || c.acquisition.kind == "desirability";
    // random serves both, as the baseline.
    if (c.acquisition.kind != "random" && multi_kind != (n_objectives > 1)) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          config.Source() + ": key 'acquisition.kind' has value '" + c.acquisition.kind + "', " +
              (n_objectives > 1 ? "but a campaign with several objectives needs ehvi, "
                                  "desirability or random"
                                : "which needs several objectives (objective.others)"));
    }
    if (c.acquisition.kind == "desirability" && worst.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       config.Source() +
                           ": acquisition 'desirability' needs objective.worst and objective.best");
    }
  }
  LABLOOP_ASSIGN(v, config.GetInt("acquisition.samples", c.acquisition_samples, 1, 4096));
  c.acquisition_samples = static_cast<int>(v);
  LABLOOP_ASSIGN(c.acquisition.beta,
                 config.GetDouble("acquisition.beta", c.acquisition.beta, 0, 1e6));
  LABLOOP_ASSIGN(c.acquisition.xi,
                 config.GetDouble("acquisition.xi", c.acquisition.xi, -1e12, 1e12));
  LABLOOP_ASSIGN(c.acquisition.threshold,
                 config.GetOptionalDouble("acquisition.threshold", -1e300, 1e300));
  if (c.acquisition.kind == "threshold" && !c.acquisition.threshold) {
    return MakeError(ErrorCode::kInvalidArgument,
                     config.Source() +
                         ": key 'acquisition.threshold' is missing; the threshold acquisition "
                         "scores the probability of beating this value");
  }
  LABLOOP_ASSIGN(c.batch_selection.kind, config.GetEnum("acquisition.batch", learners::BatchKinds(),
                                                        c.batch_selection.kind));
  LABLOOP_ASSIGN(
      c.batch_selection.max_similarity,
      config.GetDouble("acquisition.max_similarity", c.batch_selection.max_similarity, 1e-6, 1.0));
  LABLOOP_ASSIGN(v, config.GetInt("acquisition.shortlist", c.batch_selection.shortlist, 1, 100000));
  c.batch_selection.shortlist = static_cast<int>(v);

  LABLOOP_ASSIGN(c.simulator, simulators::ParseSimulatorOptions(config, base_dir));
  LABLOOP_ASSIGN(v, config.GetInt("simulator.threads", 0, 0, 1024));
  c.simulator_threads = static_cast<int>(v);
  LABLOOP_ASSIGN(c.launcher, simulators::ParseLauncherOptions(config, base_dir));
  if (auto computed = simulators::PropertiesOf(c.simulator); !computed.empty()) {
    for (const auto& o : c.objectives) {
      if (std::find(computed.begin(), computed.end(), o.property) != computed.end()) continue;
      std::string list;
      for (const auto& p : computed) list += (list.empty() ? "" : ", ") + p;
      return MakeError(ErrorCode::kInvalidArgument,
                       config.Source() + ": key '" +
                           (o.property == c.property ? "objective.property" : "objective.others") +
                           "' has value '" + o.property + "', which the " + c.simulator.kind +
                           " simulator does not compute; allowed: " + list);
    }
  }
  c.simulator.property = c.property;
  for (size_t k = 1; k < n_objectives; ++k) {
    c.simulator.extra_properties.push_back(c.objectives[k].property);
  }

  LABLOOP_ASSIGN(v, config.GetInt("budget.batch_size", c.batch_size, 1, 1000000));
  c.batch_size = static_cast<int>(v);
  LABLOOP_ASSIGN(v, config.GetInt("budget.initial_batch", c.batch_size, 1, 1000000));
  c.initial_batch = static_cast<int>(v);
  LABLOOP_ASSIGN(c.max_evaluations,
                 config.GetInt("budget.max_evaluations", c.max_evaluations, 1, INT64_MAX));
  LABLOOP_ASSIGN(v, config.GetInt("budget.max_rounds", 0, 0, 1000000));
  c.max_rounds = static_cast<int>(v);
  LABLOOP_ASSIGN(v, config.GetInt("budget.min_training_points", c.min_training_points, 2, 1000000));
  c.min_training_points = static_cast<int>(v);

  LABLOOP_ASSIGN(c.router.trust_sigma,
                 config.GetDouble("router.trust_sigma", c.router.trust_sigma, 0, 1e12));
  LABLOOP_ASSIGN(c.router.simulation_cost,
                 config.GetDouble("router.simulation_cost", c.router.simulation_cost, 1e-12, 1e12));
  LABLOOP_ASSIGN(
      c.router.simulation_sigma,
      config.GetDouble("router.simulation_sigma", c.router.simulation_sigma, 1e-12, 1e12));
  LABLOOP_ASSIGN(c.router.experiment_cost,
                 config.GetDouble("router.experiment_cost", c.router.experiment_cost, 1e-12, 1e12));
  LABLOOP_ASSIGN(
      c.router.experiment_sigma,
      config.GetDouble("router.experiment_sigma", c.router.experiment_sigma, 1e-12, 1e12));
  LABLOOP_ASSIGN(
      c.router.disagreement_sigmas,
      config.GetDouble("router.disagreement_sigmas", c.router.disagreement_sigmas, 0.1, 1e6));
  LABLOOP_ASSIGN(v, config.GetInt("router.finalists", c.router.finalists, 0, 1000000));
  c.router.finalists = static_cast<int>(v);
  LABLOOP_TRY(ParseInstruments(config, c));
  c.router.experiments_left = c.experiment.per_round;
  if (c.experiment.per_round > 0 && c.experiment.property != c.property) {
    return MakeError(ErrorCode::kInvalidArgument,
                     config.Source() + ": key 'experiment.property' has value '" +
                         c.experiment.property + "', but experiments must measure the objective '" +
                         c.property + "' (or set experiment.per_round = 0)");
  }
  if (c.router.trust_sigma > 0 && n_objectives > 1) {
    return MakeError(ErrorCode::kInvalidArgument,
                     config.Source() +
                         ": key 'router.trust_sigma' works with one objective only: a candidate "
                         "trusted on one property would never be measured for the others");
  }

  if (auto routes = config.GetStringList("approval.routes"); !routes) {
    return tl::unexpected(routes.error());
  } else if (config.Contains("approval.routes")) {
    for (const auto& r : *routes) {
      if (r != "simulate" && r != "experiment") {
        return MakeError(ErrorCode::kInvalidArgument, config.Source() +
                                                          ": key 'approval.routes' has value '" +
                                                          r + "', allowed: simulate, experiment");
      }
    }
    c.approval_routes = *routes;
  }

  const auto& descriptors = chem::DescriptorNames();
  for (const auto& name : config.Keys("constraints")) {
    if (std::find(descriptors.begin(), descriptors.end(), name) == descriptors.end()) {
      std::string known;
      for (const auto& d : descriptors) known += (known.empty() ? "" : ", ") + d;
      return MakeError(ErrorCode::kInvalidArgument, config.Source() + ": key 'constraints." + name +
                                                        "' is not a descriptor labloop computes "
                                                        "(known: " +
                                                        known + ")");
    }
    learners::Constraint constraint{name, std::nullopt, std::nullopt};
    LABLOOP_ASSIGN(constraint.min,
                   config.GetOptionalDouble("constraints." + name + ".min", -1e300, 1e300));
    LABLOOP_ASSIGN(constraint.max,
                   config.GetOptionalDouble("constraints." + name + ".max", -1e300, 1e300));
    if (!constraint.min && !constraint.max) {
      return MakeError(ErrorCode::kInvalidArgument,
                       config.Source() + ": table 'constraints." + name + "' needs min or max");
    }
    if (constraint.min && constraint.max && *constraint.min > *constraint.max) {
      return MakeError(ErrorCode::kInvalidArgument,
                       config.Source() + ": table 'constraints." + name +
                           "' has min above max: no molecule could pass");
    }
    c.constraints.push_back(constraint);
  }

  LABLOOP_TRY(ParseGenerators(config, base_dir, c));

  LABLOOP_ASSIGN(v, config.GetInt("stop.no_improvement_rounds", 0, 0, 1000000));
  c.stop_no_improvement_rounds = static_cast<int>(v);
  LABLOOP_ASSIGN(c.stop_target, config.GetOptionalDouble("stop.target", -1e300, 1e300));

  if ((c.model.kind == "tanimoto_gp" || c.model.kind == "gp_dmpnn") && c.max_evaluations > 20000) {
    return MakeError(ErrorCode::kInvalidArgument,
                     config.Source() + ": key 'budget.max_evaluations' has value " +
                         std::to_string(c.max_evaluations) + ", more than the exact GP of " +
                         c.model.kind +
                         " can train on (20000); use "
                         "model.kind = \"deep_ensemble\" for campaigns this large");
  }

  auto unused = config.UnusedKeys();
  if (!unused.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     config.Source() + ": unknown key '" + unused.front() +
                         "' (a typo? see examples/qm9-gap/campaign.toml for every key)");
  }
  c.model.seed = c.seed;
  c.acquisition.seed = c.seed;
  return c;
}

Result<CampaignConfig> LoadCampaignConfig(const std::string& path) {
  auto config = Config::FromFile(path);
  if (!config) return tl::unexpected(config.error());
  fs::path dir = fs::absolute(fs::path(path)).parent_path();
  return ParseCampaignConfig(*config, dir.string());
}

std::string CampaignConfig::ToToml() const {
  std::ostringstream out;
  out << "[campaign]\nname = " << TomlString(name) << "\nseed = " << seed
      << "\n\n[library]\nfiles = " << TomlList(library_files) << "\n";
  if (!read.smiles_column.empty())
    out << "smiles_column = " << TomlString(read.smiles_column) << "\n";
  if (!read.id_column.empty()) out << "id_column = " << TomlString(read.id_column) << "\n";
  out << "standardize = " << (read.standardize ? "true" : "false")
      << "\nmax_heavy_atoms = " << read.limits.max_heavy_atoms
      << "\nmax_smiles_length = " << read.limits.max_smiles_length << "\n\n";
  out << "[objective]\nproperty = " << TomlString(property)
      << "\ndirection = " << TomlString(DirectionName(direction)) << "\n";
  auto list = [&out](const char* key, const auto& items) {
    out << key << " = " << TomlList(items) << "\n";
  };
  if (objectives.size() > 1) {
    std::vector<std::string> others, directions;
    for (size_t k = 1; k < objectives.size(); ++k) {
      others.push_back(objectives[k].property);
      directions.push_back(DirectionName(objectives[k].direction));
    }
    list("others", others);
    list("other_directions", directions);
  }
  if (objectives.front().worst) {
    std::vector<double> worst, best;
    for (const auto& o : objectives) worst.push_back(*o.worst), best.push_back(*o.best);
    list("worst", worst);
    list("best", best);
  }
  std::vector<double> weights;
  for (const auto& o : objectives) weights.push_back(o.weight);
  list("weights", weights);
  if (!hv_reference.empty()) list("reference", hv_reference);
  out << "\n";
  out << "[features]\nradius = " << fingerprint.radius << "\nbits = " << fingerprint.size
      << "\ncounts = " << (fingerprint.counts ? "true" : "false")
      << "\ndescriptors = " << TomlFloat(descriptor_weight)
      << "\ndescriptor_set = " << TomlString(chem::DescriptorSetName(descriptor_sets.fingerprint))
      << "\ngraph_descriptor_set = " << TomlString(chem::DescriptorSetName(descriptor_sets.graph))
      << "\n\n";
  out << "[model]\nkind = " << TomlString(model.kind) << "\nmembers = " << model.members
      << "\nhidden = " << model.hidden << "\nepochs = " << model.epochs
      << "\nmin_steps = " << model.min_steps << "\nbatch_size = " << model.batch_size
      << "\nlearning_rate = " << TomlFloat(model.learning_rate)
      << "\nweight_decay = " << TomlFloat(model.weight_decay)
      << "\ndevice = " << TomlString(model.device) << "\nthreads = " << model.threads
      << "\ndropout = " << TomlFloat(model.dropout) << "\nmc_samples = " << model.mc_samples
      << "\ndepth = " << model.depth
      << "\nearly_stopping = " << TomlFloat(model.validation_fraction)
      << "\npatience = " << model.patience << "\ncalibration = " << TomlString(calibration)
      << "\ncalibration_fraction = " << TomlFloat(calibration_fraction)
      << "\ncalibration_folds = " << calibration_folds << "\n\n";
  out << "[acquisition]\nsamples = " << acquisition_samples
      << "\nkind = " << TomlString(acquisition.kind) << "\nbeta = " << TomlFloat(acquisition.beta)
      << "\nxi = " << TomlFloat(acquisition.xi) << "\n";
  if (acquisition.threshold) out << "threshold = " << TomlFloat(*acquisition.threshold) << "\n";
  out << "batch = " << TomlString(batch_selection.kind)
      << "\nmax_similarity = " << TomlFloat(batch_selection.max_similarity)
      << "\nshortlist = " << batch_selection.shortlist << "\n\n";
  out << simulators::SimulatorOptionsToToml(simulator, simulator_threads) << "\n"
      << simulators::LauncherOptionsToToml(launcher);
  out << "\n[budget]\ninitial_batch = " << initial_batch << "\nbatch_size = " << batch_size
      << "\nmax_evaluations = " << max_evaluations << "\nmax_rounds = " << max_rounds
      << "\nmin_training_points = " << min_training_points << "\n";
  out << "\n[router]\ntrust_sigma = " << TomlFloat(router.trust_sigma)
      << "\nsimulation_cost = " << TomlFloat(router.simulation_cost)
      << "\nsimulation_sigma = " << TomlFloat(router.simulation_sigma)
      << "\nexperiment_cost = " << TomlFloat(router.experiment_cost)
      << "\nexperiment_sigma = " << TomlFloat(router.experiment_sigma)
      << "\ndisagreement_sigmas = " << TomlFloat(router.disagreement_sigmas)
      << "\nfinalists = " << router.finalists << "\n";
  out << InstrumentsToToml(*this);
  out << "\n[approval]\nroutes = " << TomlList(approval_routes) << "\n";
  out << GeneratorsToToml(*this);
  for (const auto& constraint : constraints) {
    out << "\n[constraints." << constraint.property << "]\n";
    if (constraint.min) out << "min = " << TomlFloat(*constraint.min) << "\n";
    if (constraint.max) out << "max = " << TomlFloat(*constraint.max) << "\n";
  }
  out << "\n[stop]\nno_improvement_rounds = " << stop_no_improvement_rounds << "\n";
  if (stop_target) out << "target = " << TomlFloat(*stop_target) << "\n";
  return out.str();
}

}  // namespace labloop::engine
