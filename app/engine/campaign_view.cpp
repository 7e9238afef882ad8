#include "app/engine/campaign_view.h"

#include <algorithm>
#include <chrono>
#include <list>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_set>

#include "app/engine/campaign_config.h"
#include "app/engine/engine.h"
#include "core/chem/depict.h"
#include "core/chem/molecule.h"
#include "core/parallel.h"
#include "db/campaign_db.h"
#include "learners/metrics.h"
#include "learners/objectives.h"

namespace labloop::engine {

using json = nlohmann::json;

namespace {

json Optional(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

// Stored JSON text as JSON, or the text itself when it is not JSON (older rows, plain notes).
json Embedded(const std::string& text) {
  if (text.empty()) return nullptr;
  auto parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? json(text) : parsed;
}

Result<db::CandidateSort> ParseSort(const std::string& name) {
  static const std::map<std::string, db::CandidateSort> sorts = {
      {"id", db::CandidateSort::kId},
      {"smiles", db::CandidateSort::kSmiles},
      {"source", db::CandidateSort::kSource},
      {"round", db::CandidateSort::kRound},
      {"mean", db::CandidateSort::kMean},
      {"sigma", db::CandidateSort::kSigma},
      {"acquisition", db::CandidateSort::kAcquisition},
      {"measured", db::CandidateSort::kMeasured}};
  auto it = sorts.find(name);
  if (it == sorts.end()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "sort '" + name +
                         "' is not one of id, smiles, source, round, mean, sigma, acquisition, "
                         "measured");
  }
  return it->second;
}

std::string QueryKey(const CandidatePageRequest& r) {
  return r.sort + '\x1f' + (r.descending ? "d" : "a") + '\x1f' + r.search + '\x1f' +
         r.substructure + '\x1f' + r.route + '\x1f' + (r.measured_only ? "m" : "");
}

}  // namespace

// One candidates query: its ordered ids, kept so that paging costs one page each, until another
// connection changes the file (SQLite's data_version); and its substructure scan, if any.
struct QueryState {
  std::string key;
  int64_t version = -1;
  int64_t model_id = 0;            // the latest model of the objective's property
  std::vector<int64_t> query_ids;  // in the query's order, before the substructure filter
  std::vector<int64_t> shown;      // what the table shows
  std::optional<chem::SubstructureQuery> pattern;
  std::vector<std::pair<int64_t, std::string>> to_scan;  // every candidate's SMILES, by id
  size_t scanned = 0;
  std::unordered_set<int64_t> matches;

  // Scans on for up to `seconds`, in chunks matched on every core.
  void Scan(double seconds) {
    const auto start = std::chrono::steady_clock::now();
    constexpr size_t kChunk = 1024;
    while (scanned < to_scan.size()) {
      const size_t end = std::min(to_scan.size(), scanned + kChunk);
      std::vector<char> hit(end - scanned, 0);
      ParallelFor(static_cast<int64_t>(hit.size()), 0, [&](int64_t i) {
        auto molecule = chem::Molecule::FromSmiles(to_scan[scanned + i].second);
        hit[i] = molecule && pattern->Matches(*molecule);
      });
      for (size_t i = 0; i < hit.size(); ++i) {
        if (hit[i]) matches.insert(to_scan[scanned + i].first);
      }
      scanned = end;
      std::chrono::duration<double> spent = std::chrono::steady_clock::now() - start;
      if (spent.count() >= seconds) break;
    }
    shown.clear();
    for (int64_t id : query_ids) {
      if (matches.count(id)) shown.push_back(id);
    }
  }
};

struct CampaignView::Impl {
  std::unique_ptr<db::CampaignDb> db;
  CampaignConfig config;
  // The last few candidate queries (a GUI and a remote one may page through different ones):
  // most recent first.
  static constexpr size_t kQueries = 4;
  std::list<QueryState> queries;

