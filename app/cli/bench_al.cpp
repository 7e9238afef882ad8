// `labloop bench al`: MolPAL's retrospective active-learning protocol (BENCHMARKS.md 1).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "app/cli/bench.h"
#include "app/cli/bench_util.h"
#include "core/chem/reader.h"
#include "core/log.h"
#include "learners/acquisition.h"
#include "learners/batch.h"
#include "learners/property_model.h"

namespace labloop::cli {

namespace {

using detail::Clock;
using detail::Machine;
using detail::Since;
using detail::Stat;
using detail::StatJson;
using detail::Summarize;
using detail::WriteJson;

namespace fs = std::filesystem;
using json = nlohmann::json;
constexpr double kNoScore = std::numeric_limits<double>::quiet_NaN();

// The published figures (% of top-100 scores after 6%, Graff et al. 2021), for the table.
const std::map<std::string, std::map<std::string, std::string>>& Published() {
  static const std::map<std::string, std::map<std::string, std::string>> table = {
      {"random", {{"random", "5.6 ± 0.8"}}},
      {"RF on fingerprints",
       {{"greedy", "51.6 ± 5.9"},
        {"ucb", "43.2 ± 3.4"},
        {"thompson", "27.6 ± 1.9"},
        {"ei", "39.4 ± 9.5"},
        {"pi", "47.6 ± 4.2"}}},
      {"feed-forward NN",
       {{"greedy", "66.8 ± 5.4"},
        {"ucb", "58.0 ± 3.5"},
        {"thompson", "61.4 ± 3.9"},
        {"ei", "56.0 ± 7.5"},
        {"pi", "57.8 ± 2.4"}}},
      {"D-MPNN",
       {{"greedy", "67.0 ± 3.0"},
        {"ucb", "64.4 ± 4.1"},
        {"thompson", "60.0 ± 4.1"},
        {"ei", "64.4 ± 3.8"},
        {"pi", "63.0 ± 3.2"}}},
  };
  return table;
}

// The library's molecules with their fingerprints and scores (NaN: no score, a failed
// evaluation that still costs its place in the budget).
struct Dataset {
  learners::SparseMatrix x;
  std::vector<double> y;
  std::vector<std::string> smiles;
  int64_t library_size = 0;  // rows of the library file, unusable ones included
  int64_t unusable = 0;      // rows RDKit could not parse: never picked, counted in the budget
  double featurize_seconds = 0;
};

// smiles (as written) -> score, from a CSV with `smiles` and `score` columns.
Result<std::map<std::string, double>> ReadScores(const std::string& path) {
  chem::ReadOptions read;
  read.standardize = false;
  read.smiles_column = "smiles";
  read.limits.max_heavy_atoms = 1000;
  read.limits.max_smiles_length = 100000;
  auto report = chem::ReadMoleculeFile(path, read);
  if (!report) return tl::unexpected(report.error());
  std::map<std::string, double> scores;
  for (const auto& r : report->records) {
    auto field = std::find_if(r.properties.begin(), r.properties.end(),
                              [](const auto& p) { return p.first == "score"; });
    if (field == r.properties.end()) {
      return MakeError(ErrorCode::kInvalidArgument, path + ": no 'score' column");
    }
    if (field->second.empty()) continue;  // no score: a failed evaluation
    char* end = nullptr;
    double value = std::strtod(field->second.c_str(), &end);
    if (end == field->second.c_str() || !std::isfinite(value)) {
      LogWarn("{}: score '{}' is not a number; treated as missing", r.location, field->second);
      continue;
    }
    scores[r.input] = value;
  }
  return scores;
}

Result<Dataset> LoadDataset(const AlBench& options) {
  auto scores = ReadScores(options.scores);
  if (!scores) return tl::unexpected(scores.error());
  auto t0 = Clock::now();
  chem::ReadOptions read;
  read.standardize = false;  // the scores belong to the molecules as written
  read.fingerprint = chem::MorganOptions{2, 2048, true, false};
  read.limits.max_heavy_atoms = 1000;
  read.limits.max_smiles_length = 100000;
  auto report = chem::ReadMoleculeFile(options.library, read);
  if (!report) return tl::unexpected(report.error());
  Dataset d;
  d.featurize_seconds = Since(t0);
  d.x = learners::SparseMatrix(2048);
  for (const auto& r : report->records) {
    d.x.AddRow(r.fingerprint.indices, r.fingerprint.values);
    auto it = scores->find(r.input);
    d.y.push_back(it == scores->end() ? kNoScore : it->second);
    d.smiles.push_back(r.input);
  }
  d.unusable = static_cast<int64_t>(report->rejected.size());
  d.library_size = static_cast<int64_t>(report->records.size()) + d.unusable;
  for (const auto& r : report->rejected) LogWarn("library: {}", r.ToString());
  return d;
}

struct Metrics {
  double scores = 0, smiles = 0, avg = 0;
};

// MolPAL's three metrics over the molecules acquired (lower scores are better):
//   scores: of the best top_k scores found, the fraction at least as good as the true k-th best
//           (tie-tolerant: any molecule tied with the k-th best counts);
//   smiles: the fraction of the true top-k molecules found (ties broken by file order);
//   avg:    mean of the best top_k scores found / mean of the true top-k scores.
Metrics Evaluate(const std::vector<int64_t>& acquired, const std::vector<double>& y, int top_k) {
  std::vector<int64_t> order;
  for (size_t i = 0; i < y.size(); ++i) {
    if (!std::isnan(y[i])) order.push_back(static_cast<int64_t>(i));
  }
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return y[a] < y[b]; });
  order.resize(std::min<size_t>(order.size(), top_k));
  const double kth = y[order.back()];
  double true_sum = 0;
  for (int64_t i : order) true_sum += y[i];

