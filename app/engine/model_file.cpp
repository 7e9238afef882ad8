#include "app/engine/model_file.h"

#include "core/chem/graph.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/chem/descriptors.h"
#include "core/chem/reader.h"
#include "core/progress.h"
#include "learners/calibration.h"
#include "learners/cross_fit.h"
#include "learners/property_model.h"

namespace labloop::engine {

namespace {

using json = nlohmann::json;
constexpr const char* kMagic = "LABLOOP-MODEL 1\n";

// Molecules of a data file with their fingerprints, and the target where asked for.
struct Table {
  chem::TableHeader header;  // CSV/TSV input: its columns, to be written back as they were
  std::vector<chem::MoleculeRecord> records;
  learners::SparseMatrix x;
  std::vector<double> y;  // when a target is asked for: one per record
  std::vector<std::string> skipped;
  std::vector<std::vector<double>> descriptors;        // per record: the fingerprint side's
  std::vector<std::vector<double>> graph_descriptors;  // per record, for graph models only
  std::vector<chem::MolGraph> graphs;                  // per record, for graph models only
};

// The table's fingerprint rows with their scaled descriptors appended as columns after them, and
// the graphs' own as their molecule features.
void AppendDescriptors(Table& t, const chem::DescriptorScaling& scaling,
                       const chem::DescriptorScaling& graph_scaling) {
  std::vector<std::vector<float>> scaled;
  for (const auto& d : t.descriptors) scaled.push_back(scaling.Apply(d));
  for (size_t i = 0; i < t.graphs.size(); ++i) {
    t.graphs[i].features = graph_scaling.Apply(t.graph_descriptors[i]);
  }
  t.x = t.x.AppendColumns(scaled);
}

Result<Table> ReadTable(const std::string& path, const std::string& target,
                        const std::string& smiles_column, const chem::MorganOptions& fingerprint,
                        bool graphs, std::optional<chem::DescriptorSets> descriptors) {
  chem::ReadOptions read;
  read.fingerprint = fingerprint;
  read.smiles_column = smiles_column;
  auto report = chem::ReadMoleculeFile(path, read);
  if (!report) return tl::unexpected(report.error());
  Table t;
  t.header = report->header;
  t.x = learners::SparseMatrix(fingerprint.size);
  for (const auto& r : report->rejected) t.skipped.push_back(r.ToString());
  bool target_seen = false;
  for (auto& r : report->records) {
    if (!target.empty()) {
      auto field = std::find_if(r.properties.begin(), r.properties.end(),
                                [&](const auto& p) { return p.first == target; });
      if (field == r.properties.end()) {
        t.skipped.push_back(r.location + ": no '" + target + "' value");
        continue;
      }
      target_seen = true;
      char* end = nullptr;
      double value = std::strtod(field->second.c_str(), &end);
      if (field->second.empty() || *end != '\0' || !std::isfinite(value)) {
        t.skipped.push_back(r.location + ": " + target + " '" + field->second +
                            "' is not a number");
        continue;
      }
      t.y.push_back(value);
    }
    if (graphs) {
      auto molecule = chem::Molecule::FromSmiles(r.smiles);
      auto graph = molecule ? chem::BuildMolGraph(*molecule)
                            : Result<chem::MolGraph>(tl::unexpected(molecule.error()));
      if (!graph) {
        if (!target.empty()) t.y.pop_back();
        t.skipped.push_back(r.location + ": no molecular graph: " + graph.error().message);
        continue;
      }
      t.graphs.push_back(std::move(*graph));
    }
    t.x.AddRow(r.fingerprint.indices, r.fingerprint.values);
    t.records.push_back(std::move(r));
  }
  if (descriptors) {  // on every core: RDKit's 206 take 1.7 ms a molecule
    std::vector<std::string> smiles, locations;
    for (const auto& r : t.records) smiles.push_back(r.smiles), locations.push_back(r.location);
    std::vector<std::string> failures;
    auto rows = chem::ComputeDescriptorsBySide(smiles, *descriptors, graphs,
                                               "descriptors of " + path, locations, &failures);
    if (!rows) return tl::unexpected(rows.error());
    // A record without descriptors is skipped, named, like one without a graph.
    std::vector<int64_t> kept;
    for (size_t i = 0; i < failures.size(); ++i) {
      if (failures[i].empty()) {
        kept.push_back(static_cast<int64_t>(i));
        t.descriptors.push_back(std::move(rows->fingerprint[i]));
        if (graphs) t.graph_descriptors.push_back(std::move(rows->graph[i]));
      } else {
        t.skipped.push_back(failures[i]);
      }
    }
    if (kept.size() < t.records.size()) {
      t.x = t.x.Select(kept);
      std::vector<chem::MoleculeRecord> records;
      std::vector<double> y;
      for (int64_t i : kept) {
        records.push_back(std::move(t.records[i]));
        if (!t.y.empty()) y.push_back(t.y[i]);
      }
      t.records = std::move(records);
      t.y = std::move(y);
      if (graphs) t.graphs = learners::SelectGraphs(t.graphs, kept);
    }
  }
  if (!target.empty() && !target_seen && !report->records.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     path + " has no column or data field '" + target + "'");
  }
  if (t.records.empty()) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        path + " has no usable rows" +
            (t.skipped.empty() ? std::string()
                               : " (" + std::to_string(t.skipped.size()) +
                                     " skipped; the first: " + t.skipped.front() + ")"));
  }
  return t;
}