  QueryState& Query(const std::string& key, bool* created) {
    auto it = std::find_if(queries.begin(), queries.end(),
                           [&](const QueryState& q) { return q.key == key; });
    *created = it == queries.end();
    if (*created) {
      queries.emplace_front();
      queries.front().key = key;
      if (queries.size() > kQueries) queries.pop_back();
    } else {
      queries.splice(queries.begin(), queries, it);
    }
    return queries.front();
  }
};

CampaignView::CampaignView(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CampaignView::~CampaignView() = default;
const std::string& CampaignView::Path() const { return impl_->db->Path(); }

Result<std::unique_ptr<CampaignView>> CampaignView::Open(const std::string& campaign_path) {
  auto db = db::CampaignDb::Open(campaign_path, db::OpenMode::kReadOnly);
  if (!db) return tl::unexpected(db.error());
  auto config = ConfigOf(**db);
  if (!config) return tl::unexpected(config.error());
  auto impl = std::make_unique<Impl>();
  impl->db = std::move(*db);
  impl->config = std::move(*config);
  return std::unique_ptr<CampaignView>(new CampaignView(std::move(impl)));
}

Result<std::string> CampaignView::Status() {
  auto status = GetStatus(*impl_->db, impl_->config);
  if (!status) return tl::unexpected(status.error());
  json j = json::parse(StatusJson(*status));
  auto routes = impl_->db->RouteCosts();
  if (!routes) return tl::unexpected(routes.error());
  j["routes"] = json::array();
  for (const auto& r : *routes) {
    j["routes"].push_back({{"route", r.route}, {"decisions", r.decisions}, {"cost", r.cost}});
  }
  auto models = impl_->db->ListModels();
  if (!models) return tl::unexpected(models.error());
  j["model"] = nullptr;
  auto latest = std::find_if(models->rbegin(), models->rend(), [&](const db::ModelSummary& m) {
    return m.property == impl_->config.property;
  });
  if (latest != models->rend()) {
    const auto& m = *latest;
    j["model"] = {{"id", m.id},
                  {"round", m.round},
                  {"kind", m.kind},
                  {"property", m.property},
                  {"training_size", m.training_size},
                  {"metrics", Embedded(m.metrics_json)}};
  }
  return j.dump();
}

Result<std::string> CampaignView::Candidates(const CandidatePageRequest& request) {
  auto sort = ParseSort(request.sort);
  if (!sort) return tl::unexpected(sort.error());
  if (request.offset < 0 || request.limit < 0 || request.limit > 1000) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "offset must be >= 0 and limit within 0..1000, got offset " +
                         std::to_string(request.offset) + ", limit " +
                         std::to_string(request.limit));
  }
  static const char* kRoutes[] = {"", "trust", "simulate", "experiment", "reject"};
  if (std::find(std::begin(kRoutes), std::end(kRoutes), request.route) == std::end(kRoutes)) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "route '" + request.route + "' is not one of trust, simulate, experiment, reject");
  }
  auto version = impl_->db->DataVersion();
  if (!version) return tl::unexpected(version.error());
  const std::string key = QueryKey(request);
  bool created = false;
  QueryState& q = impl_->Query(key, &created);
  if (created) {
    if (!request.substructure.empty()) {
      auto pattern = chem::SubstructureQuery::FromSmarts(request.substructure);
      if (!pattern) {
        impl_->queries.pop_front();
        return tl::unexpected(pattern.error());
      }
      q.pattern = std::move(*pattern);
    }
  }
  if (created || *version != q.version) {
    db::CandidateQuery query;
    query.sort = *sort;
    query.descending = request.descending;
    query.text = request.search;
    query.route = request.route;
    query.measured_only = request.measured_only;
    query.property = impl_->config.property;
    auto ids = impl_->db->CandidateIds(query);
    if (!ids) return tl::unexpected(ids.error());
    q.query_ids = std::move(*ids);
    q.version = *version;
    // The predictions shown are this model's; a new one reorders the table.
    auto models = impl_->db->ListModels();
    if (!models) return tl::unexpected(models.error());
    q.model_id = 0;
    for (const auto& m : *models) {
      if (m.property == impl_->config.property) q.model_id = m.id;
    }
    if (q.pattern) {  // candidates added since (generators) join the scan
      const int64_t after = q.to_scan.empty() ? 0 : q.to_scan.back().first;
      LABLOOP_TRY(
          impl_->db->ForEachCandidateSmiles(after, [&](int64_t id, const std::string& smiles) {
            q.to_scan.emplace_back(id, smiles);
            return true;
          }));
    }
  }
  if (q.pattern) {
    q.Scan(request.scan_seconds);  // rebuilds the shown ids from the matches so far
  } else {
    q.shown = q.query_ids;
  }
  const auto& ids = q.shown;
  const int64_t total = static_cast<int64_t>(ids.size());
  const int64_t begin = std::min(request.offset, total);
  const int64_t end = std::min(begin + request.limit, total);
  auto rows =
      impl_->db->CandidateRows({ids.begin() + begin, ids.begin() + end}, impl_->config.property);
  if (!rows) return tl::unexpected(rows.error());
  const bool complete = !q.pattern || q.scanned == q.to_scan.size();
  json out = {{"total", total},
              {"offset", begin},
              {"limit", request.limit},
              {"property", impl_->config.property},
              {"complete", complete},
              {"scanned", q.pattern ? q.scanned : 0},
              {"to_scan", q.to_scan.size()},
              {"model_id", q.model_id}};
  out["rows"] = json::array();
  for (const auto& r : *rows) {
    out["rows"].push_back({{"id", r.id},
                           {"smiles", r.smiles},
                           {"source", r.source},
                           {"round_added", r.round_added},
                           {"mean", Optional(r.mean)},
                           {"sigma", Optional(r.sigma)},
                           {"route", r.route},
                           {"acquisition_value", Optional(r.acquisition_value)},
                           {"measured", Optional(r.measured)},
                           {"job_state", r.job_state}});
  }
  return out.dump();
}

