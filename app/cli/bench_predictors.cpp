// `labloop bench predictors`: accuracy and calibration on ESOL (BENCHMARKS.md 2).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "app/cli/bench.h"
#include "app/cli/bench_util.h"
#include "app/cli/target_set.h"
#include "learners/calibration.h"
#include "learners/cross_fit.h"
#include "learners/metrics.h"
#include "learners/property_model.h"

namespace labloop::cli {

namespace {

using detail::Clock;
using detail::Machine;
using detail::Since;
using detail::Stat;
using detail::Summarize;
using detail::WriteJson;

using json = nlohmann::json;

// Metrics on the test part, raw and after each calibrator fitted on the validation part.
using Results = std::map<std::string, learners::RegressionMetrics>;  // calibration -> metrics

struct SplitResult {
  Results test;
  std::map<std::string, std::vector<double>> test_sigma;  // calibration -> σ of each test row
  double fit_seconds = 0;
  learners::Predictions predictions;        // raw, on the test part
  std::vector<double> y;                    // the test part's targets
  learners::Predictions valid_predictions;  // raw, on the validation part (calibrators fit these)
  std::vector<double> valid_y;
  // The training rows' leave-one-out or cross-fitted predictions, when made.
  std::optional<learners::Predictions> train_predictions;
  std::vector<double> train_y;
  double cross_fit_seconds = 0;
};

// One CSV row per test molecule, split and model: the raw predictions, for parity plots and for
// combining models outside the bench. Then the validation molecules', under "SPLIT-validation",
// and the training molecules' leave-one-out or cross-fitted ones, under "SPLIT-train-heldout",
// for trying calibrators outside the bench.
void WritePredictions(std::ofstream& out, const std::string& split, int seed,
                      const std::string& model, const SplitResult& r) {
  auto rows = [&](const std::string& name, const std::vector<double>& y,
                  const learners::Predictions& p) {
    for (size_t i = 0; i < y.size(); ++i) {
      out << name << ',' << seed << ',' << model << ',' << i << ',' << y[i] << ',' << p.mean[i]
          << ',' << p.sigma_epistemic[i] << ',' << p.sigma_aleatoric[i] << '\n';
    }
  };
  rows(split, r.y, r.predictions);
  rows(split + "-validation", r.valid_y, r.valid_predictions);
  if (r.train_predictions) rows(split + "-train-heldout", r.train_y, *r.train_predictions);
}

// The model options of a run: defaults, with the bench's overrides.
learners::ModelOptions OptionsFor(const PredictorsBench& bench, const std::string& kind,
                                  uint64_t seed) {
  learners::ModelOptions options;
  options.kind = kind;
  options.seed = seed;
  if (bench.epochs > 0) options.epochs = bench.epochs;
  if (bench.hidden > 0) options.hidden = bench.hidden;
  if (bench.members > 0) options.members = bench.members;
  options.validation_fraction = bench.early_stopping;
  return options;
}

Result<SplitResult> RunSplit(const PredictorsBench& bench, const std::string& kind, uint64_t seed,
                             const TargetSet& train, const TargetSet& valid,
                             const TargetSet& test) {
  learners::ModelRegistry models("model");
  learners::RegisterBuiltinModels(models);
  auto options = OptionsFor(bench, kind, seed);
  auto model = models.Create(kind, options);
  if (!model) return tl::unexpected(model.error());
  SplitResult out;
  auto t0 = Clock::now();
  LABLOOP_TRY(learners::FitOn(**model, train.x, train.graphs, train.y));
  out.fit_seconds = Since(t0);
  auto pv = learners::PredictOn(**model, valid.x, valid.graphs);
  if (!pv) return tl::unexpected(pv.error());
  auto pt = learners::PredictOn(**model, test.x, test.graphs);
  if (!pt) return tl::unexpected(pt.error());
  auto sigma_test = pt->Sigmas();
  auto raw = learners::EvaluatePredictions(test.y, pt->mean, sigma_test);
  if (!raw) return tl::unexpected(raw.error());
  out.test["none"] = *raw;
  out.test_sigma["none"] = sigma_test;
  out.predictions = *pt;
  out.y = test.y;
  out.valid_predictions = *pv;
  out.valid_y = valid.y;
  auto sigma_valid = pv->Sigmas();
  std::vector<double> residual(valid.y.size());
  for (size_t i = 0; i < residual.size(); ++i) residual[i] = valid.y[i] - pv->mean[i];
  learners::CalibratorRegistry calibrators("calibration");
  learners::RegisterBuiltinCalibrators(calibrators);
  // Calibrators fitted on (σ, residual) pairs, under `suffix`, on the test part.
  auto calibrate = [&](const std::vector<double>& sigma, const std::vector<double>& residual,
                       const std::string& suffix) -> Status {
    for (const auto& name : calibrators.Names()) {
      auto calibrator = calibrators.Create(name);
      LABLOOP_TRY((*calibrator)->Fit(sigma, residual));
      std::vector<double> calibrated;
      for (double s : sigma_test) calibrated.push_back((*calibrator)->Apply(s));
      auto after = learners::EvaluatePredictions(test.y, pt->mean, calibrated);
      if (!after) return tl::unexpected(after.error());
      out.test[name + suffix] = *after;
      out.test_sigma[name + suffix] = std::move(calibrated);
    }
    return {};
  };
  LABLOOP_TRY(calibrate(sigma_valid, residual, ""));
  // Calibrators fitted on the training rows' out-of-sample predictions too, alone and beside the
  // validation rows: the exact leave-one-out ones where the model has them (the GP), else
  // cross-fitted ones when asked for.
  learners::CrossFitOptions cross;
  cross.folds = bench.calibration_folds;
  cross.seed = seed;
  bool leave_one_out = false;
  auto t1 = Clock::now();
  auto held_out = learners::OutOfSamplePredictions(**model, models, options, train.x, train.graphs,
                                                   train.y, cross, &leave_one_out);
  // Without folds, models that have no leave-one-out predictions simply have none here.
  if (!held_out && !(cross.folds == 0 && held_out.error().code == ErrorCode::kFailedPrecondition)) {
    return tl::unexpected(held_out.error());
  }
  if (held_out) {
    const std::string suffix = leave_one_out ? "+loo" : "+cv";
    if (!leave_one_out) out.cross_fit_seconds = Since(t1);
    auto sigma_held = held_out->Sigmas();
    std::vector<double> residual_held(train.y.size());
    for (size_t i = 0; i < residual_held.size(); ++i) {
      residual_held[i] = train.y[i] - held_out->mean[i];
    }
    LABLOOP_TRY(calibrate(sigma_held, residual_held, suffix + "-only"));
    sigma_held.insert(sigma_held.end(), sigma_valid.begin(), sigma_valid.end());
    residual_held.insert(residual_held.end(), residual.begin(), residual.end());
    LABLOOP_TRY(calibrate(sigma_held, residual_held, suffix));
    out.train_predictions = std::move(*held_out);
    out.train_y = train.y;
  }
  return out;
}

// Prints and returns the table of one split kind: per model and calibration, mean ± s.d.
json Report(const std::string& title,
            const std::map<std::string, std::vector<SplitResult>>& by_model) {
  std::printf("\n%s\n  %-14s %-14s %13s %13s %13s %13s %13s %8s %8s\n", title.c_str(), "model",
              "calibration", "rmse", "spearman", "miscal. area", "nll", "ence", "fit s", "pooled");
  json out = json::array();
  for (const auto& [model, runs] : by_model) {
    for (const auto& [calibration, unused] : runs.front().test) {
      std::vector<double> rmse, spearman, area, nll, ence, fit, cross_fit;
      for (const auto& r : runs) {
        const auto& m = r.test.at(calibration);
        rmse.push_back(m.rmse);
        spearman.push_back(m.spearman);
        area.push_back(m.miscalibration_area);
        nll.push_back(m.nll);
        ence.push_back(m.ence);
        fit.push_back(r.fit_seconds);
        cross_fit.push_back(r.cross_fit_seconds);
      }
      auto cell = [](const Stat& s) {
        char buffer[32];
        std::snprintf(buffer, sizeof(buffer), "%.3f ± %.3f", s.mean, s.sd);
        return std::string(buffer);
      };
      Stat s_rmse = Summarize(rmse), s_sp = Summarize(spearman), s_area = Summarize(area),
           s_nll = Summarize(nll), s_ence = Summarize(ence), s_fit = Summarize(fit);
      // Every seed's test rows together, each with its own seed's calibration: a steadier
      // figure than the mean over seeds, whose floor is the area of a single test set.
      std::vector<double> pooled_y, pooled_mean, pooled_sigma;
      for (const auto& r : runs) {
        const auto& sigma = r.test_sigma.at(calibration);
        pooled_y.insert(pooled_y.end(), r.y.begin(), r.y.end());
        pooled_mean.insert(pooled_mean.end(), r.predictions.mean.begin(), r.predictions.mean.end());
        pooled_sigma.insert(pooled_sigma.end(), sigma.begin(), sigma.end());
      }
      auto pooled = learners::EvaluatePredictions(pooled_y, pooled_mean, pooled_sigma);
      const double pooled_area = pooled ? pooled->miscalibration_area : std::nan("");
      std::printf("  %-14s %-14s %15s %15s %15s %15s %15s %8.2f %8.3f\n", model.c_str(),
                  calibration.c_str(), cell(s_rmse).c_str(), cell(s_sp).c_str(),
                  cell(s_area).c_str(), cell(s_nll).c_str(), cell(s_ence).c_str(), s_fit.mean,
                  pooled_area);
      out.push_back({{"model", model},
                     {"calibration", calibration},
                     {"runs", runs.size()},
                     {"rmse", detail::StatJson(s_rmse)},
                     {"spearman", detail::StatJson(s_sp)},
                     {"miscalibration_area", detail::StatJson(s_area)},
                     {"nll", detail::StatJson(s_nll)},
                     {"ence", detail::StatJson(s_ence)},
                     {"fit_seconds", detail::StatJson(s_fit)},
                     {"cross_fit_seconds", detail::StatJson(Summarize(cross_fit))},
                     {"pooled_miscalibration_area", pooled_area},
                     {"pooled_test_points", pooled_y.size()}});
    }
  }
  return out;
}

}  // namespace

Status RunPredictorsBench(const PredictorsBench& options) {
  if (!learners::ValidCalibrationFolds(options.calibration_folds)) {
    return MakeError(ErrorCode::kInvalidArgument, "--calibration-folds must be 0 or 2 to 20");
  }
  auto set = chem::ParseDescriptorSet(options.descriptor_set);
  if (!set) return tl::unexpected(set.error());
  auto graph_set = chem::ParseDescriptorSet(options.graph_descriptor_set);
  if (!graph_set) return tl::unexpected(graph_set.error());
  // Descriptors only where they are used: RDKit's 206 take 1.7 ms a molecule.
  std::optional<chem::DescriptorSets> sets;
  if (options.descriptors > 0) sets = chem::DescriptorSets{*set, *graph_set};
  auto all = ReadSet(options.data, options.target, sets);
  if (!all) return tl::unexpected(all.error());
  const int64_t n = all->x.Rows();
  auto named = [](const std::string& name, chem::DescriptorSet s) {
    return name + ", " + std::to_string(chem::DescriptorNames(s).size());
  };
  const std::string features = options.descriptors > 0
                                   ? ", RDKit descriptors beside fingerprints (" +
                                         named(options.descriptor_set, *set) + ") and graphs (" +
                                         named(options.graph_descriptor_set, *graph_set) + ")"
                                   : "";
  std::printf("\nbench predictors: %s (%lld molecules, target '%s')%s\n", options.data.c_str(),
              static_cast<long long>(n), options.target.c_str(), features.c_str());
  json result = {{"benchmark", "predictors"},
                 {"data", options.data},
                 {"molecules", n},
                 {"descriptor_weight", options.descriptors}};
  if (options.descriptors > 0) {
    result["descriptor_set"] = options.descriptor_set;
    result["graph_descriptor_set"] = options.graph_descriptor_set;
  }

  std::ofstream predictions;
  if (!options.predictions_path.empty()) {
    predictions.open(options.predictions_path);
    if (!predictions) {
      return MakeError(ErrorCode::kInvalidArgument, "cannot write " + options.predictions_path);
    }
    predictions.precision(9);
    predictions << "split,seed,model,row,y,mean,sigma_epistemic,sigma_aleatoric\n";
  }

  // Random 80/10/10 splits.
  std::map<std::string, std::vector<SplitResult>> random_runs;
  for (int seed = 0; seed < options.seeds; ++seed) {
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(seed);
    std::shuffle(order.begin(), order.end(), rng);
    const int64_t n_train = n * 8 / 10, n_valid = n / 10;
    std::vector<int64_t> tr(order.begin(), order.begin() + n_train);
    std::vector<int64_t> va(order.begin() + n_train, order.begin() + n_train + n_valid);
    std::vector<int64_t> te(order.begin() + n_train + n_valid, order.end());
    TargetSet train = Subset(*all, tr), valid = Subset(*all, va), test = Subset(*all, te);
    AddDescriptors(options.descriptors, train, {&valid, &test});
    for (const auto& model : options.models) {
      auto run = RunSplit(options, model, static_cast<uint64_t>(seed), train, valid, test);
      if (!run) return tl::unexpected(run.error());
      if (predictions.is_open()) WritePredictions(predictions, "random", seed, model, *run);
      random_runs[model].push_back(*run);
    }
  }
  result["random_split"] = Report(
      "random 80/10/10 split, " + std::to_string(options.seeds) + " seeds (test set)", random_runs);

  if (!options.scaffold_dir.empty()) {
    auto train = ReadSet(options.scaffold_dir + "/train.csv", "labels", sets);
    auto valid = ReadSet(options.scaffold_dir + "/valid.csv", "labels", sets);
    auto test = ReadSet(options.scaffold_dir + "/test.csv", "labels", sets);
    if (!train || !valid || !test) {
      return MakeError(ErrorCode::kNotFound,
                       "cannot read the scaffold split in " + options.scaffold_dir);
    }
    AddDescriptors(options.descriptors, *train, {&*valid, &*test});
    std::map<std::string, std::vector<SplitResult>> scaffold_runs;
    for (const auto& model : options.models) {
      auto run = RunSplit(options, model, 0, *train, *valid, *test);
      if (!run) return tl::unexpected(run.error());
      if (predictions.is_open()) WritePredictions(predictions, "scaffold", 0, model, *run);
      scaffold_runs[model].push_back(*run);
    }
    result["scaffold_split"] = Report("scaffold split (MUBen; test set)", scaffold_runs);
    const int64_t n_scaffold = static_cast<int64_t>(test->y.size());
    const double floor_scaffold = learners::ExpectedMiscalibrationArea(n_scaffold);
    std::printf(
        "\n  scaffold split: a perfectly calibrated model's miscalibration area on %lld test "
        "points: %.3f on average\n",
        static_cast<long long>(n_scaffold), floor_scaffold);
    result["scaffold_miscalibration_floor"] = {{"test_points", n_scaffold},
                                               {"area", floor_scaffold}};
  }

  // What a perfectly calibrated model would show on test sets of these sizes.
  const int64_t n_test = n - n * 8 / 10 - n / 10;
  const double floor_random = learners::ExpectedMiscalibrationArea(n_test);
  std::printf(
      "\n  a perfectly calibrated model's miscalibration area on %lld test points: %.3f on "
      "average (Monte Carlo, 2,000 draws)\n",
      static_cast<long long>(n_test), floor_random);
  result["miscalibration_floor"] = {{"test_points", n_test}, {"area", floor_random}};
  if (options.seeds > 1) {
    const int64_t n_pooled = n_test * options.seeds;
    const double floor_pooled = learners::ExpectedMiscalibrationArea(n_pooled);
    std::printf("  and on the %lld test points of all %d seeds pooled: %.3f\n",
                static_cast<long long>(n_pooled), options.seeds, floor_pooled);
    result["pooled_miscalibration_floor"] = {{"test_points", n_pooled}, {"area", floor_pooled}};
  }

  std::printf(
      "\n  published (random split, test RMSE): Chemprop D-MPNN 0.555 ± 0.047; best "
      "MoleculeNet 0.58; Delaney 0.91.\n  Chemprop uncertainty study (ESOL): D-MPNN MVE "
      "Spearman 0.38, miscalibration area 0.084; RF 0.26 / 0.017.\n  targets: RMSE <= "
      "0.50, Spearman >= 0.40 and miscalibration area <= 0.03 after calibration\n");

  if (options.throughput_rows > 0) {
    AddDescriptors(options.descriptors, *all, {});
    learners::SparseMatrix pool = all->x.Repeat(options.throughput_rows);
    std::vector<int64_t> repeat(options.throughput_rows);
    for (int64_t i = 0; i < options.throughput_rows; ++i) repeat[i] = i % n;
    const auto pool_graphs = learners::SelectGraphs(all->graphs, repeat);
    learners::ModelRegistry models("model");
    learners::RegisterBuiltinModels(models);
    json throughput = json::object();
    std::printf("\n  prediction throughput on cached fingerprints (%lld molecules, μ and σ):\n",
                static_cast<long long>(options.throughput_rows));
    for (const auto& kind : options.models) {
      auto model = models.Create(kind, OptionsFor(options, kind, 0));
      if (!model) return tl::unexpected(model.error());
      LABLOOP_TRY(learners::FitOn(**model, all->x, all->graphs, all->y));
      auto t0 = Clock::now();
      auto p = learners::PredictOn(**model, pool, pool_graphs);
      if (!p) return tl::unexpected(p.error());
      double rate = options.throughput_rows / Since(t0);
      std::printf("  %-14s %12.0f molecules / s (trained on %lld)%s\n", kind.c_str(), rate,
                  static_cast<long long>(n),
                  kind == "deep_ensemble" ? "   target >= 100,000 / s" : "");
      throughput[kind] = rate;
    }
    result["throughput_per_second"] = throughput;
  }
  result["machine"] = Machine();
  return WriteJson(options.json_path, result);
}

}  // namespace labloop::cli