struct LoadedModel {
  json header;
  // The descriptors it was trained with: which sets, and each side's scaling.
  struct Descriptors {
    chem::DescriptorSets sets;
    chem::DescriptorScaling fingerprint, graph;
  };
  std::optional<Descriptors> descriptors;
  std::unique_ptr<learners::PropertyModel> model;
  std::unique_ptr<learners::Calibrator> calibrator;  // null: none
  chem::MorganOptions fingerprint;
};

Result<LoadedModel> LoadModelFileUnguarded(const std::string& path, const std::string& device);

// A model file's record of one side's descriptors: which set, and how they were scaled.
json DescriptorsJson(chem::DescriptorSet set, const chem::DescriptorScaling& scaling) {
  return {{"set", chem::DescriptorSetName(set)},
          {"names", chem::DescriptorNames(set)},
          {"min", scaling.min},
          {"max", scaling.max},
          {"weight", scaling.weight}};
}

Result<std::pair<chem::DescriptorSet, chem::DescriptorScaling>> DescriptorsFromJson(
    const json& d, const std::string& path) {
  // Files from before the rdkit2d set have no "set": theirs was the basic one.
  auto set = chem::ParseDescriptorSet(d.value("set", std::string("basic")));
  if (!set) return tl::unexpected(set.error());
  chem::DescriptorScaling scaling;
  scaling.min = d["min"].get<std::vector<double>>();
  scaling.max = d["max"].get<std::vector<double>>();
  scaling.weight = d["weight"].get<double>();
  if (d["names"].get<std::vector<std::string>>() != chem::DescriptorNames(*set) ||
      scaling.min.size() != chem::DescriptorNames(*set).size() ||
      scaling.max.size() != scaling.min.size()) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "model file '" + path + "' was made with other descriptors than this labloop computes");
  }
  return std::make_pair(*set, scaling);
}

// A damaged or foreign header is an error, not an exception.
Result<LoadedModel> LoadModelFile(const std::string& path, const std::string& device) {
  try {
    return LoadModelFileUnguarded(path, device);
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "model file '" + path + "' is damaged (" + e.what() + ")");
  }
}