Result<std::string> CampaignView::Candidate(int64_t candidate_id) {
  auto d = impl_->db->GetCandidateDetail(candidate_id);
  if (!d) return tl::unexpected(d.error());
  json j = {{"id", d->id},
            {"smiles", d->smiles},
            {"inchikey", d->inchikey},
            {"source", d->source},
            {"provenance", Embedded(d->source_id)},
            {"location", d->location},
            {"parents", Embedded(d->parents)},
            {"round_added", d->round_added},
            {"property", impl_->config.property}};
  j["predictions"] = json::array();
  for (const auto& p : d->predictions) {
    j["predictions"].push_back({{"model_id", p.model_id},
                                {"round", p.round},
                                {"kind", p.kind},
                                {"mean", p.mean},
                                {"sigma", p.sigma},
                                {"sigma_epistemic", Optional(p.sigma_epistemic)},
                                {"sigma_aleatoric", Optional(p.sigma_aleatoric)}});
  }
  j["decisions"] = json::array();
  for (const auto& c : d->decisions) {
    j["decisions"].push_back({{"id", c.id},
                              {"round", c.round},
                              {"route", c.route},
                              {"acquisition", c.acquisition},
                              {"acquisition_value", Optional(c.acquisition_value)},
                              {"mean", Optional(c.mean)},
                              {"sigma", Optional(c.sigma)},
                              {"cost", c.cost},
                              {"reasons", Embedded(c.reasons_json)},
                              {"needs_approval", c.needs_approval},
                              {"approved_by", c.approved_by},
                              {"approved_at", c.approved_at},
                              {"rejected_by", c.rejected_by},
                              {"rejected_reason", c.rejected_reason},
                              {"created_at", c.created_at}});
  }
  j["measurements"] = json::array();
  for (const auto& m : d->measurements) {
    j["measurements"].push_back({{"id", m.id},
                                 {"job_id", m.job_id},
                                 {"property", m.property},
                                 {"value", m.value},
                                 {"uncertainty", Optional(m.uncertainty)},
                                 {"fidelity", m.fidelity},
                                 {"created_at", m.created_at}});
  }
  j["jobs"] = json::array();
  for (const auto& job : d->jobs) {
    j["jobs"].push_back({{"id", job.id},
                         {"round", job.round},
                         {"kind", job.kind},
                         {"backend", job.backend},
                         {"state", job.state},
                         {"attempts", job.attempts},
                         {"error", job.error},
                         {"external_id", job.external_id},
                         {"updated_at", job.updated_at}});
  }
  return j.dump();
}

Result<std::string> CampaignView::Approvals() {
  auto pending = impl_->db->ListPendingApprovals();
  if (!pending) return tl::unexpected(pending.error());
  json out = {{"pending", json::array()}};
  for (const auto& p : *pending) {
    out["pending"].push_back({{"decision_id", p.decision_id},
                              {"candidate_id", p.candidate_id},
                              {"round", p.round},
                              {"route", p.route},
                              {"smiles", p.smiles},
                              {"mean", Optional(p.mean)},
                              {"sigma", Optional(p.sigma)},
                              {"acquisition_value", p.acquisition_value}});
  }
  return out.dump();
}

