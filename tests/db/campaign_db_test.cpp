#include <catch2/catch.hpp>

#include <map>
#include <set>

#include <sqlite3.h>

#include <fstream>

#include "db/campaign_db.h"
#include "db/schema.h"
#include "tests/support/temp_dir.h"

using namespace labloop;
using namespace labloop::db;

namespace {

std::unique_ptr<CampaignDb> NewCampaign(const std::string& path, int candidates) {
  auto db = CampaignDb::Open(path, OpenMode::kCreate);
  REQUIRE(db);
  REQUIRE((*db)->CreateCampaign({"test", "given", "resolved", ""}));
  std::vector<NewCandidate> rows;
  for (int i = 0; i < candidates; ++i) {
    rows.push_back({"C" + std::string(i, 'C'), "KEY-" + std::to_string(i), "", "library:x.smi",
                    "id" + std::to_string(i), "x.smi:" + std::to_string(i + 1), 0});
  }
  auto added = (*db)->AddCandidates(rows);
  REQUIRE(added);
  REQUIRE(added->added == candidates);
  return std::move(*db);
}

std::string Pragma(const std::string& path, const std::string& pragma) {
  sqlite3* raw = nullptr;
  sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(raw, ("PRAGMA " + pragma).c_str(), -1, &stmt, nullptr);
  sqlite3_step(stmt);
  std::string value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  sqlite3_finalize(stmt);
  sqlite3_close(raw);
  return value;
}

// Starts round 0 with one decision to simulate candidate 1; returns its queued job's id.
int64_t DispatchOneJob(CampaignDb& db) {
  REQUIRE(db.StartRound(0));
  DecisionRow d;
  d.candidate_id = 1;
  d.route = "simulate";
  REQUIRE(db.DispatchRound(0, {d}, "simulation", "xtb"));
  return db.ListJobs({})->front().id;
}

}  // namespace

TEST_CASE("A new campaign file is WAL - versioned and refuses to be created twice",
          "[integration]") {
  testing::TempDir dir;
  std::string path = dir.File("c.labloop");
  {
    auto db = NewCampaign(path, 3);
    CHECK(db->SchemaVersion() == kSchemaVersion);
    auto campaign = db->GetCampaign();
    REQUIRE(campaign);
    CHECK(campaign->name == "test");
    CHECK(campaign->config_given == "given");
  }
  CHECK(Pragma(path, "journal_mode") == "wal");
  CHECK(Pragma(path, "user_version") == std::to_string(kSchemaVersion));
  auto again = CampaignDb::Open(path, OpenMode::kCreate);
  REQUIRE_FALSE(again);
  CHECK(again.error().message.find("already exists") != std::string::npos);
  auto missing = CampaignDb::Open(dir.File("none.labloop"), OpenMode::kReadWrite);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ErrorCode::kNotFound);
}

TEST_CASE("A file that is not a campaign gets a clear error", "[integration]") {
  testing::TempDir dir;
  std::string path = dir.Write("junk.labloop", "this is not sqlite, just text that is long enough");
  auto db = CampaignDb::Open(path, OpenMode::kReadWrite);
  REQUIRE_FALSE(db);
  CHECK(db.error().message.find("is not a labloop campaign file") != std::string::npos);
}

TEST_CASE("Network file systems are refused for WAL") {
  std::string name;
  CHECK_FALSE(FileSystemSupportsWal(0x6969, name));
  CHECK(name == "nfs");
  CHECK_FALSE(FileSystemSupportsWal(0xFF534D42, name));
  CHECK(name == "cifs");
  CHECK(FileSystemSupportsWal(0xEF53, name));
  CHECK(name == "ext4");
}

