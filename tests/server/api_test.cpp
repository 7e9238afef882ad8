// The campaign API (docs/api.md) through ApiHandler, on real campaign files: what the server
// and the GUI both speak.

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "app/engine/api.h"
#include "app/engine/campaign_view.h"
#include "app/engine/engine.h"
#include "tests/app/fixtures.h"
#include "tests/support/temp_dir.h"

using labloop::engine::ApiHandler;
using labloop::engine::ApiRequest;
using labloop::engine::ApiResponse;
using labloop::engine::Role;
using labloop::testing::EsolConfig;
using labloop::testing::QueryCampaign;
using labloop::testing::TempDir;
using json = nlohmann::json;

namespace {

// An ESOL campaign stopped at the approval gate: round 0 (random picks) approved and measured,
// round 1's five simulate decisions, chosen by the model, wait.
std::string GatedCampaign(const TempDir& dir) {
  std::string config =
      EsolConfig(20, 5) + "min_training_points = 5\n[approval]\nroutes = [\"simulate\"]\n";
  std::string path = dir.File("gate.labloop");
  REQUIRE(labloop::engine::InitCampaignFromText(path, config, "test", dir.path()));
  REQUIRE(labloop::engine::RunCampaign(path));
  REQUIRE(labloop::engine::ApproveCandidates(path, {}, true, "test"));
  auto run = labloop::engine::RunCampaign(path);
  REQUIRE(run);
  REQUIRE(run->awaiting_approval == 5);
  return path;
}

ApiResponse Call(ApiHandler& api, const std::string& method, const std::string& path,
                 const std::string& body = "", Role role = Role::kAdmin,
                 std::map<std::string, std::string> query = {}) {
  ApiRequest r;
  r.method = method;
  r.path = path;
  r.body = body;
  r.role = role;
  r.query = std::move(query);
  r.actor = "test:curie";
  return api.Handle(r);
}

json Get(ApiHandler& api, const std::string& path, std::map<std::string, std::string> query = {}) {
  auto r = Call(api, "GET", path, "", Role::kViewer, std::move(query));
  INFO(path << ": " << r.body);
  REQUIRE(r.status == 200);
  return json::parse(r.body);
}

std::vector<int64_t> PendingIds(ApiHandler& api) {
  std::vector<int64_t> ids;
  auto approvals = Get(api, "/api/approvals");
  for (const auto& p : approvals["pending"]) ids.push_back(p["candidate_id"]);
  return ids;
}

}  // namespace