  std::vector<double> found;
  for (int64_t i : acquired) {
    if (!std::isnan(y[i])) found.push_back(y[i]);
  }
  std::sort(found.begin(), found.end());
  found.resize(std::min<size_t>(found.size(), top_k));
  Metrics m;
  double found_sum = 0;
  for (double v : found) {
    if (v <= kth) m.scores += 1.0 / top_k;
    found_sum += v;
  }
  std::set<int64_t> acquired_set(acquired.begin(), acquired.end());
  for (int64_t i : order) {
    if (acquired_set.count(i)) m.smiles += 1.0 / top_k;
  }
  m.avg = found.empty() ? 0.0 : (found_sum / found.size()) / (true_sum / order.size());
  return m;
}

struct Setting {
  std::string model, acquisition;
};

struct RunResult {
  Metrics metrics;
  std::vector<double> iteration_seconds;
  std::vector<double> fit_seconds, predict_seconds;  // parts of each iteration
};

learners::ModelOptions ModelOptionsFor(const AlBench& options, const std::string& kind,
                                       uint64_t seed) {
  learners::ModelOptions m;
  m.kind = kind;
  m.seed = seed;
  if (options.hidden > 0) m.hidden = options.hidden;
  if (options.epochs > 0) m.epochs = options.epochs;
  if (options.members > 0) m.members = options.members;
  return m;
}

// One replicate: init at random, then `iters` batches chosen by the setting.
Result<RunResult> RunOnce(const Dataset& d, const AlBench& options, const Setting& setting,
                          uint64_t seed) {
  const int64_t init = std::llround(options.init * d.library_size);
  const int64_t batch = std::llround(options.batch * d.library_size);
  const int64_t n = d.x.Rows();
  std::mt19937_64 rng(seed);
  std::vector<int64_t> all(n);
  std::iota(all.begin(), all.end(), 0);
  std::shuffle(all.begin(), all.end(), rng);
  std::vector<int64_t> acquired(all.begin(), all.begin() + std::min(init, n));
  std::vector<bool> taken(n, false);
  for (int64_t i : acquired) taken[i] = true;

  learners::ModelRegistry models("model");
  learners::RegisterBuiltinModels(models);
  learners::AcquisitionRegistry acquisitions("acquisition");
  learners::RegisterBuiltinAcquisitions(acquisitions);
  learners::BatchOptions batch_options;
  batch_options.kind = options.batch_selection;
  batch_options.max_similarity = options.max_similarity;

  RunResult result;
  for (int iter = 0; iter < options.iters; ++iter) {
    auto t0 = Clock::now();
    std::vector<int64_t> pool;
    for (int64_t i = 0; i < n; ++i) {
      if (!taken[i]) pool.push_back(i);
    }
    learners::AcquisitionOptions a;
    a.kind = setting.acquisition;
    a.beta = options.beta;
    a.xi = options.xi;
    a.threshold = options.threshold;
    a.seed = seed * 1000003ULL + static_cast<uint64_t>(iter);
    auto acquisition = acquisitions.Create(a.kind, a);
    if (!acquisition) return tl::unexpected(acquisition.error());

    learners::Predictions predictions;
    double best = std::numeric_limits<double>::infinity();
    if (setting.acquisition != "random") {  // random needs no model
      std::vector<int64_t> train_rows;
      std::vector<double> y;
      for (int64_t i : acquired) {
        if (std::isnan(d.y[i])) continue;
        train_rows.push_back(i);
        y.push_back(d.y[i]);
        best = std::min(best, d.y[i]);
      }
      auto model = models.Create(setting.model,
                                 ModelOptionsFor(options, setting.model, seed * 7919ULL + iter));
      if (!model) return tl::unexpected(model.error());
      auto t_fit = Clock::now();
      LABLOOP_TRY((*model)->Fit(d.x.Select(train_rows), y));
      result.fit_seconds.push_back(Since(t_fit));
      auto t_predict = Clock::now();
      // Greedy ranks by the mean alone: models skip the σ work then (the GP's n² per row).
      auto p = setting.acquisition == "greedy" ? (*model)->PredictMean(d.x.Select(pool))
                                               : (*model)->Predict(d.x.Select(pool));
      if (!p) return tl::unexpected(p.error());
      result.predict_seconds.push_back(Since(t_predict));
      predictions = std::move(*p);
    } else {
      predictions.mean.assign(pool.size(), 0.0);
      predictions.sigma_epistemic.assign(pool.size(), 0.0);
      predictions.sigma_aleatoric.assign(pool.size(), 0.0);
    }
    auto scores = (*acquisition)->Score(predictions, learners::Direction::kMinimize, best);
    learners::BatchSelection picked;
    if (options.batch_selection == "top_k") {
      picked.rows = learners::SelectTopK(scores, batch);
    } else {
      auto diverse = learners::SelectBatch(scores, d.x.Select(pool), batch, batch_options);
      if (!diverse) return tl::unexpected(diverse.error());
      picked = std::move(*diverse);
    }
    for (int64_t r : picked.rows) {
      acquired.push_back(pool[r]);
      taken[pool[r]] = true;
    }
    result.iteration_seconds.push_back(Since(t0));
  }
  result.metrics = Evaluate(acquired, d.y, options.top_k);
  return result;
}