Result<std::string> CampaignView::Jobs(const std::string& state) {
  std::vector<db::JobState> states;
  const db::JobState all[] = {db::JobState::kQueued,  db::JobState::kSubmitted,
                              db::JobState::kRunning, db::JobState::kDone,
                              db::JobState::kFailed,  db::JobState::kCancelled};
  for (auto s : all) {
    if (state.empty() || state == db::JobStateName(s)) states.push_back(s);
  }
  if (states.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "job state '" + state +
                         "' is not one of queued, submitted, running, done, failed, cancelled");
  }
  auto jobs = impl_->db->ListJobs(states);
  if (!jobs) return tl::unexpected(jobs.error());
  json out = {{"jobs", json::array()}};
  for (const auto& job : *jobs) {
    out["jobs"].push_back({{"id", job.id},
                           {"candidate_id", job.candidate_id},
                           {"round", job.round},
                           {"kind", job.kind},
                           {"backend", job.backend},
                           {"state", db::JobStateName(job.state)},
                           {"attempts", job.attempts},
                           {"error", job.error},
                           {"smiles", job.smiles},
                           {"awaiting_approval", job.awaiting_approval},
                           {"external_id", job.external_id}});
  }
  return out.dump();
}

Result<std::string> CampaignView::Experiments() {
  auto steps = impl_->db->ListExperiments({});
  if (!steps) return tl::unexpected(steps.error());
  json out = {{"experiments", json::array()}};
  for (const auto& e : *steps) {
    out["experiments"].push_back({{"id", e.id},
                                  {"job_id", e.job_id},
                                  {"candidate_id", e.candidate_id},
                                  {"round", e.round},
                                  {"step", e.step},
                                  {"kind", e.kind},
                                  {"instrument", e.instrument},
                                  {"request_id", e.request_id},
                                  {"state", e.state},
                                  {"sends", e.sends},
                                  {"result", Embedded(e.result)},
                                  {"error", e.error},
                                  {"smiles", e.smiles},
                                  {"updated_at", e.updated_at},
                                  {"job_state", e.job_state}});
  }
  return out.dump();
}

Result<std::string> CampaignView::Measurements() {
  auto rows = impl_->db->ListMeasurements("");
  if (!rows) return tl::unexpected(rows.error());
  json out = {{"measurements", json::array()}};
  for (const auto& m : *rows) {
    out["measurements"].push_back({{"job_id", m.job_id},
                                   {"candidate_id", m.candidate_id},
                                   {"round", m.round},
                                   {"smiles", m.smiles},
                                   {"property", m.property},
                                   {"value", m.value},
                                   {"fidelity", m.fidelity}});
  }
  return out.dump();
}

Result<std::string> CampaignView::Models() {
  auto models = impl_->db->ListModels();
  if (!models) return tl::unexpected(models.error());
  json out = {{"models", json::array()}};
  for (const auto& m : *models) {
    out["models"].push_back({{"id", m.id},
                             {"round", m.round},
                             {"kind", m.kind},
                             {"property", m.property},
                             {"training_size", m.training_size},
                             {"metrics", Embedded(m.metrics_json)}});
  }
  return out.dump();
}

Result<std::string> CampaignView::Events(int64_t after_id, int limit) {
  if (limit < 1 || limit > 10000) {
    return MakeError(ErrorCode::kInvalidArgument, "event limit must be within 1..10000");
  }
  auto events = impl_->db->ListEvents(after_id, limit);
  if (!events) return tl::unexpected(events.error());
  json out = {{"events", json::array()}};
  for (const auto& e : *events) {
    out["events"].push_back({{"id", e.id},
                             {"time", e.time},
                             {"actor", e.actor},
                             {"kind", e.kind},
                             {"detail", Embedded(e.detail)}});
  }
  return out.dump();
}

