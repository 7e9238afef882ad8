#include "app/cli/bench.h"
#include "app/cli/bench_util.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/chem/descriptors.h"
#include "core/chem/reader.h"
#include "core/log.h"
#include "db/campaign_db.h"
#include "learners/acquisition.h"
#include "learners/property_model.h"

namespace labloop::cli {

namespace fs = std::filesystem;
using json = nlohmann::json;
using detail::Clock;

namespace detail {

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

Status WriteJson(const std::string& path, const json& j) {
  if (path.empty()) return {};
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  if (!out) return MakeError(ErrorCode::kFailedPrecondition, "cannot write '" + path + "'");
  std::cout << "wrote " << path << "\n";
  return {};
}

json Machine() { return {{"cores", std::thread::hardware_concurrency()}}; }

Stat Summarize(const std::vector<double>& v) {
  Stat s;
  if (v.empty()) return s;
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  if (v.size() > 1) {
    double sq = 0;
    for (double x : v) sq += (x - s.mean) * (x - s.mean);
    s.sd = std::sqrt(sq / static_cast<double>(v.size() - 1));
  }
  return s;
}

json StatJson(const Stat& s) { return {{"mean", s.mean}, {"sd", s.sd}}; }

}  // namespace detail

using detail::Machine;
using detail::Since;
using detail::WriteJson;

Status RunStorePredictionsBench(const StorePredictionsBench& options) {
  fs::path dir = fs::temp_directory_path() / ("labloop-bench-" + std::to_string(getpid()));
  fs::create_directories(dir);
  fs::path path = dir / "bench.labloop";
  auto db = db::CampaignDb::Open(path.string(), db::OpenMode::kCreate);
  if (!db) return tl::unexpected(db.error());
  if (auto s = (*db)->CreateCampaign({"bench", "", "", ""}); !s) return s;

  // Candidate rows the predictions refer to (foreign keys); placeholders, not timed.
  auto t0 = Clock::now();
  std::vector<db::NewCandidate> candidates(options.predictions);
  for (int64_t i = 0; i < options.predictions; ++i) {
    candidates[i].smiles = "C";
    candidates[i].inchikey = "BENCH-" + std::to_string(i);
    candidates[i].source = "bench";
  }
  auto added = (*db)->AddCandidates(candidates);
  if (!added) return tl::unexpected(added.error());
  double setup_seconds = Since(t0);
  db::ModelRow model;
  model.kind = "bench";
  model.property = "value";
  auto round = (*db)->StartRound(0);
  auto model_id = (*db)->StoreModel(model);
  if (!model_id) return tl::unexpected(model_id.error());

  std::vector<db::PredictionRow> predictions(options.predictions);
  for (int64_t i = 0; i < options.predictions; ++i) {
    predictions[i] = {i + 1, 0.001 * static_cast<double>(i), 0.5, 0.4, 0.3};
  }
  auto t1 = Clock::now();
  if (auto s = (*db)->StorePredictions(*model_id, predictions); !s) return s;
  double store_seconds = Since(t1);
  auto count = (*db)->CountPredictions(*model_id);
  if (!count || *count != options.predictions) {
    return MakeError(ErrorCode::kInternal, "stored prediction count does not match");
  }
  db->reset();
  std::error_code ec;
  auto bytes = fs::file_size(path, ec) + fs::file_size(path.string() + "-wal", ec);

  std::printf("\nbench store-predictions\n");
  std::printf("  %-34s %12lld\n", "predictions stored",
              static_cast<long long>(options.predictions));
  std::printf("  %-34s %12.2f s\n", "time (one transaction)", store_seconds);
  std::printf("  %-34s %12.0f /s\n", "rate", options.predictions / store_seconds);
  std::printf("  %-34s %12.1f MB\n", "campaign file size", bytes / 1e6);
  std::printf("  %-34s %12.2f s\n", "(setup: placeholder candidates)", setup_seconds);
  std::printf("  target (BENCHMARKS.md 5): 1,000,000 predictions stored in <= 5 s\n");
  fs::remove_all(dir, ec);
  return WriteJson(options.json_path, {{"benchmark", "store-predictions"},
                                       {"predictions", options.predictions},
                                       {"seconds", store_seconds},
                                       {"rows_per_second", options.predictions / store_seconds},
                                       {"file_bytes", bytes},
                                       {"machine", Machine()}});
}

Status RunFastLoopBench(const FastLoopBench& options) {
  auto t0 = Clock::now();
  chem::ReadOptions read;
  read.fingerprint = chem::MorganOptions{2, 2048, true, false};
  auto report = chem::ReadMoleculeFile(options.library, read);
  if (!report) return tl::unexpected(report.error());
  auto& records = report->records;
  if (static_cast<int64_t>(records.size()) < options.candidates) {
    return MakeError(ErrorCode::kInvalidArgument,
                     options.library + " has " + std::to_string(records.size()) +
                         " usable molecules, fewer than --candidates " +
                         std::to_string(options.candidates));
  }
  const size_t library_records = records.size();
  records.resize(options.candidates);
  // The whole library is read and featurized (as `labloop init` does), of which the first
  // --candidates rows are used.
  double featurize_seconds = Since(t0);

  learners::SparseMatrix pool(2048);
  for (const auto& r : records) pool.AddRow(r.fingerprint.indices, r.fingerprint.values);
  // Labels: RDKit's Crippen logP of the first `training` molecules, a real molecular property.
  std::vector<int64_t> train_rows;
  std::vector<double> y;
  const size_t clogp = 2;  // index of "clogp" in DescriptorNames()
  for (int64_t i = 0; i < options.training && i < options.candidates; ++i) {
    auto molecule = chem::Molecule::FromSmiles(records[i].smiles);
    if (!molecule) continue;
    train_rows.push_back(i);
    y.push_back(chem::ComputeDescriptors(*molecule)[clogp]);
  }
  learners::SparseMatrix train = pool.Select(train_rows);
  // Held out: the next `training` molecules, to show the speed is not bought with accuracy.
  std::vector<int64_t> test_rows;
  std::vector<double> y_test;
  for (int64_t i = options.training; i < 2 * options.training && i < options.candidates; ++i) {
    auto molecule = chem::Molecule::FromSmiles(records[i].smiles);
    if (!molecule) continue;
    test_rows.push_back(i);
    y_test.push_back(chem::ComputeDescriptors(*molecule)[clogp]);
  }

  learners::ModelRegistry models("model");
  learners::RegisterBuiltinModels(models);
  learners::AcquisitionRegistry acquisitions("acquisition");
  learners::RegisterBuiltinAcquisitions(acquisitions);
  learners::ModelOptions model_options;
  model_options.hidden = 128;
  if (options.epochs > 0) model_options.epochs = options.epochs;
  if (options.batch_size > 0) model_options.batch_size = options.batch_size;
  model_options.threads = options.threads;
  json rounds = json::array();
  double best_total = 1e300;
  std::printf("\nbench fast-loop: %lld candidates, %zu training points, batch %d\n",
              static_cast<long long>(options.candidates), y.size(), options.batch);
  std::printf("  %-6s %10s %10s %10s %10s %12s\n", "round", "train s", "predict s", "acquire s",
              "total s", "test rmse");
  for (int r = 0; r < options.repeats; ++r) {
    model_options.seed = static_cast<uint64_t>(r);
    auto model = models.Create("deep_ensemble", model_options);
    if (!model) return tl::unexpected(model.error());
    auto t1 = Clock::now();
    if (auto s = (*model)->Fit(train, y); !s) return s;
    double train_seconds = Since(t1);
    auto t2 = Clock::now();
    auto predictions = (*model)->Predict(pool);
    if (!predictions) return tl::unexpected(predictions.error());
    double predict_seconds = Since(t2);
    auto t3 = Clock::now();
    learners::AcquisitionOptions acquisition_options;
    auto ucb = acquisitions.Create("ucb", acquisition_options);
    auto scores = (*ucb)->Score(*predictions, learners::Direction::kMaximize, 0.0);
    auto batch = learners::SelectTopK(scores, options.batch);
    double acquire_seconds = Since(t3);
    double total = train_seconds + predict_seconds + acquire_seconds;
    best_total = std::min(best_total, total);
    std::vector<double> predicted_test;
    for (int64_t row : test_rows) predicted_test.push_back(predictions->mean[row]);
    double test_rmse = learners::Rmse(predicted_test, y_test);
    std::printf("  %-6d %10.2f %10.2f %10.3f %10.2f %12.3f\n", r, train_seconds, predict_seconds,
                acquire_seconds, total, test_rmse);
    rounds.push_back({{"train_seconds", train_seconds},
                      {"predict_seconds", predict_seconds},
                      {"acquire_seconds", acquire_seconds},
                      {"total_seconds", total},
                      {"test_rmse_clogp", test_rmse},
                      {"selected", batch.size()}});
  }
  std::printf(
      "  read and featurize the library, %zu molecules (once, cached in the campaign file "
      "afterwards): %.1f s\n",
      library_records, featurize_seconds);
  std::printf("  target (BENCHMARKS.md 5): fast loop <= 10 s per round at 100,000 candidates\n");
  return WriteJson(options.json_path, {{"benchmark", "fast-loop"},
                                       {"candidates", options.candidates},
                                       {"training_points", y.size()},
                                       {"model", "deep_ensemble (5 x 128, count Morgan r2 2048)"},
                                       {"epochs", model_options.epochs},
                                       {"batch_size", model_options.batch_size},
                                       {"featurize_seconds", featurize_seconds},
                                       {"library_molecules", library_records},
                                       {"rounds", rounds},
                                       {"best_total_seconds", best_total},
                                       {"machine", Machine()}});
}

}  // namespace labloop::cli