Result<LoadedModel> LoadModelFileUnguarded(const std::string& path, const std::string& device) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(ErrorCode::kNotFound, "cannot open model file '" + path + "'");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string magic = kMagic;
  size_t newline = bytes.find('\n', magic.size());
  if (bytes.compare(0, magic.size(), magic) != 0 || newline == std::string::npos) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "'" + path + "' is not a labloop model file (labloop model train writes them)");
  }
  size_t length = std::strtoull(bytes.c_str() + magic.size(), nullptr, 10);
  if (length > bytes.size() - newline - 1) {  // (newline < size: no wrap-around either way)
    return MakeError(ErrorCode::kInvalidArgument, "model file '" + path + "' is truncated");
  }
  LoadedModel m;
  m.header = json::parse(bytes.substr(newline + 1, length), nullptr, false);
  if (m.header.is_discarded()) {
    return MakeError(ErrorCode::kInvalidArgument, "model file '" + path + "' has a damaged header");
  }
  const auto& f = m.header["fingerprint"];
  m.fingerprint = chem::MorganOptions{f["radius"].get<int>(), f["bits"].get<uint32_t>(),
                                      f["counts"].get<bool>(), f["chirality"].get<bool>()};
  if (m.header.contains("descriptors")) {
    auto fingerprint_side = DescriptorsFromJson(m.header["descriptors"], path);
    if (!fingerprint_side) return tl::unexpected(fingerprint_side.error());
    // Files from before graph models had their own descriptors gave them the same ones.
    auto graph_side = m.header.contains("graph_descriptors")
                          ? DescriptorsFromJson(m.header["graph_descriptors"], path)
                          : fingerprint_side;
    if (!graph_side) return tl::unexpected(graph_side.error());
    m.descriptors = LoadedModel::Descriptors{
        {fingerprint_side->first, graph_side->first}, fingerprint_side->second, graph_side->second};
  }
  learners::ModelRegistry models("model");
  learners::RegisterBuiltinModels(models);
  learners::ModelOptions options;
  options.kind = m.header["kind"].get<std::string>();
  options.device = device;
  auto model = models.Create(options.kind, options);
  if (!model) return tl::unexpected(model.error());
  LABLOOP_TRY((*model)->Load(bytes.substr(newline + 1 + length)));
  m.model = std::move(*model);
  const std::string calibration = m.header["calibration"]["kind"].get<std::string>();
  if (calibration != "none") {
    learners::CalibratorRegistry calibrators("calibration");
    learners::RegisterBuiltinCalibrators(calibrators);
    auto calibrator = calibrators.Create(calibration);
    if (!calibrator) return tl::unexpected(calibrator.error());
    LABLOOP_TRY((*calibrator)->Load(m.header["calibration"]["state"].get<std::string>()));
    m.calibrator = std::move(*calibrator);
  }
  return m;
}

json MetricsJson(const learners::RegressionMetrics& m) {
  return {{"n", m.n},
          {"rmse", m.rmse},
          {"mae", m.mae},
          {"r2", m.r2},
          {"spearman", m.spearman},
          {"nll", m.nll},
          {"miscalibration_area", m.miscalibration_area},
          {"ence", m.ence}};
}

}  // namespace