// Runs the Python baseline; returns its JSON, or an error saying why it could not run.
Result<json> RunBaseline(const AlBench& options) {
  if (!fs::exists(options.baseline_script)) {
    return MakeError(ErrorCode::kNotFound,
                     "baseline script '" + options.baseline_script + "' does not exist");
  }
  fs::path out =
      fs::temp_directory_path() / ("labloop-al-baseline-" + std::to_string(getpid()) + ".json");
  char init[32], batch[32];
  std::snprintf(init, sizeof(init), "%g", options.init);
  std::snprintf(batch, sizeof(batch), "%g", options.batch);
  std::string command = "'" + options.python + "' '" + options.baseline_script + "' --library '" +
                        options.library + "' --scores '" + options.scores + "' --seeds " +
                        std::to_string(options.seeds) + " --init " + init + " --batch " + batch +
                        " --iters " + std::to_string(options.iters) + " --json '" + out.string() +
                        "'";
  std::printf("\nPython baseline (same protocol, same machine):\n  %s\n", command.c_str());
  std::fflush(stdout);
  int code = std::system(command.c_str());
  if (code != 0) {
    return MakeError(ErrorCode::kUnavailable,
                     "the baseline failed (exit " + std::to_string(code) +
                         "); it needs Debian's python3-rdkit and python3-sklearn "
                         "(scripts/install-deps)");
  }
  std::ifstream in(out);
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  std::error_code ec;
  fs::remove(out, ec);
  if (j.is_discarded()) return MakeError(ErrorCode::kInternal, "the baseline wrote no valid JSON");
  return j;
}