TEST_CASE("The API pages, sorts and searches the candidates", "[integration]") {
  TempDir dir;
  auto path = GatedCampaign(dir);
  auto api = ApiHandler::Create(path);
  REQUIRE(api);

  auto page = Get(**api, "/api/candidates", {{"offset", "10"}, {"limit", "20"}});
  CHECK(page["total"] == 150);
  REQUIRE(page["rows"].size() == 20);
  CHECK(page["rows"][0]["id"] == 11);
  CHECK(page["property"] == "logS");

  // By predicted mean, best first: non-increasing; the candidates the model did not predict
  // (measured before it was trained) come last.
  auto sorted = Get(**api, "/api/candidates", {{"sort", "mean"}, {"desc", "1"}, {"limit", "150"}});
  const auto& rows = sorted["rows"];
  REQUIRE(rows.size() == 150);
  size_t predicted = 0;
  while (predicted < rows.size() && !rows[predicted]["mean"].is_null()) ++predicted;
  CHECK(predicted == 145);
  for (size_t i = predicted; i < rows.size(); ++i) CHECK(rows[i]["mean"].is_null());
  for (size_t i = 1; i < predicted; ++i) {
    CHECK(rows[i - 1]["mean"].get<double>() >= rows[i]["mean"].get<double>());
  }
  // The chosen ones: filtered by route, sorted by acquisition value.
  auto chosen = Get(**api, "/api/candidates", {{"route", "simulate"}, {"sort", "acquisition"}});
  CHECK(chosen["total"] == 10);
  int queued = 0;
  for (const auto& row : chosen["rows"]) {
    CHECK(row["route"] == "simulate");
    queued += row["job_state"] == "queued";
  }
  CHECK(queued == 5);  // round 1's, waiting for approval

  // Text search and substructure search (SMARTS) agree with the SMILES they return.
  auto text = Get(**api, "/api/candidates", {{"search", "Cl"}, {"limit", "1000"}});
  REQUIRE(text["total"].get<int>() > 0);
  for (const auto& row : text["rows"]) {
    CHECK(row["smiles"].get<std::string>().find("Cl") != std::string::npos);
  }
  auto rings = Get(**api, "/api/candidates", {{"substructure", "c1ccccc1"}, {"limit", "1000"}});
  CHECK(rings["complete"] == true);
  CHECK(rings["scanned"] == 150);
  auto all = Get(**api, "/api/candidates", {{"limit", "1000"}});
  CHECK(rings["total"].get<int>() > 10);
  CHECK(rings["total"].get<int>() < all["total"].get<int>());
  for (const auto& row : rings["rows"]) {
    CHECK(row["smiles"].get<std::string>().find_first_of("c") != std::string::npos);
  }

  // Bad parameters are 400s that say what is wrong.
  auto bad_sort = Call(**api, "GET", "/api/candidates", "", Role::kViewer, {{"sort", "price"}});
  CHECK(bad_sort.status == 400);
  CHECK(json::parse(bad_sort.body)["error"].get<std::string>().find("sort 'price'") == 0);
  CHECK(Call(**api, "GET", "/api/candidates", "", Role::kViewer, {{"limit", "ten"}}).status == 400);
  CHECK(Call(**api, "GET", "/api/candidates", "", Role::kViewer, {{"limit", "5000"}}).status ==
        400);
  CHECK(
      Call(**api, "GET", "/api/candidates", "", Role::kViewer, {{"substructure", "C(("}}).status ==
      400);
}

TEST_CASE("A molecule's page has its predictions, decision with reasons, and picture",
          "[integration]") {
  TempDir dir;
  auto path = GatedCampaign(dir);
  auto api = ApiHandler::Create(path);
  REQUIRE(api);
  auto pending = PendingIds(**api);
  REQUIRE(pending.size() == 5);
  const int64_t id = pending.front();
  auto page = Get(**api, "/api/candidates/" + std::to_string(id));
  CHECK(page["id"] == id);
  CHECK(page["inchikey"].get<std::string>().size() == 27);
  REQUIRE(page["predictions"].size() == 1);
  CHECK(page["predictions"][0]["sigma"].get<double>() > 0);
  REQUIRE(page["decisions"].size() == 1);
  CHECK(page["decisions"][0]["route"] == "simulate");
  CHECK(page["decisions"][0]["needs_approval"] == true);
  CHECK(page["decisions"][0]["reasons"].is_object());
  REQUIRE(page["jobs"].size() == 1);
  CHECK(page["jobs"][0]["state"] == "queued");

  auto svg = Call(**api, "GET", "/api/candidates/" + std::to_string(id) + "/depiction.svg", "",
                  Role::kViewer, {{"width", "200"}, {"height", "150"}});
  CHECK(svg.status == 200);
  CHECK(svg.content_type == "image/svg+xml");
  CHECK(svg.body.find("<svg") != std::string::npos);
  CHECK(svg.body.find("width='200px'") != std::string::npos);

  CHECK(Call(**api, "GET", "/api/candidates/999999").status == 404);
  CHECK(Call(**api, "GET", "/api/candidates/abc").status == 400);
  CHECK(Call(**api, "GET", "/api/nothing").status == 404);
  CHECK(Call(**api, "DELETE", "/api/status").status == 405);
}