TEST_CASE("Candidates are deduplicated by InChIKey and duplicates are reported", "[integration]") {
  testing::TempDir dir;
  auto db = NewCampaign(dir.File("c.labloop"), 2);
  auto added = db->AddCandidates({{"CC", "KEY-0", "", "library:y.smi", "", "y.smi:7", 0},
                                  {"CCCC", "KEY-9", "", "library:y.smi", "", "y.smi:8", 0}});
  REQUIRE(added);
  CHECK(added->added == 1);
  CHECK(added->duplicates == 1);
  CHECK(added->duplicates_of.front() ==
        std::make_pair(std::string("y.smi:7"), std::string("x.smi:1")));
  CHECK(db->ListCandidates()->size() == 3);
}

TEST_CASE("A round's generated molecules are stored in one transaction, even when none is new",
          "[integration]") {
  testing::TempDir dir;
  auto db = NewCampaign(dir.File("c.labloop"), 2);
  CHECK_FALSE(*db->GeneratedIn(1));
  const std::vector<RejectedInput> rejected = {
      {"generator:ga", "round 1", "", "C1CC", "unparsable"}};
  auto added = db->AddGeneratedCandidates(
      1, {{"CCN", "KEY-N", "", "generator:ga", "{}", "round 1", 1}}, rejected,
      [](const AddCandidatesResult& a) { return "{\"added\":" + std::to_string(a.added) + "}"; });
  REQUIRE(added);
  CHECK(added->added == 1);
  CHECK(*db->GeneratedIn(1));
  CHECK_FALSE(*db->GeneratedIn(2));
  CHECK(db->ListRejectedInputs()->size() == 1);
  auto events = db->ListEvents(0, 100);
  REQUIRE(events);
  REQUIRE_FALSE(events->empty());
  CHECK(events->back().kind == "candidates_generated");
  CHECK(events->back().detail == "{\"added\":1,\"round\":1}");
  // A round whose proposals were all known molecules still counts as generated.
  auto known =
      db->AddGeneratedCandidates(2, {{"CC", "KEY-1", "", "generator:ga", "{}", "round 2", 2}}, {},
                                 [](const AddCandidatesResult&) { return std::string("{}"); });
  REQUIRE(known);
  CHECK(known->added == 0);
  CHECK(*db->GeneratedIn(2));
  CHECK(db->ListCandidates()->size() == 3);
}

TEST_CASE("Jobs are written with their decisions and ingestion is idempotent", "[integration]") {
  testing::TempDir dir;
  std::string path = dir.File("c.labloop");
  auto db = NewCampaign(path, 4);
  REQUIRE(db->StartRound(0));
  std::vector<DecisionRow> decisions(3);
  for (int i = 0; i < 3; ++i) {
    decisions[i].candidate_id = i + 1;
    decisions[i].route = "simulate";
    decisions[i].acquisition = "random";
  }
  decisions[2].route = "trust";  // no job for a trusted candidate
  REQUIRE(db->DispatchRound(0, decisions, "simulation", "lookup"));
  auto round = db->LastRound();
  REQUIRE(round);
  CHECK((*round)->state == RoundState::kDispatched);
  auto queued = db->ListJobs({JobState::kQueued});
  REQUIRE(queued);
  REQUIRE(queued->size() == 2);

  REQUIRE(db->MarkJobsRunning({(*queued)[0].id, (*queued)[1].id}));
  JobOutcome ok{(*queued)[0].id, true, {{"value", 1.5, std::nullopt}, {"other", 2.0, 0.1}},
                "lookup",        "{}", ""};
  REQUIRE(db->IngestOutcome(ok));
  REQUIRE(db->IngestOutcome(ok));  // a second delivery changes nothing
  JobOutcome failed{(*queued)[1].id, false, {}, "", "", "scf not converged"};
  REQUIRE(db->IngestOutcome(failed));
  auto summary = db->Summary();
  REQUIRE(summary);
  CHECK(summary->measurements == 2);
  CHECK(summary->jobs.at("done") == 1);
  CHECK(summary->jobs.at("failed") == 1);
  CHECK(summary->evaluations_spent == 2);
  auto measurements = db->ListMeasurements("value");
  REQUIRE(measurements);
  REQUIRE(measurements->size() == 1);
  CHECK(measurements->front().value == 1.5);
  CHECK(measurements->front().round == 0);
  auto jobs = db->ListJobs({JobState::kFailed});
  CHECK(jobs->front().error == "scf not converged");
  CHECK(*db->IntegrityCheck() == "ok");
}