// Scores a pool of `rows` rows (the library's fingerprints repeated) with a model trained on
// 6% of the library, and selects a batch: the fast loop at the size of a large screening pool.
Result<json> TimeScale(const Dataset& d, const AlBench& options, const std::string& kind) {
  learners::SparseMatrix pool = d.x.Repeat(options.scale_pool);
  std::vector<int64_t> train_rows;
  std::vector<double> y;
  const int64_t train =
      std::llround((options.init + options.iters * options.batch) * d.library_size);
  for (int64_t i = 0; i < d.x.Rows() && static_cast<int64_t>(y.size()) < train; ++i) {
    if (std::isnan(d.y[i])) continue;
    train_rows.push_back(i);
    y.push_back(d.y[i]);
  }
  learners::ModelRegistry models("model");
  learners::RegisterBuiltinModels(models);
  auto model = models.Create(kind, ModelOptionsFor(options, kind, 1));
  if (!model) return tl::unexpected(model.error());
  auto t0 = Clock::now();
  LABLOOP_TRY((*model)->Fit(d.x.Select(train_rows), y));
  double train_seconds = Since(t0);
  auto t1 = Clock::now();
  auto predictions = (*model)->Predict(pool);
  if (!predictions) return tl::unexpected(predictions.error());
  double predict_seconds = Since(t1);
  learners::AcquisitionRegistry acquisitions("acquisition");
  learners::RegisterBuiltinAcquisitions(acquisitions);
  learners::AcquisitionOptions a;
  a.kind = "ucb";
  auto ucb = acquisitions.Create("ucb", a);
  const int64_t batch = std::llround(options.batch * d.library_size);
  json selections = json::object();
  for (const std::string kind_of_batch : {"top_k", "diverse"}) {
    auto t2 = Clock::now();
    auto scores = (*ucb)->Score(*predictions, learners::Direction::kMinimize, 0.0);
    learners::BatchOptions b;
    b.kind = kind_of_batch;
    auto picked = learners::SelectBatch(scores, pool, batch, b);
    if (!picked) return tl::unexpected(picked.error());
    selections[kind_of_batch] = Since(t2);
  }
  double total = predict_seconds + selections["top_k"].get<double>();
  std::printf("\nPool scale: %lld molecules (the library's fingerprints repeated), %s\n",
              static_cast<long long>(options.scale_pool), kind.c_str());
  std::printf("  %-44s %8.2f s\n", "train on 6% of the library (once)", train_seconds);
  std::printf("  %-44s %8.2f s\n", "predict the pool (μ, σ)", predict_seconds);
  std::printf("  %-44s %8.2f s\n", "score (ucb) + select top-k batch",
              selections["top_k"].get<double>());
  std::printf("  %-44s %8.2f s\n", "score (ucb) + select diverse batch",
              selections["diverse"].get<double>());
  std::printf("  %-44s %8.2f s   (target <= 10 s)\n", "scored and a batch selected", total);
  return json{{"pool", options.scale_pool},     {"model", kind},
              {"train_seconds", train_seconds}, {"predict_seconds", predict_seconds},
              {"select_seconds", selections},   {"score_and_select_seconds", total}};
}

}  // namespace

