// `labloop bench browse`: what a chemist waits for in the GUI (and a remote GUI through the
// server) on a large campaign: opening it, paging, sorting, searching, a molecule's page, plots.

#include <unistd.h>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "app/cli/bench.h"
#include "app/cli/bench_util.h"
#include "app/engine/campaign_view.h"
#include "app/engine/engine.h"
#include "core/chem/reader.h"
#include "db/campaign_db.h"

namespace labloop::cli {

namespace fs = std::filesystem;
using detail::Clock;
using detail::Machine;
using detail::Since;
using detail::WriteJson;

namespace {

// A campaign of `n` candidates in the middle of its work: the latest model's predictions for
// all, a dispatched round of `decided`, half of them measured.
Status BuildCampaign(const std::string& path, const BrowseBench& options) {
  const std::string esol = std::string(LABLOOP_SOURCE_DIR) + "/tests/data/esol150.csv";
  const std::string config = "[campaign]\nname = \"browse-bench\"\n[library]\nfiles = [\"" + esol +
                             "\"]\n[objective]\nproperty = \"logS\"\ndirection = \"maximize\"\n"
                             "[simulator]\nkind = \"lookup\"\ntable = \"" +
                             esol + "\"\nvalue_column = \"logS\"\n";
  LABLOOP_TRY(engine::InitCampaignFromText(path, config, "bench", fs::path(path).parent_path()));
  std::vector<std::string> smiles;
  LABLOOP_TRY(chem::ForEachSmiles(options.library, chem::ReadOptions{},
                                  [&](int64_t, const std::string& s) { smiles.push_back(s); }));
  if (smiles.empty()) return MakeError(ErrorCode::kInvalidArgument, "no SMILES in the library");
  auto db = db::CampaignDb::Open(path, db::OpenMode::kReadWrite);
  if (!db) return tl::unexpected(db.error());
  // Synthetic candidates: the library's SMILES, repeated as needed, under placeholder keys.
  const int64_t extra = options.candidates - 150;
  for (int64_t start = 0; start < extra; start += 100000) {
    std::vector<db::NewCandidate> batch;
    for (int64_t i = start; i < std::min(extra, start + 100000); ++i) {
      db::NewCandidate c;
      c.smiles = smiles[i % smiles.size()];
      c.inchikey = "BENCH-" + std::to_string(i);
      c.source = "library:bench";
      batch.push_back(std::move(c));
    }
    auto added = (*db)->AddCandidates(batch);
    if (!added) return tl::unexpected(added.error());
  }
  LABLOOP_TRY((*db)->StartRound(0));
  db::ModelRow model;
  model.kind = "deep_ensemble";
  model.property = "logS";
  model.metrics_json = "{}";
  auto model_id = (*db)->StoreModel(model);
  if (!model_id) return tl::unexpected(model_id.error());
  std::mt19937_64 rng(7);
  std::normal_distribution<double> mean(-3, 1.5);
  std::uniform_real_distribution<double> sigma(0.2, 1.5);
  std::vector<db::PredictionRow> predictions(options.candidates);
  for (int64_t i = 0; i < options.candidates; ++i) {
    double s = sigma(rng);
    predictions[i] = {i + 1, mean(rng), s, 0.8 * s, 0.6 * s};
  }
  LABLOOP_TRY((*db)->StorePredictions(*model_id, predictions));
  std::vector<db::DecisionRow> decisions;
  for (int i = 0; i < options.decided; ++i) {
    const auto& p = predictions[static_cast<size_t>(i) * 997 % predictions.size()];
    db::DecisionRow d;
    d.candidate_id = p.candidate_id;
    d.route = "simulate";
    d.acquisition = "ucb";
    d.acquisition_value = p.mean + p.sigma;
    d.mean = p.mean;
    d.sigma = p.sigma;
    d.reasons_json = "{\"why\":\"bench\"}";
    decisions.push_back(d);
  }
  LABLOOP_TRY((*db)->DispatchRound(0, decisions, "simulation", "lookup"));
  auto jobs = (*db)->ListJobs({db::JobState::kQueued});
  if (!jobs) return tl::unexpected(jobs.error());
  for (size_t i = 0; i < jobs->size(); i += 2) {
    db::JobOutcome outcome;
    outcome.job_id = (*jobs)[i].id;
    outcome.ok = true;
    outcome.fidelity = "simulation";
    outcome.values = {{"logS", mean(rng), std::nullopt}};
    LABLOOP_TRY((*db)->IngestOutcome(outcome));
  }
  return {};
}

}  // namespace

Status RunBrowseBench(const BrowseBench& options) {
  if (options.candidates < 1000) {
    return MakeError(ErrorCode::kInvalidArgument, "--candidates must be at least 1000");
  }
  fs::path dir = fs::temp_directory_path() / ("labloop-browse-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "browse.labloop").string();
  auto t0 = Clock::now();
  auto built = BuildCampaign(path, options);
  const double build_seconds = Since(t0);
  if (!built) {
    fs::remove_all(dir);
    return built;
  }

  nlohmann::json results = nlohmann::json::object();
  std::vector<std::pair<std::string, double>> rows;
  auto time = [&](const std::string& name, auto&& f) -> Status {
    auto start = Clock::now();
    auto r = f();
    const double seconds = Since(start);
    if (!r) return tl::unexpected(r.error());
    rows.emplace_back(name, seconds);
    results[name] = seconds;
    return {};
  };
  // Opening as the GUI does: the view, the status, the first page of the table.
  std::unique_ptr<engine::CampaignView> view;
  engine::CandidatePageRequest first;
  first.limit = 200;
  LABLOOP_TRY(time("open: view + status + first page", [&]() -> Status {
    auto v = engine::CampaignView::Open(path);
    if (!v) return tl::unexpected(v.error());
    view = std::move(*v);
    auto status = view->Status();
    if (!status) return tl::unexpected(status.error());
    auto page = view->Candidates(first);
    if (!page) return tl::unexpected(page.error());
    return {};
  }));
  auto page_at = [&](engine::CandidatePageRequest r, int64_t offset) {
    r.offset = offset;
    return [&, r]() -> Result<std::string> { return view->Candidates(r); };
  };
  LABLOOP_TRY(time("page at 90% (id order)", page_at(first, options.candidates * 9 / 10)));
  engine::CandidatePageRequest by_mean = first;
  by_mean.sort = "mean";
  by_mean.descending = true;
  LABLOOP_TRY(time("sort by mean: first page", page_at(by_mean, 0)));
  LABLOOP_TRY(time("sort by mean: next page", page_at(by_mean, 200)));
  engine::CandidatePageRequest by_acquisition = first;
  by_acquisition.sort = "acquisition";
  by_acquisition.descending = true;
  LABLOOP_TRY(time("sort by acquisition: first page", page_at(by_acquisition, 0)));
  engine::CandidatePageRequest search = first;
  search.search = "Cl";
  LABLOOP_TRY(time("search 'Cl' (SMILES text)", page_at(search, 0)));
  engine::CandidatePageRequest substructure = first;
  substructure.substructure = options.substructure;
  LABLOOP_TRY(
      time("substructure " + options.substructure + ": first answer", page_at(substructure, 0)));
  LABLOOP_TRY(time("substructure " + options.substructure + ": rest of the scan", [&]() -> Status {
    for (;;) {
      auto page = view->Candidates(substructure);
      if (!page) return tl::unexpected(page.error());
      if (nlohmann::json::parse(*page)["complete"] == true) return {};
    }
  }));
  LABLOOP_TRY(time("molecule page", [&] { return view->Candidate(options.candidates / 2); }));
  LABLOOP_TRY(time("plots", [&] { return view->Plots(); }));

  std::error_code ec;
  auto bytes = fs::file_size(path, ec) + fs::file_size(path + "-wal", ec);
  std::printf("\nbench browse (%lld candidates, %.1f MB campaign file, built in %.1f s)\n",
              static_cast<long long>(options.candidates), bytes / 1e6, build_seconds);
  for (const auto& [name, seconds] : rows) {
    std::printf("  %-40s %10.3f s\n", name.c_str(), seconds);
  }
  view.reset();
  if (!options.keep.empty()) {
    fs::rename(path, options.keep, ec);
    if (ec) fs::copy_file(path, options.keep, fs::copy_options::overwrite_existing, ec);
    if (ec) {
      fs::remove_all(dir, ec);
      return MakeError(ErrorCode::kUnavailable,
                       "cannot keep the campaign as '" + options.keep + "': " + ec.message());
    }
    std::printf("kept the campaign file as %s\n", options.keep.c_str());
  }
  fs::remove_all(dir, ec);
  return WriteJson(options.json_path, {{"benchmark", "browse"},
                                       {"candidates", options.candidates},
                                       {"file_bytes", bytes},
                                       {"seconds", results},
                                       {"machine", Machine()}});
}

}  // namespace labloop::cli
