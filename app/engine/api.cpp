#include "app/engine/api.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <vector>

#include "app/engine/background_run.h"
#include "app/engine/campaign_view.h"
#include "app/engine/engine.h"
#include "app/engine/experiments.h"
#include "db/campaign_db.h"

namespace labloop::engine {

using json = nlohmann::json;

const char* RoleName(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
  }
  return "?";
}

Result<Role> ParseRole(const std::string& name) {
  if (name == "viewer") return Role::kViewer;
  if (name == "operator") return Role::kOperator;
  if (name == "admin") return Role::kAdmin;
  return MakeError(ErrorCode::kInvalidArgument,
                   "role '" + name + "' is not one of viewer, operator, admin");
}

int HttpStatusOf(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kFailedPrecondition:
    case ErrorCode::kAborted:
      return 409;
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kDeadlineExceeded:
      return 504;
    case ErrorCode::kInternal:
      return 500;
  }
  return 500;
}

namespace {

ApiResponse Json(int status, const json& body) { return {status, "application/json", body.dump()}; }
ApiResponse ErrorResponse(int status, const std::string& message) {
  return Json(status, {{"error", message}});
}
ApiResponse ErrorResponse(const Error& error) {
  return ErrorResponse(HttpStatusOf(error.code), error.message);
}
ApiResponse Document(const Result<std::string>& text) {
  if (!text) return ErrorResponse(text.error());
  return {200, "application/json", *text};
}

// `text` as a whole integer; the error names `what`.
Result<int64_t> ParseInteger(const std::string& text, const std::string& what) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    return MakeError(ErrorCode::kInvalidArgument, what + " must be an integer, got '" + text + "'");
  }
  return value;
}

Result<int64_t> IntParameter(const ApiRequest& r, const std::string& name, int64_t fallback) {
  auto it = r.query.find(name);
  if (it == r.query.end() || it->second.empty()) return fallback;
  return ParseInteger(it->second, "parameter '" + name + "'");
}

// The same within [lowest, highest], as an int: a value out of range is a 400 naming it, never
// truncated into range.
Result<int> IntParameter(const ApiRequest& r, const std::string& name, int fallback, int lowest,
                         int highest) {
  auto value = IntParameter(r, name, static_cast<int64_t>(fallback));
  if (!value) return tl::unexpected(value.error());
  if (*value < lowest || *value > highest) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "parameter '" + name + "' is " + std::to_string(*value) +
                         ", allowed: " + std::to_string(lowest) + " to " + std::to_string(highest));
  }
  return static_cast<int>(*value);
}

std::string TextParameter(const ApiRequest& r, const std::string& name) {
  auto it = r.query.find(name);
  return it == r.query.end() ? "" : it->second;
}

bool FlagParameter(const ApiRequest& r, const std::string& name) {
  auto v = TextParameter(r, name);
  return v == "1" || v == "true" || v == "yes";
}

// The request body as a JSON object, or the reason it is not one.
Result<json> Body(const ApiRequest& r) {
  auto body = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    return MakeError(ErrorCode::kInvalidArgument, "request body is not valid JSON");
  }
  if (!body.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "request body must be a JSON object");
  }
  return body;
}

// "/api/candidates/12/depiction.svg" -> {"candidates", "12", "depiction.svg"}
std::vector<std::string> Segments(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start) parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

// A field of the body with the type expected, `fallback` when absent or null; a field of another
// type is a 400 that names it (json::value would throw instead).
Result<std::string> TextField(const json& body, const std::string& key,
                              const std::string& fallback = "") {
  if (!body.contains(key) || body[key].is_null()) return fallback;
  if (!body[key].is_string()) {
    return MakeError(ErrorCode::kInvalidArgument, "'" + key + "' must be a string");
  }
  return body[key].get<std::string>();
}

Result<bool> FlagField(const json& body, const std::string& key) {
  if (!body.contains(key) || body[key].is_null()) return false;
  if (!body[key].is_boolean()) {
    return MakeError(ErrorCode::kInvalidArgument, "'" + key + "' must be true or false");
  }
  return body[key].get<bool>();
}