TEST_CASE("Roles: viewers read, operators act, admins resume", "[integration]") {
  TempDir dir;
  auto path = GatedCampaign(dir);
  auto api = ApiHandler::Create(path);
  REQUIRE(api);
  auto ids = PendingIds(**api);
  const std::string approve = json{{"action", "approve"}, {"candidates", {ids[0]}}}.dump();
  CHECK(Call(**api, "POST", "/api/approvals", approve, Role::kViewer).status == 403);
  CHECK(Call(**api, "POST", "/api/estop", "{}", Role::kViewer).status == 403);
  CHECK(PendingIds(**api).size() == 5);  // a refused request changed nothing

  // The stop never fails on its body: none, or a reason of the wrong type, still stops.
  CHECK(Call(**api, "POST", "/api/estop", "", Role::kOperator).status == 200);
  CHECK(Get(**api, "/api/status")["emergency_stop"]["active"] == true);
  CHECK(Call(**api, "POST", "/api/resume", R"({"ack":true})", Role::kAdmin).status == 200);
  CHECK(Call(**api, "POST", "/api/estop", R"({"reason":5})", Role::kOperator).status == 200);
  CHECK(Call(**api, "POST", "/api/resume", R"({"ack":true})", Role::kAdmin).status == 200);
  auto stop =
      Call(**api, "POST", "/api/estop", R"({"reason":"smoke in the hood"})", Role::kOperator);
  CHECK(stop.status == 200);
  auto status = Get(**api, "/api/status");
  CHECK(status["emergency_stop"]["active"] == true);
  CHECK(status["emergency_stop"]["reason"] == "smoke in the hood");
  CHECK(status["emergency_stop"]["by"] == "test:curie");
  CHECK(Call(**api, "POST", "/api/resume", R"({"ack":true})", Role::kOperator).status == 403);
  CHECK(Call(**api, "POST", "/api/resume", R"({})", Role::kAdmin).status == 400);
  CHECK(Call(**api, "POST", "/api/resume", R"({"ack":1})", Role::kAdmin).status == 400);
  CHECK(Call(**api, "POST", "/api/resume", R"({"ack":true})", Role::kAdmin).status == 200);
  CHECK(Get(**api, "/api/status")["emergency_stop"]["active"] == false);
}