TEST_CASE("Interrupted jobs go back to the queue until they have killed the controller 3 times",
          "[integration]") {
  testing::TempDir dir;
  auto db = NewCampaign(dir.File("c.labloop"), 2);
  auto id = DispatchOneJob(*db);
  for (int attempt = 1; attempt <= 2; ++attempt) {
    REQUIRE(db->MarkJobsRunning({id}));
    CHECK(db->ListJobs({JobState::kRunning})->size() == 1);
    auto requeued = db->RequeueInterruptedJobs(3);
    REQUIRE(requeued);
    CHECK(requeued->requeued == 1);
    CHECK(requeued->failed == 0);
    auto again = db->ListJobs({JobState::kQueued});
    REQUIRE(again->size() == 1);
    CHECK(again->front().attempts == attempt);
  }
  // The third death while it runs: the job is failed so the campaign can go on.
  REQUIRE(db->MarkJobsRunning({id}));
  auto third = db->RequeueInterruptedJobs(3);
  CHECK(third->failed == 1);
  CHECK(third->requeued == 0);
  auto failed = db->ListJobs({JobState::kFailed});
  REQUIRE(failed->size() == 1);
  CHECK(failed->front().error ==
        "aborted: the controller died 3 times while this job ran; marked failed so the campaign "
        "can go on");
}

TEST_CASE("A failed commit leaves no partial measurement behind", "[integration]") {
  testing::TempDir dir;
  std::string path = dir.File("c.labloop");
  auto db = NewCampaign(path, 2);
  auto job_id = DispatchOneJob(*db);
  // Stopped just before COMMIT (as a crash would): the transaction must roll back whole.
  db->SetBeforeCommitHook([&] { throw std::runtime_error("power cut"); });
  JobOutcome outcome{job_id, true, {{"gap", 3.0, std::nullopt}}, "simulation", "{}", ""};
  CHECK_THROWS(db->IngestOutcome(outcome));
  db->SetBeforeCommitHook(nullptr);
  db.reset();
  auto reopened = CampaignDb::Open(path, OpenMode::kReadWrite);
  REQUIRE(reopened);
  CHECK((*reopened)->Summary()->measurements == 0);
  CHECK((*reopened)->ListJobs({JobState::kQueued})->size() == 1);
  REQUIRE((*reopened)->IngestOutcome(outcome));
  CHECK((*reopened)->Summary()->measurements == 1);
}

TEST_CASE("Predictions are stored in bulk and readers see them read-only", "[integration]") {
  testing::TempDir dir;
  std::string path = dir.File("c.labloop");
  auto db = NewCampaign(path, 1000);
  REQUIRE(db->StartRound(1));
  ModelRow model;
  model.round = 1;
  model.kind = "deep_ensemble";
  model.property = "gap";
  model.weights = std::string("\0\1\2weights", 10);
  auto id = db->StoreModel(model);
  REQUIRE(id);
  std::vector<PredictionRow> rows;
  for (int i = 1000; i >= 1; --i) rows.push_back({i, i * 0.5, 1.0, 0.6, 0.8});
  REQUIRE(db->StorePredictions(*id, rows));
  auto reader = CampaignDb::Open(path, OpenMode::kReadOnly);
  REQUIRE(reader);
  CHECK(*(*reader)->CountPredictions(*id) == 1000);
  CHECK((*reader)->GetModel(*id)->weights == model.weights);
  CHECK((*(*reader)->LastRound())->model_id == *id);
  auto exported = (*reader)->ExportRows();
  REQUIRE(exported);
  CHECK(exported->size() == 1000);
  CHECK(exported->at(9).prediction->mean == 5.0);
  // Readers cannot write.
  CHECK_FALSE((*reader)->StartRound(2));
}