Result<std::string> CampaignView::Plots() {
  const auto& config = impl_->config;
  const bool maximize = config.direction == learners::Direction::kMaximize;
  json out = {{"property", config.property}, {"direction", maximize ? "maximize" : "minimize"}};

  // Best so far against evaluations, in the order measurements arrived.
  auto measured = impl_->db->ListMeasurements(config.property);
  if (!measured) return tl::unexpected(measured.error());
  out["best_so_far"] = json::array();
  std::optional<double> best;
  int64_t evaluation = 0;
  for (const auto& m : *measured) {
    if (!best || (maximize ? m.value > *best : m.value < *best)) best = m.value;
    out["best_so_far"].push_back({{"evaluation", ++evaluation},
                                  {"value", m.value},
                                  {"best", *best},
                                  {"fidelity", m.fidelity},
                                  {"round", m.round}});
  }

  // Parity and calibration of the predictions made when each candidate was chosen.
  auto outcomes = impl_->db->DecisionOutcomes(config.property);
  if (!outcomes) return tl::unexpected(outcomes.error());
  out["parity"] = json::array();
  std::vector<double> observed, mean, sigma;
  for (const auto& o : *outcomes) {
    out["parity"].push_back({{"candidate_id", o.candidate_id},
                             {"smiles", o.smiles},
                             {"round", o.round},
                             {"predicted", o.mean},
                             {"sigma", o.sigma},
                             {"measured", o.measured},
                             {"uncertainty", Optional(o.uncertainty)},
                             {"fidelity", o.fidelity}});
    if (o.sigma > 0) {
      observed.push_back(o.measured);
      mean.push_back(o.mean);
      sigma.push_back(o.sigma);
    }
  }
  out["calibration"] = {{"n", observed.size()},
                        {"expected", json::array()},
                        {"observed", json::array()},
                        {"metrics", nullptr}};
  if (observed.size() >= 2) {
    auto curve = learners::CalibrationCurveOf(observed, mean, sigma, 21);
    out["calibration"]["expected"] = curve.expected;
    out["calibration"]["observed"] = curve.observed;
    auto metrics = learners::EvaluatePredictions(observed, mean, sigma);
    if (metrics) {
      out["calibration"]["metrics"] = {
          {"rmse", metrics->rmse}, {"mae", metrics->mae},
          {"r2", metrics->r2},     {"spearman", metrics->spearman},
          {"nll", metrics->nll},   {"miscalibration_area", metrics->miscalibration_area},
          {"ence", metrics->ence}};
    }
  }

  auto routes = impl_->db->RouteCosts();
  if (!routes) return tl::unexpected(routes.error());
  out["routes"] = json::array();
  for (const auto& r : *routes) {
    out["routes"].push_back({{"route", r.route}, {"decisions", r.decisions}, {"cost", r.cost}});
  }

  // Pareto front: over the first two objectives' measurements in a multi-objective campaign;
  // otherwise the trade-off the acquisition made, predicted value against σ of the chosen.
  json pareto = {{"points", json::array()}};
  std::vector<std::vector<double>> points;
  std::vector<learners::Objective> objectives;
  std::vector<int64_t> ids;
  if (config.objectives.size() >= 2) {
    objectives = {config.objectives[0], config.objectives[1]};
    auto second = impl_->db->ListMeasurements(objectives[1].property);
    if (!second) return tl::unexpected(second.error());
    std::map<int64_t, double> first_of;
    for (const auto& m : *measured) first_of[m.candidate_id] = m.value;
    for (const auto& m : *second) {
      auto it = first_of.find(m.candidate_id);
      if (it == first_of.end()) continue;
      points.push_back({it->second, m.value});
      ids.push_back(m.candidate_id);
    }
    pareto["x"] = objectives[0].property;
    pareto["y"] = objectives[1].property;
  } else {
    learners::Objective value, spread;
    value.property = config.property;
    value.direction = config.direction;
    spread.property = "sigma";
    spread.direction = learners::Direction::kMaximize;
    objectives = {value, spread};
    for (const auto& o : *outcomes) {
      points.push_back({o.mean, o.sigma});
      ids.push_back(o.candidate_id);
    }
    pareto["x"] = "predicted " + config.property;
    pareto["y"] = "sigma";
  }
  auto ranks = learners::ParetoRanks(points, objectives);
  for (size_t i = 0; i < points.size(); ++i) {
    pareto["points"].push_back(
        {{"candidate_id", ids[i]}, {"x", points[i][0]}, {"y", points[i][1]}, {"rank", ranks[i]}});
  }
  out["pareto"] = pareto;
  return out.dump();
}

Result<std::string> MoleculeSvg(const std::string& smiles, int width, int height,
                                const std::string& substructure) {
  auto molecule = chem::Molecule::FromSmiles(smiles);
  if (!molecule) return tl::unexpected(molecule.error());
  if (substructure.empty()) return chem::DepictSvg(*molecule, width, height);
  auto query = chem::SubstructureQuery::FromSmarts(substructure);
  if (!query) return tl::unexpected(query.error());
  return chem::DepictSvg(*molecule, width, height, &*query);
}

}  // namespace labloop::engine