TEST_CASE("Approvals, rejections and a robot's results through the API", "[integration]") {
  TempDir dir;
  auto path = GatedCampaign(dir);
  auto api = ApiHandler::Create(path);
  REQUIRE(api);
  auto ids = PendingIds(**api);
  REQUIRE(ids.size() == 5);

  // Bad bodies: 400 with the reason, nothing changed.
  for (const char* body :
       {"{bad", "[1,2]", R"({"action":"approve"})", R"({"action":"approve","candidates":["x"]})",
        R"({"action":"reject","candidates":[1]})", R"({"action":"launch"})",
        R"({"action":"approve","all":"yes"})", R"({"action":7})",
        R"({"action":"reject","candidates":[1],"reason":["x"]})",
        R"({"action":"add","candidates":[1],"route":1})"}) {
    auto r = Call(**api, "POST", "/api/approvals", body, Role::kOperator);
    INFO(body << " -> " << r.body);
    CHECK(r.status == 400);
    CHECK(json::parse(r.body).contains("error"));
  }
  CHECK(PendingIds(**api).size() == 5);

  auto approved =
      Call(**api, "POST", "/api/approvals",
           json{{"action", "approve"}, {"candidates", {ids[0], ids[1]}}}.dump(), Role::kOperator);
  CHECK(approved.status == 200);
  CHECK(json::parse(approved.body)["changed"] == 2);
  auto rejected =
      Call(**api, "POST", "/api/approvals",
           json{{"action", "reject"}, {"candidates", {ids[2]}}, {"reason", "toxic"}}.dump(),
           Role::kOperator);
  CHECK(rejected.status == 200);
  CHECK(PendingIds(**api).size() == 2);
  auto decided = QueryCampaign(path, "SELECT approved_by FROM decision WHERE candidate_id = ?",
                               {std::to_string(ids[0])});
  CHECK(decided[0][0] == "test:curie");

  // A robot reports the result of an approved job; a second report changes nothing.
  auto job = QueryCampaign(path, "SELECT id FROM job WHERE candidate_id = ?",
                           {std::to_string(ids[0])})[0][0];
  const std::string result =
      R"({"job_id":)" + job + R"(,"values":[{"property":"logS","value":-2.5,"uncertainty":0.1}]})";
  // A misspelled property is refused, named, and the job stays open for the right one.
  auto misspelled = Call(**api, "POST", "/api/results",
                         R"({"job_id":)" + job + R"(,"values":[{"property":"logs","value":-2.5}]})",
                         Role::kOperator);
  CHECK(misspelled.status == 400);
  CHECK(json::parse(misspelled.body)["error"].get<std::string>().find(
            "no value of 'logS' (got logs)") != std::string::npos);
  auto first = Call(**api, "POST", "/api/results", result, Role::kOperator);
  CHECK(first.status == 200);
  CHECK(json::parse(first.body)["outcome"] == "ingested");
  auto again = Call(**api, "POST", "/api/results", result, Role::kOperator);
  CHECK(json::parse(again.body)["outcome"] == "already finished");
  CHECK(QueryCampaign(path, "SELECT COUNT(*) FROM measurement WHERE job_id = ?", {job})[0][0] ==
        "1");
  // Not while the job waits for approval (ids[3] still does), nor with a wrong-typed field.
  auto waiting = QueryCampaign(path, "SELECT id FROM job WHERE candidate_id = ?",
                               {std::to_string(ids[3])})[0][0];
  auto refused = Call(**api, "POST", "/api/results",
                      R"({"job_id":)" + waiting + R"(,"values":[{"property":"logS","value":1}]})",
                      Role::kOperator);
  CHECK(refused.status == 409);
  CHECK(json::parse(refused.body)["error"].get<std::string>().find("waits for a person") !=
        std::string::npos);
  CHECK(Call(**api, "POST", "/api/results", R"({"job_id":)" + waiting + R"(,"error":{}})",
             Role::kOperator)
            .status == 400);
  CHECK(
      Call(**api, "POST", "/api/results", R"({"job_id":999999,"error":"spilled"})", Role::kOperator)
          .status == 404);
  CHECK(Call(**api, "POST", "/api/results", R"({"job_id":1})", Role::kOperator).status == 400);
  CHECK(Call(**api, "POST", "/api/results",
             R"({"job_id":1,"values":[{"property":"logS","value":"high"}]})", Role::kOperator)
            .status == 400);
  auto measurements = Get(**api, "/api/measurements");
  CHECK(measurements["measurements"].size() == 6);  // round 0's five and the robot's
  // Out-of-range numbers are refused, named, not truncated into range.
  auto huge = Call(**api, "GET", "/api/events", "", Role::kViewer, {{"limit", "4294967797"}});
  CHECK(huge.status == 400);
  CHECK(huge.body.find("parameter 'limit' is 4294967797") != std::string::npos);
  CHECK(Call(**api, "GET", "/api/candidates", "", Role::kViewer,
             {{"substructure", "c1ccccc1"}, {"scan_ms", "0"}})
            .status == 400);
  CHECK(Call(**api, "GET", "/api/candidates", "", Role::kViewer,
             {{"substructure", "c1ccccc1"}, {"scan_ms", "50"}})
            .status == 200);
  auto wide = Call(**api, "GET", "/api/candidates/1/depiction.svg", "", Role::kViewer,
                   {{"width", "4294967596"}});
  CHECK(wide.status == 400);
  auto events = Get(**api, "/api/events", {{"limit", "1000"}});
  bool submitted = false;
  for (const auto& e : events["events"]) submitted |= e["kind"] == "result_reported";
  CHECK(submitted);
}