TEST_CASE("A campaign has one writer at a time and any number of readers", "[integration]") {
  testing::TempDir dir;
  std::string path = dir.File("c.labloop");
  auto writer = NewCampaign(path, 1);
  auto second = CampaignDb::Open(path, OpenMode::kReadWrite);
  REQUIRE_FALSE(second);
  CHECK(second.error().code == ErrorCode::kFailedPrecondition);
  CHECK(second.error().message.find("already open for writing") != std::string::npos);
  auto reader = CampaignDb::Open(path, OpenMode::kReadOnly);
  REQUIRE(reader);
  CHECK((*reader)->Summary()->candidates == 1);
  writer.reset();
  CHECK(CampaignDb::Open(path, OpenMode::kReadWrite));
}

TEST_CASE("A version-1 campaign file migrates forward and keeps its records", "[integration]") {
  testing::TempDir dir;
  std::string path = dir.File("old.labloop");
  {
    // A file as labloop 0.1 wrote it: schema 1 only, one decision with its job.
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &raw) == SQLITE_OK);
    std::string sql = "PRAGMA journal_mode = WAL;" + detail::Migrations()[0] +
                      "INSERT INTO campaign VALUES (1, 'old', 'g', 'r', 't', 1);"
                      "INSERT INTO molecule VALUES (1, 'CCO', 'LFQSCWFLJHTTHZ-UHFFFAOYSA-N', NULL);"
                      "INSERT INTO candidate (id, molecule_id, source, round_added) VALUES "
                      "(1, 1, 'library', 0);"
                      "INSERT INTO round (number, state, started_at) VALUES (0, 'dispatched', 't');"
                      "INSERT INTO decision (round, candidate_id, route, created_at) VALUES "
                      "(0, 1, 'simulate', 't');"
                      "INSERT INTO job (decision_id, candidate_id, round, kind, backend, state, "
                      "created_at, updated_at) VALUES (1, 1, 0, 'simulation', 'xtb', 'queued', "
                      "'t', 't');"
                      "PRAGMA user_version = 1;";
    char* message = nullptr;
    int rc = sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, &message);
    INFO((message ? message : ""));
    REQUIRE(rc == SQLITE_OK);
    sqlite3_close(raw);
  }
  // Readers never write: they ask for one read-write open first.
  auto reader = CampaignDb::Open(path, OpenMode::kReadOnly);
  REQUIRE_FALSE(reader);
  CHECK(reader.error().message == "campaign file '" + path +
                                      "' has schema version 1; open it once read-write (labloop "
                                      "run) to migrate it");
  {
    auto db = CampaignDb::Open(path, OpenMode::kReadWrite);
    REQUIRE(db);
    CHECK((*db)->SchemaVersion() == kSchemaVersion);
    auto jobs = (*db)->ListJobs({});
    REQUIRE(jobs->size() == 1);
    CHECK_FALSE(jobs->front().awaiting_approval);  // old decisions need no approval
    CHECK((*db)->ListPendingApprovals()->empty());
  }
  CHECK(Pragma(path, "user_version") == std::to_string(kSchemaVersion));
  // A file from a newer labloop is refused, not damaged.
  {
    sqlite3* raw = nullptr;
    sqlite3_open(path.c_str(), &raw);
    sqlite3_exec(raw, "PRAGMA user_version = 99", nullptr, nullptr, nullptr);
    sqlite3_close(raw);
  }
  auto newer = CampaignDb::Open(path, OpenMode::kReadWrite);
  REQUIRE_FALSE(newer);
  CHECK(newer.error().message.find("newer than this labloop") != std::string::npos);
}