Result<ModelTrainReport> TrainModelFile(const ModelTrainOptions& options) {
  if (options.target.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "model train needs --target COLUMN");
  }
  if (!(options.validation > 0 && options.validation < 0.5)) {
    return MakeError(ErrorCode::kInvalidArgument, "--validation must be in (0, 0.5)");
  }
  if (!learners::ValidCalibrationFolds(options.calibration_folds)) {
    return MakeError(ErrorCode::kInvalidArgument, "--calibration-folds must be 0 or 2 to 20");
  }
  std::optional<chem::DescriptorSets> descriptor_sets;
  if (options.descriptors > 0) {
    auto set = chem::ParseDescriptorSet(options.descriptor_set);
    if (!set) return tl::unexpected(set.error());
    auto graph_set = chem::ParseDescriptorSet(options.graph_descriptor_set);
    if (!graph_set) return tl::unexpected(graph_set.error());
    descriptor_sets = chem::DescriptorSets{*set, *graph_set};
  }
  const bool graphs = learners::KindReadsGraphs(options.kind);
  auto table = ReadTable(options.data, options.target, options.smiles_column, options.fingerprint,
                         graphs, descriptor_sets);
  if (!table) return tl::unexpected(table.error());
  const int64_t n = table->x.Rows();
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(options.seed);
  std::shuffle(order.begin(), order.end(), rng);
  const int64_t held = std::max<int64_t>(2, std::llround(options.validation * n));
  if (n - held < 2) {
    return MakeError(ErrorCode::kInvalidArgument,
                     options.data + " has " + std::to_string(n) +
                         " usable rows: too few to train and calibrate");
  }
  std::vector<int64_t> valid(order.begin(), order.begin() + held),
      train(order.begin() + held, order.end());
  std::sort(valid.begin(), valid.end());
  std::sort(train.begin(), train.end());
  std::optional<chem::DescriptorScaling> scaling, graph_scaling;
  if (options.descriptors > 0) {
    auto fit = [&](const std::vector<std::vector<double>>& rows) {
      std::vector<std::vector<double>> train_rows;
      for (int64_t r : train) train_rows.push_back(rows[r]);
      return chem::DescriptorScaling::Fit(train_rows, options.descriptors);
    };
    scaling = fit(table->descriptors);
    graph_scaling = graphs ? fit(table->graph_descriptors) : *scaling;
    AppendDescriptors(*table, *scaling, *graph_scaling);
  }
  auto pick = [&](const std::vector<int64_t>& rows) {
    std::vector<double> y;
    for (int64_t r : rows) y.push_back(table->y[r]);
    return y;
  };

  learners::ModelRegistry models("model");
  learners::RegisterBuiltinModels(models);
  learners::ModelOptions model_options;
  model_options.kind = options.kind;
  model_options.seed = options.seed;
  if (options.epochs > 0) model_options.epochs = options.epochs;
  if (options.hidden > 0) model_options.hidden = options.hidden;
  if (options.members > 0) model_options.members = options.members;
  if (options.depth > 0) model_options.depth = options.depth;
  model_options.device = options.device;
  model_options.validation_fraction = options.early_stopping;
  auto model = models.Create(options.kind, model_options);
  if (!model) return tl::unexpected(model.error());
  ModelTrainReport report;
  report.skipped = table->skipped;
  report.training = static_cast<int64_t>(train.size());
  report.validation = held;
  auto t0 = std::chrono::steady_clock::now();
  LABLOOP_TRY(learners::FitOn(**model, table->x.Select(train),
                              learners::SelectGraphs(table->graphs, train), pick(train)));
  report.fit_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  auto p = learners::PredictOn(**model, table->x.Select(valid),
                               learners::SelectGraphs(table->graphs, valid));
  if (!p) return tl::unexpected(p.error());
  const auto y_valid = pick(valid);
  auto sigma = p->Sigmas();
  auto raw = learners::EvaluatePredictions(y_valid, p->mean, sigma);
  if (!raw) return tl::unexpected(raw.error());
  report.validation_raw = *raw;
  report.validation_calibrated = *raw;
  json calibration = {{"kind", "none"}};
  if (options.calibration != "none") {
    learners::CalibratorRegistry calibrators("calibration");
    learners::RegisterBuiltinCalibrators(calibrators);
    auto calibrator = calibrators.Create(options.calibration);
    if (!calibrator) return tl::unexpected(calibrator.error());
    std::vector<double> residual(y_valid.size());
    for (size_t i = 0; i < residual.size(); ++i) residual[i] = y_valid[i] - p->mean[i];
    std::vector<double> fit_sigma = sigma, fit_residual = residual;
    if (options.calibration_folds > 0) {
      // The training rows predicted out of sample too; cross-fitting (K more fits, which the GP's
      // leave-one-out predictions need not) shows its progress from the first part on.
      const auto y_train = pick(train);
      std::optional<Progress> progress;
      learners::CrossFitOptions cross;
      cross.folds = options.calibration_folds;
      cross.seed = options.seed;
      cross.progress = [&](int, int parts) {
        if (!progress) progress.emplace("cross-fit to calibrate", parts);
        progress->Advance();
      };
      bool leave_one_out = false;
      auto held_out = learners::OutOfSamplePredictions(
          **model, models, model_options, table->x.Select(train),
          learners::SelectGraphs(table->graphs, train), y_train, cross, &leave_one_out);
      if (!held_out) return tl::unexpected(held_out.error());
      progress.reset();
      report.calibrated_on = leave_one_out
                                 ? "validation+leave-one-out"
                                 : "validation+" + std::to_string(cross.folds) + "-fold cross-fit";
      auto held_sigma = held_out->Sigmas();
      fit_sigma.insert(fit_sigma.end(), held_sigma.begin(), held_sigma.end());
      for (size_t i = 0; i < y_train.size(); ++i) {
        fit_residual.push_back(y_train[i] - held_out->mean[i]);
      }
    }
    report.calibration_rows = static_cast<int64_t>(fit_sigma.size());
    LABLOOP_TRY((*calibrator)->Fit(fit_sigma, fit_residual));
    std::vector<double> calibrated;
    for (double s : sigma) calibrated.push_back((*calibrator)->Apply(s));
    auto after = learners::EvaluatePredictions(y_valid, p->mean, calibrated);
    if (!after) return tl::unexpected(after.error());
    report.validation_calibrated = *after;
    calibration = {{"kind", options.calibration},
                   {"state", (*calibrator)->Save()},
                   {"fitted_on", report.calibrated_on},
                   {"rows", report.calibration_rows}};
  }

  auto bytes = (*model)->Save();
  if (!bytes) return tl::unexpected(bytes.error());
  json header = {{"kind", options.kind},
                 {"target", options.target},
                 {"data", options.data},
                 {"fingerprint",
                  {{"radius", options.fingerprint.radius},
                   {"bits", options.fingerprint.size},
                   {"counts", options.fingerprint.counts},
                   {"chirality", options.fingerprint.chirality}}},
                 {"calibration", calibration},
                 {"training_rows", report.training},
                 {"validation_rows", report.validation},
                 {"seed", options.seed},
                 {"validation_raw", MetricsJson(report.validation_raw)},
                 {"validation_calibrated", MetricsJson(report.validation_calibrated)}};
  if (scaling) {
    header["descriptors"] = DescriptorsJson(descriptor_sets->fingerprint, *scaling);
    if (graphs) {
      header["graph_descriptors"] = DescriptorsJson(descriptor_sets->graph, *graph_scaling);
    }
  }
  std::string text = header.dump();
  std::ofstream out(options.output, std::ios::binary);
  out << kMagic << text.size() << "\n" << text << *bytes;
  out.close();
  if (!out) {
    return MakeError(ErrorCode::kFailedPrecondition, "cannot write '" + options.output + "'");
  }
  return report;
}