Status RunAlBench(const AlBench& options) {
  if (options.seeds < 1 || options.iters < 1 || options.top_k < 1 || !(options.init > 0) ||
      !(options.batch > 0)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "bench al needs --seeds, --iters, --top-k >= 1 and --init, --batch > 0");
  }
  for (const auto& model : options.models) {
    if (learners::KindReadsGraphs(model)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "bench al runs models on fingerprints; " + model +
                           " reads molecular graphs (use a campaign or bench predictors)");
    }
  }
  for (const auto& a : options.acquisitions) {
    if (a == "threshold" && !options.threshold) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "--acquisition threshold needs --threshold (the score to beat)");
    }
  }
  auto data = LoadDataset(options);
  if (!data) return tl::unexpected(data.error());
  const Dataset& d = *data;
  int64_t scored = std::count_if(d.y.begin(), d.y.end(), [](double v) { return !std::isnan(v); });
  if (scored < options.top_k) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "only " + std::to_string(scored) + " library molecules have a score in " +
                         options.scores + "; the metrics need at least --top-k " +
                         std::to_string(options.top_k));
  }
  std::printf(
      "\nbench al: %s\n  %lld molecules (%lld with a score, %lld unusable), featurized in "
      "%.1f s\n  init %.3g + %d x %.3g of the library, top-%d, %d seeds, batches by %s\n",
      options.library.c_str(), static_cast<long long>(d.library_size),
      static_cast<long long>(scored), static_cast<long long>(d.unusable), d.featurize_seconds,
      options.init, options.iters, options.batch, options.top_k, options.seeds,
      options.batch_selection.c_str());
  const std::string top = "top-" + std::to_string(options.top_k);
  std::printf("\n  %-15s %-10s %16s %16s %16s %10s\n", "model", "acquisition",
              (top + " scores %").c_str(), (top + " smiles %").c_str(), (top + " avg").c_str(),
              "s / iter");

  json settings = json::array();
  double best_scores = -1, best_seconds = 0;
  std::string best_setting;
  for (const auto& model : options.models) {
    for (const auto& acquisition : options.acquisitions) {
      Setting setting{acquisition == "random" ? "none" : model, acquisition};
      if (acquisition == "random" && model != options.models.front()) continue;
      std::vector<double> s, m, a, seconds;
      json runs = json::array();
      for (int seed = 0; seed < options.seeds; ++seed) {
        auto run = RunOnce(d, options, setting, static_cast<uint64_t>(seed));
        if (!run) return tl::unexpected(run.error());
        s.push_back(100 * run->metrics.scores);
        m.push_back(100 * run->metrics.smiles);
        a.push_back(run->metrics.avg);
        for (double t : run->iteration_seconds) seconds.push_back(t);
        runs.push_back({{"seed", seed},
                        {"scores", run->metrics.scores},
                        {"smiles", run->metrics.smiles},
                        {"avg", run->metrics.avg},
                        {"iteration_seconds", run->iteration_seconds},
                        {"fit_seconds", run->fit_seconds},
                        {"predict_seconds", run->predict_seconds}});
      }
      Stat ss = Summarize(s), sm = Summarize(m), sa = Summarize(a), st = Summarize(seconds);
      std::printf("  %-15s %-10s %9.1f ± %4.1f %9.1f ± %4.1f %9.3f ± %4.3f %10.3f\n",
                  setting.model.c_str(), acquisition.c_str(), ss.mean, ss.sd, sm.mean, sm.sd,
                  sa.mean, sa.sd, st.mean);
      std::fflush(stdout);
      if (acquisition != "random" && ss.mean > best_scores) {
        best_scores = ss.mean;
        best_seconds = st.mean;
        best_setting = setting.model + " + " + acquisition;
      }
      settings.push_back({{"model", setting.model},
                          {"acquisition", acquisition},
                          {"batch_selection", options.batch_selection},
                          {"scores_percent", StatJson(ss)},
                          {"smiles_percent", StatJson(sm)},
                          {"avg", StatJson(sa)},
                          {"seconds_per_iteration", st.mean},
                          {"runs", runs}});
    }
  }

  std::printf("\n  published (Graff et al., Chem. Sci. 2021; %% of top-100 scores after 6%%):\n");
  std::printf("  %-20s %12s %12s %12s %12s %12s\n", "model", "greedy", "ucb", "thompson", "ei",
              "pi");
  for (const auto& [model, row] : Published()) {
    std::printf("  %-20s", model.c_str());
    for (const std::string a : {"greedy", "ucb", "thompson", "ei", "pi"}) {
      auto it = row.find(model == "random" ? "random" : a);
      bool shown = it != row.end() && (model != "random" || a == "greedy");
      std::printf(" %12s", shown ? it->second.c_str() : "");
    }
    std::printf("\n");
  }
  std::printf("  target: >= 75%% for the best setting; here %s: %.1f%%\n", best_setting.c_str(),
              best_scores);

  json result = {{"benchmark", "al"},
                 {"library", options.library},
                 {"scores", options.scores},
                 {"library_size", d.library_size},
                 {"with_score", scored},
                 {"init", options.init},
                 {"batch", options.batch},
                 {"iterations", options.iters},
                 {"seeds", options.seeds},
                 {"top_k", options.top_k},
                 {"featurize_seconds", d.featurize_seconds},
                 {"settings", settings},
                 {"best",
                  {{"setting", best_setting},
                   {"scores_percent", best_scores},
                   {"seconds_per_iteration", best_seconds}}},
                 {"machine", Machine()}};

  if (!options.baseline_script.empty()) {
    auto baseline = RunBaseline(options);
    if (!baseline) {
      std::printf("  baseline not run: %s\n", baseline.error().message.c_str());
      result["baseline"] = {{"error", baseline.error().message}};
    } else {
      double python_seconds = baseline->value("seconds_per_iteration", 0.0);
      std::printf("  %-44s %9.1f ± %4.1f %%   %8.3f s / iter\n", "python RF (sklearn) greedy",
                  100 * baseline->value("/scores/mean"_json_pointer, 0.0),
                  100 * baseline->value("/scores/sd"_json_pointer, 0.0), python_seconds);
      std::printf("  %-44s %8.1f x faster per iteration (target >= 10 x)\n",
                  ("labloop " + best_setting).c_str(), python_seconds / best_seconds);
      result["baseline"] = *baseline;
      result["speedup_per_iteration"] = python_seconds / best_seconds;
    }
  }
  if (options.scale_pool > 0) {
    result["scale"] = json::array();
    for (const auto& model : options.models) {
      auto scale = TimeScale(d, options, model);
      // A failure here (memory, say) must not lose the table measured above.
      result["scale"].push_back(scale ? *scale
                                      : json{{"model", model}, {"error", scale.error().message}});
      if (!scale)
        std::printf("  pool scale for %s failed: %s\n", model.c_str(),
                    scale.error().message.c_str());
    }
  }
  return WriteJson(options.json_path, result);
}

}  // namespace labloop::cli