TEST_CASE("Approving and rejecting decisions at the gate", "[integration]") {
  testing::TempDir dir;
  auto db = NewCampaign(dir.File("c.labloop"), 3);
  REQUIRE(db->StartRound(0));
  std::vector<DecisionRow> decisions(3);
  for (int i = 0; i < 3; ++i) {
    decisions[i].candidate_id = i + 1;
    decisions[i].route = "experiment";
    decisions[i].needs_approval = i < 2;  // candidate 3 needs no approval
  }
  const std::vector<ExperimentStep> steps = {{"synthesis", "synth", "{\"amount_mg\":5}"},
                                             {"assay", "reader", "{\"points\":10}"}};
  CHECK(!db->DispatchRound(0, decisions, "simulation", "xtb"));  // experiments need their steps
  REQUIRE(db->DispatchRound(0, decisions, "simulation", "xtb", steps));
  auto jobs = db->ListJobs({});
  CHECK(jobs->at(0).awaiting_approval);
  CHECK(jobs->at(1).awaiting_approval);
  CHECK_FALSE(jobs->at(2).awaiting_approval);
  REQUIRE(db->ListPendingApprovals()->size() == 2);

  CHECK(db->ApproveDecisions({3}, "ada").error().message ==
        "candidate 3 has no decision waiting for approval");
  CHECK(*db->ApproveDecisions({1}, "ada") == 1);
  CHECK_FALSE(db->ListJobs({})->at(0).awaiting_approval);
  CHECK(*db->RejectDecisions({2}, "ada", "too expensive") == 1);
  auto after = db->ListJobs({});
  CHECK(after->at(1).state == JobState::kCancelled);
  CHECK(after->at(1).error == "rejected by ada: too expensive");
  CHECK(*db->CandidatesRejectedByPeople() == std::vector<int64_t>{2});
  CHECK(db->ListPendingApprovals()->empty());
  CHECK(db->Summary()->evaluations_spent == 2);  // a rejected job costs nothing

  // Each experiment job has its steps, stored with unique request ids before anything is sent.
  auto experiments = db->ListExperiments({});
  REQUIRE(experiments->size() == 6);
  std::set<std::string> request_ids;
  std::map<int64_t, std::vector<std::string>> states;  // candidate -> step states
  for (const auto& e : *experiments) {
    CHECK(request_ids.insert(e.request_id).second);
    states[e.candidate_id].push_back(e.state);
  }
  CHECK(states[1] == std::vector<std::string>{"approved", "approved"});  // approved by ada
  CHECK(states[2] == std::vector<std::string>{"aborted", "aborted"});    // rejected
  CHECK(states[3] == std::vector<std::string>{"approved", "approved"});  // needed no approval
  CHECK(after->at(0).kind == "experiment");
  CHECK(after->at(0).backend == "lab");

  // The life of a step, each change in the audit log; the job follows.
  const auto first = experiments->at(0);
  REQUIRE(db->UpdateExperiment(first.id, "sent"));
  CHECK(db->ListJobs({JobState::kRunning})->size() == 1);
  REQUIRE(db->UpdateExperiment(first.id, "sent"));  // sent again: same request id, two sends
  REQUIRE(db->UpdateExperiment(first.id, "running"));
  REQUIRE(db->UpdateExperiment(first.id, "failed", "raw", "", "instrument: jammed"));
  REQUIRE(db->EndExperimentJob(first.job_id, false, "synthesis failed: jammed"));
  auto ended = db->ListExperiments({});
  CHECK(ended->at(0).state == "failed");
  CHECK(ended->at(0).sends == 2);
  CHECK(ended->at(0).request_id == first.request_id);
  CHECK(ended->at(1).state == "aborted");  // the assay never runs
  CHECK(ended->at(1).job_state == "failed");

  // The emergency stop.
  CHECK_FALSE(db->GetEmergencyStop()->active);
  REQUIRE(db->SetEmergencyStop(true, "ada", "spill"));
  auto stop = db->GetEmergencyStop();
  CHECK(stop->active);
  CHECK(stop->actor == "ada");
  CHECK(stop->reason == "spill");
  REQUIRE(db->SetEmergencyStop(false, "bob", "cleaned up"));
  CHECK_FALSE(db->GetEmergencyStop()->active);
}