Result<ModelEvaluation> EvaluateModelFile(const std::string& model_path,
                                          const std::string& data_path, const std::string& target,
                                          const std::string& smiles_column,
                                          const std::string& device) {
  auto m = LoadModelFile(model_path, device);
  if (!m) return tl::unexpected(m.error());
  const std::string column = target.empty() ? m->header["target"].get<std::string>() : target;
  auto table = ReadTable(data_path, column, smiles_column, m->fingerprint, m->model->ReadsGraphs(),
                         m->descriptors ? std::optional(m->descriptors->sets) : std::nullopt);
  if (!table) return tl::unexpected(table.error());
  if (m->descriptors) {
    AppendDescriptors(*table, m->descriptors->fingerprint, m->descriptors->graph);
  }
  auto p = learners::PredictOn(*m->model, table->x, table->graphs);
  if (!p) return tl::unexpected(p.error());
  ModelEvaluation e;
  e.rows = table->x.Rows();
  e.skipped = table->skipped;
  auto sigma = p->Sigmas();
  auto raw = learners::EvaluatePredictions(table->y, p->mean, sigma);
  if (!raw) return tl::unexpected(raw.error());
  e.raw = *raw;
  std::vector<double> calibrated = sigma;
  if (m->calibrator) {
    for (double& s : calibrated) s = m->calibrator->Apply(s);
  }
  auto after = learners::EvaluatePredictions(table->y, p->mean, calibrated);
  if (!after) return tl::unexpected(after.error());
  e.calibrated = *after;
  e.curve = learners::CalibrationCurveOf(table->y, p->mean, calibrated, 21);
  e.observed = table->y;
  e.predicted = p->mean;
  return e;
}

namespace {

// Writes `output` (CSV): the input's columns, then `names`, whose values `row(i, values)` fills in
// for record i. A CSV/TSV input's columns keep their names and order (the SMILES as written);
// SMILES and SDF input get "smiles" (as written, else canonical), "id" where a record has a name,
// and every SDF data field of any record, in the order first seen.
Status WriteTableCsv(const Table& table, const std::vector<std::string>& names,
                     const std::function<void(size_t, std::vector<double>&)>& row,
                     const std::string& output) {
  std::ofstream out(output);
  if (!out) return MakeError(ErrorCode::kFailedPrecondition, "cannot write '" + output + "'");
  const auto property = [](const chem::MoleculeRecord& r, const std::string& name) {
    auto field = std::find_if(r.properties.begin(), r.properties.end(),
                              [&](const auto& f) { return f.first == name; });
    return field == r.properties.end() ? std::string() : chem::CsvField(field->second);
  };
  const auto smiles = [](const chem::MoleculeRecord& r) {
    return chem::CsvField(r.input.empty() ? r.smiles : r.input);
  };
  // The columns before `names`: each a header and how a record fills it.
  std::vector<std::pair<std::string, std::function<std::string(const chem::MoleculeRecord&)>>>
      columns;
  const auto& header = table.header;
  if (!header.columns.empty()) {
    for (size_t c = 0; c < header.columns.size(); ++c) {
      const std::string& name = header.columns[c];
      if (static_cast<int>(c) == header.smiles) {
        columns.emplace_back(name, smiles);
      } else if (static_cast<int>(c) == header.id) {
        columns.emplace_back(name, [](const auto& r) { return chem::CsvField(r.id); });
      } else {
        columns.emplace_back(name, [&, name](const auto& r) { return property(r, name); });
      }
    }
  } else {
    columns.emplace_back("smiles", smiles);
    if (std::any_of(table.records.begin(), table.records.end(),
                    [](const auto& r) { return !r.id.empty(); })) {
      columns.emplace_back("id", [](const auto& r) { return chem::CsvField(r.id); });
    }
    std::vector<std::string> seen;
    for (const auto& r : table.records) {
      for (const auto& [name, unused] : r.properties) {
        if (std::find(seen.begin(), seen.end(), name) != seen.end()) continue;
        seen.push_back(name);
        columns.emplace_back(name,
                             [&, name](const auto& record) { return property(record, name); });
      }
    }
  }
  for (size_t c = 0; c < columns.size(); ++c)
    out << (c ? "," : "") << chem::CsvField(columns[c].first);
  for (const auto& name : names) out << "," << chem::CsvField(name);
  out << "\n";
  out.precision(10);
  std::vector<double> values(names.size());
  for (size_t i = 0; i < table.records.size(); ++i) {
    const auto& r = table.records[i];
    for (size_t c = 0; c < columns.size(); ++c) out << (c ? "," : "") << columns[c].second(r);
    row(i, values);
    for (double v : values) out << "," << v;
    out << "\n";
  }
  out.close();
  if (!out) return MakeError(ErrorCode::kFailedPrecondition, "writing '" + output + "' failed");
  return {};
}

}  // namespace