TEST_CASE("The engine runs in the background, and plots follow the campaign", "[integration]") {
  TempDir dir;
  std::string path = dir.File("esol.labloop");
  REQUIRE(labloop::engine::InitCampaignFromText(path, EsolConfig(30, 10), "test", dir.path()));
  auto api = ApiHandler::Create(path);
  REQUIRE(api);
  CHECK(Get(**api, "/api/engine")["state"] == "idle");
  CHECK(Call(**api, "POST", "/api/engine", R"({"action":"start","max_rounds":2})").status == 200);
  CHECK(Call(**api, "POST", "/api/engine", R"({"action":"start"})").status == 409);
  json engine;
  for (int i = 0; i < 600; ++i) {
    engine = Get(**api, "/api/engine");
    if (engine["state"] != "running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(engine["state"] == "stopped");
  CHECK(engine["rounds_run"] == 2);
  CHECK(engine["evaluations"] == 20);

  auto plots = Get(**api, "/api/plots");
  CHECK(plots["best_so_far"].size() == 20);
  double best = -1e9;
  for (const auto& p : plots["best_so_far"]) {
    best = std::max(best, p["value"].get<double>());
    CHECK(p["best"].get<double>() == best);  // maximizing: the running maximum
  }
  // Round 1's ten were predicted before they were measured: parity and calibration data.
  CHECK(plots["parity"].size() >= 10);
  CHECK(plots["calibration"]["n"].get<int>() >= 10);
  CHECK(plots["calibration"]["expected"].size() == 21);
  CHECK(plots["routes"][0]["route"] == "simulate");
  CHECK(plots["routes"][0]["decisions"] == 20);
  CHECK(plots["pareto"]["points"].size() == plots["parity"].size());
  auto models = Get(**api, "/api/models");
  REQUIRE(models["models"].size() == 1);  // round 0 picked at random, without a model
  auto status = Get(**api, "/api/status");
  CHECK(status["model"]["id"] == models["models"][0]["id"]);
  CHECK(status["engine"]["state"] == "stopped");
}

TEST_CASE("A person edits the waiting batch: adds a candidate, drops another", "[integration]") {
  TempDir dir;
  auto path = GatedCampaign(dir);
  auto api = ApiHandler::Create(path);
  REQUIRE(api);
  auto pending = PendingIds(**api);
  // A candidate nobody chose this round (the model's worst guess).
  auto worst = Get(**api, "/api/candidates", {{"sort", "mean"}, {"limit", "1"}});
  const int64_t extra = worst["rows"][0]["id"];
  REQUIRE(std::find(pending.begin(), pending.end(), extra) == pending.end());

  // Given twice, it joins once; the gate holds for it as for the engine's picks.
  auto add =
      Call(**api, "POST", "/api/approvals",
           json{{"action", "add"}, {"candidates", {extra, extra}}, {"route", "simulate"}}.dump(),
           Role::kOperator);
  INFO(add.body);
  CHECK(add.status == 200);
  CHECK(json::parse(add.body)["changed"] == 1);
  CHECK(PendingIds(**api).size() == 6);
  // Ten more would spend 21 evaluations of the budget of 20: refused, nothing added.
  json more = json::array();
  auto unpicked = Get(**api, "/api/candidates", {{"sort", "mean"}, {"limit", "100"}});
  for (const auto& row : unpicked["rows"]) {
    if (row["route"] == "" && row["id"] != extra && more.size() < 10) more.push_back(row["id"]);
  }
  REQUIRE(more.size() == 10);
  auto over = Call(**api, "POST", "/api/approvals",
                   json{{"action", "add"}, {"candidates", more}}.dump(), Role::kOperator);
  CHECK(over.status == 409);
  CHECK(json::parse(over.body)["error"].get<std::string>().find("over the budget of 20") !=
        std::string::npos);
  CHECK(PendingIds(**api).size() == 6);
  // A candidate measured in round 0 cannot be evaluated again.
  auto measured = QueryCampaign(path, "SELECT candidate_id FROM measurement LIMIT 1")[0][0];
  CHECK(Call(**api, "POST", "/api/approvals", R"({"action":"add","candidates":[)" + measured + "]}",
             Role::kOperator)
            .status == 400);
  // Twice is refused (one decision per candidate and round); unknown ids and routes too.
  CHECK(Call(**api, "POST", "/api/approvals",
             json{{"action", "add"}, {"candidates", {extra}}}.dump(), Role::kOperator)
            .status == 400);
  CHECK(Call(**api, "POST", "/api/approvals",
             json{{"action", "add"}, {"candidates", {999999}}}.dump(), Role::kOperator)
            .status == 404);
  CHECK(Call(**api, "POST", "/api/approvals",
             json{{"action", "add"}, {"candidates", {extra}}, {"route", "trust"}}.dump(),
             Role::kOperator)
            .status == 400);
  CHECK(Call(**api, "POST", "/api/approvals",
             json{{"action", "reject"}, {"candidates", {pending[0]}}, {"reason", "dropped"}}.dump(),
             Role::kOperator)
            .status == 200);

  auto page = Get(**api, "/api/candidates/" + std::to_string(extra));
  REQUIRE(page["decisions"].size() == 1);
  CHECK(page["decisions"][0]["acquisition"] == "person");
  CHECK(page["decisions"][0]["reasons"]["why"] == "added to the batch by test:curie");
  CHECK(page["decisions"][0]["mean"].is_number());  // the model's prediction goes with it
  REQUIRE(page["jobs"].size() == 1);
  CHECK(page["jobs"][0]["state"] == "queued");

  // The run evaluates the edited batch once approved: the dropped one never runs.
  REQUIRE(labloop::engine::ApproveCandidates(path, {}, true, "test"));
  REQUIRE(labloop::engine::RunCampaign(path, {1}));
  CHECK(QueryCampaign(path, "SELECT COUNT(*) FROM measurement WHERE candidate_id = ?",
                      {std::to_string(extra)})[0][0] == "1");
  CHECK(QueryCampaign(path, "SELECT COUNT(*) FROM measurement WHERE candidate_id = ?",
                      {std::to_string(pending[0])})[0][0] == "0");
  auto edits = QueryCampaign(path, "SELECT actor, detail FROM event WHERE kind = 'batch_edited'");
  REQUIRE(edits.size() == 1);
  CHECK(edits[0][0] == "test:curie");
}

TEST_CASE("A substructure scan spans requests, beside another query", "[integration]") {
  TempDir dir;
  dir.Write("pool.smi", labloop::testing::DemoPoolHead(1500));
  const std::string config =
      "[campaign]\nname = \"scan\"\n[library]\nfiles = [\"pool.smi\"]\n"
      "[objective]\nproperty = \"gap\"\ndirection = \"minimize\"\n[simulator]\nkind = \"xtb\"\n";
  const std::string path = dir.File("scan.labloop");
  REQUIRE(labloop::engine::InitCampaignFromText(path, config, "test", dir.path()));
  auto view = labloop::engine::CampaignView::Open(path);
  REQUIRE(view);
  labloop::engine::CandidatePageRequest rings;
  rings.substructure = "C1CC1";  // cyclopropane
  rings.scan_seconds = 0;        // one chunk of 1,024 molecules a request
  rings.limit = 1000;
  auto first = json::parse(*(*view)->Candidates(rings));
  CHECK(first["complete"] == false);
  CHECK(first["scanned"] == 1024);
  CHECK(first["to_scan"].get<int>() > 1024);
  // Another query between the two does not restart the scan.
  labloop::engine::CandidatePageRequest other;
  other.search = "N";
  auto text = json::parse(*(*view)->Candidates(other));
  CHECK(text["complete"] == true);
  auto second = json::parse(*(*view)->Candidates(rings));
  CHECK(second["complete"] == true);
  CHECK(second["scanned"] == second["to_scan"]);
  CHECK(second["total"].get<int>() >= first["total"].get<int>());
  CHECK(second["total"].get<int>() > 0);
  for (const auto& row : second["rows"]) {
    auto smiles = row["smiles"].get<std::string>();
    CHECK(smiles.find('1') != std::string::npos);  // a ring
  }
}