Result<std::vector<int64_t>> IdList(const json& body, const std::string& key) {
  std::vector<int64_t> ids;
  if (!body.contains(key)) return ids;
  if (!body[key].is_array()) {
    return MakeError(ErrorCode::kInvalidArgument, "'" + key + "' must be an array of ids");
  }
  for (const auto& id : body[key]) {
    if (!id.is_number_integer()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "'" + key + "' must hold integer ids, got " + id.dump());
    }
    ids.push_back(id.get<int64_t>());
  }
  return ids;
}

}  // namespace

struct ApiHandler::Impl {
  std::string path;
  std::unique_ptr<CampaignView> view;
  std::shared_ptr<BackgroundRun> engine_run;
  BackgroundRun& engine;

  Impl(const std::string& campaign_path, std::shared_ptr<BackgroundRun> shared)
      : path(campaign_path),
        engine_run(shared ? std::move(shared) : std::make_shared<BackgroundRun>(campaign_path)),
        engine(*engine_run) {}

  ApiResponse Get(const ApiRequest& r, const std::vector<std::string>& p);
  ApiResponse Post(const ApiRequest& r, const std::vector<std::string>& p);
  ApiResponse Candidates(const ApiRequest& r);
  ApiResponse Depiction(const ApiRequest& r, int64_t id);
  ApiResponse Approvals(const ApiRequest& r, const json& body);
  ApiResponse Results(const ApiRequest& r, const json& body);
  ApiResponse Engine(const json& body);
};