Result<ModelPrediction> PredictWithModelFile(const std::string& model_path,
                                             const std::string& data_path,
                                             const std::string& output,
                                             const std::string& smiles_column,
                                             const std::string& device) {
  auto m = LoadModelFile(model_path, device);
  if (!m) return tl::unexpected(m.error());
  auto table = ReadTable(data_path, "", smiles_column, m->fingerprint, m->model->ReadsGraphs(),
                         m->descriptors ? std::optional(m->descriptors->sets) : std::nullopt);
  if (!table) return tl::unexpected(table.error());
  if (m->descriptors) {
    AppendDescriptors(*table, m->descriptors->fingerprint, m->descriptors->graph);
  }
  auto p = learners::PredictOn(*m->model, table->x, table->graphs);
  if (!p) return tl::unexpected(p.error());
  const auto sigmas = p->Sigmas();
  auto written = WriteTableCsv(
      *table, {"mean", "sigma", "sigma_epistemic", "sigma_aleatoric"},
      [&](size_t i, std::vector<double>& values) {
        const double calibrated = m->calibrator ? m->calibrator->Apply(sigmas[i]) : sigmas[i];
        const double scale = sigmas[i] > 0 ? calibrated / sigmas[i] : 1.0;
        values = {p->mean[i], calibrated, p->sigma_epistemic[i] * scale,
                  p->sigma_aleatoric[i] * scale};
      },
      output);
  if (!written) return tl::unexpected(written.error());
  return ModelPrediction{static_cast<int64_t>(table->records.size()), table->skipped};
}

Result<ModelPrediction> WriteDescriptorFile(const std::string& data_path, chem::DescriptorSet set,
                                            const std::string& output,
                                            const std::string& smiles_column) {
  auto table = ReadTable(data_path, "", smiles_column, chem::MorganOptions{}, /*graphs=*/false,
                         chem::DescriptorSets{set, set});
  if (!table) return tl::unexpected(table.error());
  auto written = WriteTableCsv(
      *table, chem::DescriptorNames(set),
      [&](size_t i, std::vector<double>& values) { values = table->descriptors[i]; }, output);
  if (!written) return tl::unexpected(written.error());
  return ModelPrediction{static_cast<int64_t>(table->records.size()), table->skipped};
}

Status WriteModelEvaluationJson(const ModelEvaluation& e, const std::string& path) {
  json j = {{"raw", MetricsJson(e.raw)},
            {"calibrated", MetricsJson(e.calibrated)},
            {"calibration_curve", {{"expected", e.curve.expected}, {"observed", e.curve.observed}}},
            {"parity", {{"observed", e.observed}, {"predicted", e.predicted}}}};
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  if (!out) return MakeError(ErrorCode::kFailedPrecondition, "cannot write '" + path + "'");
  return {};
}

}  // namespace labloop::engine