ApiHandler::ApiHandler(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ApiHandler::~ApiHandler() = default;

Result<std::unique_ptr<ApiHandler>> ApiHandler::Create(const std::string& campaign_path,
                                                       std::shared_ptr<BackgroundRun> engine) {
  {  // a file of an older schema is migrated before the read-only view opens it
    auto migrated = db::CampaignDb::Open(campaign_path, db::OpenMode::kOperator);
    if (!migrated) return tl::unexpected(migrated.error());
  }
  auto view = CampaignView::Open(campaign_path);
  if (!view) return tl::unexpected(view.error());
  auto impl = std::make_unique<Impl>(campaign_path, std::move(engine));
  impl->view = std::move(*view);
  return std::unique_ptr<ApiHandler>(new ApiHandler(std::move(impl)));
}

ApiResponse ApiHandler::Handle(const ApiRequest& request) {
  auto parts = Segments(request.path);
  if (parts.size() < 2 || parts[0] != "api") {
    return ErrorResponse(404, "no such endpoint '" + request.path + "' (see docs/api.md)");
  }
  parts.erase(parts.begin());
  try {
    if (request.method == "GET") return impl_->Get(request, parts);
    if (request.method == "POST") {
      if (request.role < Role::kOperator) {
        return ErrorResponse(403, std::string("role ") + RoleName(request.role) +
                                      " may only read; this needs operator");
      }
      return impl_->Post(request, parts);
    }
    return ErrorResponse(405, "method " + request.method + " is not allowed; use GET or POST");
  } catch (const std::exception& e) {  // a bug: the request fails, the server goes on
    return ErrorResponse(500, std::string("internal error: ") + e.what());
  }
}

ApiResponse ApiHandler::Impl::Get(const ApiRequest& r, const std::vector<std::string>& p) {
  const std::string& what = p[0];
  if (p.size() == 1) {
    if (what == "status") {
      auto status = view->Status();
      if (!status) return ErrorResponse(status.error());
      json j = json::parse(*status);
      j["engine"] = json::parse(engine.StateJson());
      return Json(200, j);
    }
    if (what == "candidates") return Candidates(r);
    if (what == "approvals") return Document(view->Approvals());
    if (what == "jobs") return Document(view->Jobs(TextParameter(r, "state")));
    if (what == "experiments") return Document(view->Experiments());
    if (what == "measurements") return Document(view->Measurements());
    if (what == "models") return Document(view->Models());
    if (what == "plots") return Document(view->Plots());
    if (what == "engine") return {200, "application/json", engine.StateJson()};
    // probe=1 asks each instrument who it is (at most a second, all at once).
    if (what == "instruments") return Document(InstrumentsJson(path, FlagParameter(r, "probe")));
    if (what == "events") {
      auto after = IntParameter(r, "after", 0);
      if (!after) return ErrorResponse(after.error());
      auto limit = IntParameter(r, "limit", 500, 1, 10000);
      if (!limit) return ErrorResponse(limit.error());
      return Document(view->Events(*after, *limit));
    }
  }
  if (what == "candidates" && (p.size() == 2 || p.size() == 3)) {
    auto id = ParseInteger(p[1], "candidate id");
    if (!id) return ErrorResponse(id.error());
    if (p.size() == 2) return Document(view->Candidate(*id));
    if (p[2] == "depiction.svg") return Depiction(r, *id);
  }
  if (r.method == "GET" && (what == "estop" || what == "resume" || what == "results")) {
    return ErrorResponse(405, "use POST for /api/" + what);
  }
  return ErrorResponse(404, "no such endpoint '" + r.path + "' (see docs/api.md)");
}

ApiResponse ApiHandler::Impl::Post(const ApiRequest& r, const std::vector<std::string>& p) {
  if (p.size() != 1) return ErrorResponse(404, "no such endpoint '" + r.path + "'");
  const std::string& what = p[0];
  static const char* kPosts[] = {"approvals", "results", "estop", "resume", "engine"};
  if (std::find(std::begin(kPosts), std::end(kPosts), what) == std::end(kPosts)) {
    return ErrorResponse(404, "no such endpoint '" + r.path + "' for POST (see docs/api.md)");
  }
  if (what == "estop") {
    // The stop never fails on its body: any body, or none, stops; a string reason is kept.
    auto body = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    std::string reason = "emergency stop from " + r.actor;
    if (body.is_object() && body.contains("reason") && body["reason"].is_string() &&
        !body["reason"].get<std::string>().empty()) {
      reason = body["reason"].get<std::string>();
    }
    engine.Pause();  // no new round starts while the stop holds
    auto report = EmergencyStop(path, r.actor, reason);
    if (!report) return ErrorResponse(report.error());
    return Json(200, {{"instruments_stopped", report->instruments_stopped},
                      {"failures", report->failures},
                      {"experiments_aborted", report->experiments_aborted},
                      {"experiments_unconfirmed", report->experiments_unconfirmed},
                      {"seconds", report->seconds}});
  }
  auto body = Body(r);
  if (!body) return ErrorResponse(body.error());
  if (what == "approvals") return Approvals(r, *body);
  if (what == "results") return Results(r, *body);
  if (what == "engine") return Engine(*body);
  // resume
  if (r.role < Role::kAdmin) {
    return ErrorResponse(403, "resuming after an emergency stop needs the admin role");
  }
  auto ack = FlagField(*body, "ack");
  if (!ack) return ErrorResponse(ack.error());
  if (!*ack) {
    return ErrorResponse(400, "resume needs {\"ack\": true}: confirm the lab is safe");
  }
  auto resumed = ResumeAfterStop(path, r.actor);
  if (!resumed) return ErrorResponse(resumed.error());
  return Json(200, {{"resumed", true}});
}

ApiResponse ApiHandler::Impl::Candidates(const ApiRequest& r) {
  CandidatePageRequest page;
  if (auto sort = TextParameter(r, "sort"); !sort.empty()) page.sort = sort;
  page.descending = FlagParameter(r, "desc");
  page.search = TextParameter(r, "search");
  page.substructure = TextParameter(r, "substructure");
  page.route = TextParameter(r, "route");
  page.measured_only = FlagParameter(r, "measured");
  auto offset = IntParameter(r, "offset", 0);
  if (!offset) return ErrorResponse(offset.error());
  auto limit = IntParameter(r, "limit", 100);
  if (!limit) return ErrorResponse(limit.error());
  // How long one call may scan for a substructure: a window on the same thread asks for less.
  auto scan_ms = IntParameter(r, "scan_ms", 1000, 10, 1000);
  if (!scan_ms) return ErrorResponse(scan_ms.error());
  page.offset = *offset;
  page.limit = *limit;
  page.scan_seconds = *scan_ms / 1000.0;
  return Document(view->Candidates(page));
}

ApiResponse ApiHandler::Impl::Depiction(const ApiRequest& r, int64_t id) {
  auto width = IntParameter(r, "width", 300, 16, 4000);
  if (!width) return ErrorResponse(width.error());
  auto height = IntParameter(r, "height", 240, 16, 4000);
  if (!height) return ErrorResponse(height.error());
  auto candidate = view->Candidate(id);
  if (!candidate) return ErrorResponse(candidate.error());
  auto smiles = json::parse(*candidate)["smiles"].get<std::string>();
  auto svg = MoleculeSvg(smiles, *width, *height, TextParameter(r, "highlight"));
  if (!svg) return ErrorResponse(svg.error());
  return {200, "image/svg+xml", *svg};
}

ApiResponse ApiHandler::Impl::Approvals(const ApiRequest& r, const json& body) {
  auto action = TextField(body, "action");
  if (!action) return ErrorResponse(action.error());
  auto ids = IdList(body, "candidates");
  if (!ids) return ErrorResponse(ids.error());
  Result<int64_t> changed = 0;
  if (*action == "approve") {
    auto all_field = FlagField(body, "all");
    if (!all_field) return ErrorResponse(all_field.error());
    const bool all = *all_field;
    if (all == !ids->empty()) {
      return ErrorResponse(400, "approve needs \"candidates\": [ids] or \"all\": true, not both");
    }
    changed = ApproveCandidates(path, *ids, all, r.actor);
  } else if (*action == "reject") {
    if (ids->empty()) return ErrorResponse(400, "reject needs \"candidates\": [ids]");
    auto reason = TextField(body, "reason");
    if (!reason) return ErrorResponse(reason.error());
    changed = RejectCandidates(path, *ids, r.actor, *reason);
  } else if (*action == "add") {
    if (ids->empty()) return ErrorResponse(400, "add needs \"candidates\": [ids]");
    auto route = TextField(body, "route", "simulate");
    if (!route) return ErrorResponse(route.error());
    changed = AddToBatch(path, *ids, *route, r.actor);
  } else {
    return ErrorResponse(400, "\"action\" must be \"approve\", \"reject\" or \"add\"");
  }
  if (!changed) return ErrorResponse(changed.error());
  return Json(200, {{"changed", *changed}});
}

ApiResponse ApiHandler::Impl::Results(const ApiRequest& r, const json& body) {
  JobResultSubmission s;
  if (!body.contains("job_id") || !body["job_id"].is_number_integer()) {
    return ErrorResponse(400, "a result needs an integer \"job_id\"");
  }
  s.job_id = body["job_id"].get<int64_t>();
  auto error = TextField(body, "error");
  if (!error) return ErrorResponse(error.error());
  auto fidelity = TextField(body, "fidelity", "experiment");
  if (!fidelity) return ErrorResponse(fidelity.error());
  s.error = *error;
  s.fidelity = *fidelity;
  if (body.contains("raw")) s.raw_json = body["raw"].dump();
  if (body.contains("values")) {
    if (!body["values"].is_array()) return ErrorResponse(400, "\"values\" must be an array");
    for (const auto& v : body["values"]) {
      if (!v.is_object() || !v.contains("property") || !v["property"].is_string() ||
          !v.contains("value") || !v["value"].is_number()) {
        return ErrorResponse(
            400, "each value needs a \"property\" string and a \"value\" number, got " + v.dump());
      }
      db::MeasurementValue value{v["property"].get<std::string>(), v["value"].get<double>(),
                                 std::nullopt};
      if (v.contains("uncertainty") && !v["uncertainty"].is_null()) {
        if (!v["uncertainty"].is_number()) {
          return ErrorResponse(400, "\"uncertainty\" must be a number, got " + v.dump());
        }
        value.uncertainty = v["uncertainty"].get<double>();
      }
      s.values.push_back(value);
    }
  }
  auto outcome = SubmitJobResult(path, s, r.actor);
  if (!outcome) return ErrorResponse(outcome.error());
  return Json(200, {{"job_id", s.job_id}, {"outcome", *outcome}});
}

ApiResponse ApiHandler::Impl::Engine(const json& body) {
  auto action = TextField(body, "action");
  if (!action) return ErrorResponse(action.error());
  if (*action == "start") {
    int max_rounds = 0;
    if (body.contains("max_rounds") && !body["max_rounds"].is_null()) {
      const auto& m = body["max_rounds"];
      if (!m.is_number_integer() || m.get<int64_t>() < 0 || m.get<int64_t>() > 1000000) {
        return ErrorResponse(400, "\"max_rounds\" must be an integer within 0..1000000");
      }
      max_rounds = static_cast<int>(m.get<int64_t>());
    }
    auto started = engine.Start(max_rounds);
    if (!started) return ErrorResponse(started.error());
  } else if (*action == "pause") {
    engine.Pause();
  } else {
    return ErrorResponse(400, "\"action\" must be \"start\" or \"pause\"");
  }
  return {200, "application/json", engine.StateJson()};
}

}  // namespace labloop::engine
