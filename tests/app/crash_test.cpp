#include <catch2/catch.hpp>

#include <csignal>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "app/engine/engine.h"
#include "db/campaign_db.h"
#include "tests/app/fixtures.h"
#include "tests/support/temp_dir.h"

using namespace labloop;
using namespace labloop::testing;

namespace {

constexpr int kBudget = 50;

// Runs `labloop run` until it finishes, first with each crash in `crashes` injected in turn.
void RunWithCrashes(const std::string& campaign, const std::vector<std::string>& crashes) {
  for (const auto& crash : crashes) {
    auto r = RunLabloop({"run", campaign}, {"LABLOOP_CRASH_AT=" + crash});
    INFO("crash at " << crash << "\n" << r.output);
    REQUIRE(r.signal == SIGKILL);
  }
  auto done = RunLabloop({"run", campaign});
  INFO(done.output);
  REQUIRE(done.exit_code == 0);
  REQUIRE(done.output.find("stopped: budget spent") != std::string::npos);
}

// The measured (candidate -> value) map, checked for exactly-once on the way.
std::map<int64_t, double> CheckExactlyOnce(const std::string& campaign) {
  auto db = db::CampaignDb::Open(campaign, db::OpenMode::kReadOnly);
  REQUIRE(db);
  CHECK(*(*db)->IntegrityCheck() == "ok");
  auto summary = (*db)->Summary();
  REQUIRE(summary);
  CHECK(summary->evaluations_spent == kBudget);
  CHECK(summary->jobs.at("queued") == 0);
  CHECK(summary->jobs.at("running") == 0);
  CHECK(summary->measurements == summary->jobs.at("done"));
  auto jobs = (*db)->ListJobs({});
  std::set<int64_t> job_candidates;
  for (const auto& j : *jobs) CHECK(job_candidates.insert(j.candidate_id).second);
  std::map<int64_t, double> measured;
  auto logS_rows = (*db)->ListMeasurements("logS");
  REQUIRE(logS_rows);
  for (const auto& m : *logS_rows) {
    CHECK(measured.emplace(m.candidate_id, m.value).second);  // once per candidate
  }
  return measured;
}

}  // namespace

TEST_CASE("SIGKILL at any step loses and duplicates nothing", "[integration][slow]") {
  TempDir dir;
  // The reference: the same campaign, never interrupted.
  std::string clean = dir.File("clean.labloop");
  REQUIRE(engine::InitCampaignFromText(clean, EsolConfig(kBudget), "esol.toml", dir.path()));
  RunWithCrashes(clean, {});
  auto reference = CheckExactlyOnce(clean);
  REQUIRE(reference.size() == kBudget);

  const std::vector<std::vector<std::string>> scenarios = {
      {"evaluate:4"},                         // during evaluation of round 0
      {"ingest:3"},                           // inside an ingest transaction, before COMMIT
      {"training:1"},                         // as the first model's training starts
      {"train:1"},                            // right after the first model is trained
      {"dispatch:2"},                         // after selection, before decisions are stored
      {"ingest:17", "evaluate:5", "train:2"}  // several crashes in one campaign
  };
  for (size_t s = 0; s < scenarios.size(); ++s) {
    DYNAMIC_SECTION("scenario " << s << " first crash " << scenarios[s].front()) {
      std::string campaign = dir.File("crash" + std::to_string(s) + ".labloop");
      REQUIRE(engine::InitCampaignFromText(campaign, EsolConfig(kBudget), "esol.toml", dir.path()));
      RunWithCrashes(campaign, scenarios[s]);
      // Same decisions and values as the run that never crashed.
      CHECK(CheckExactlyOnce(campaign) == reference);
    }
  }
}

TEST_CASE("SIGKILL at random moments of a real xtb campaign loses and duplicates nothing",
          "[integration][slow]") {
  TempDir dir;
  // 100 molecules of the demo pool; each run lasts seconds, long enough to be killed mid-way.
  dir.Write("pool.smi", DemoPoolHead(100));
  std::string config =
      "[library]\nfiles = [\"pool.smi\"]\n[objective]\nproperty = \"gap\"\n"
      "direction = \"minimize\"\n[model]\nmembers = 3\nhidden = 32\nepochs = 30\n"
      "min_steps = 200\n[simulator]\nkind = \"xtb\"\nthreads = 2\n"
      "[budget]\nbatch_size = 8\nmax_evaluations = " +
      std::to_string(kBudget) + "\n";
  std::string campaign = dir.File("random.labloop");
  REQUIRE(engine::InitCampaignFromText(campaign, config, "gap.toml", dir.path()));
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> delay(0.2, 1.2);
  int killed = 0;
  for (int attempt = 0; attempt < 10; ++attempt) {
    auto r = RunLabloop({"run", campaign}, {}, delay(rng));
    if (r.signal == SIGKILL) ++killed;
    if (r.exit_code == 0) break;
  }
  INFO("killed " << killed << " times");
  CHECK(killed >= 3);
  auto done = RunLabloop({"run", campaign});
  INFO(done.output);
  REQUIRE(done.exit_code == 0);

  auto db = db::CampaignDb::Open(campaign, db::OpenMode::kReadOnly);
  REQUIRE(db);
  CHECK(*(*db)->IntegrityCheck() == "ok");
  auto summary = (*db)->Summary();
  CHECK(summary->evaluations_spent == kBudget);
  CHECK(summary->jobs.at("queued") + summary->jobs.at("running") == 0);
  // A kill charges an attempt only to the jobs it interrupted, at most the 2 running (not the
  // round's 8), and a job is failed for kills after 3 of them.
  auto aborted = QueryCampaign(
      campaign, "SELECT count(*) FROM job WHERE error LIKE 'aborted: the controller died%'");
  CHECK(std::stoi(aborted[0][0]) * 3 <= 2 * killed);
  // xtb stores three properties per successful job, each exactly once.
  CHECK(summary->measurements == 3 * summary->jobs.at("done"));
  std::set<int64_t> seen;
  auto gap_rows = (*db)->ListMeasurements("gap");
  REQUIRE(gap_rows);
  for (const auto& m : *gap_rows) CHECK(seen.insert(m.candidate_id).second);
}

TEST_CASE("With [launcher] isolate a back-end that crashes fails its job, not the controller",
          "[integration]") {
  TempDir dir;
  dir.Write("pool.smi", DemoPoolHead(24));
  std::string config =
      "[library]\nfiles = [\"pool.smi\"]\n[objective]\nproperty = \"gap\"\n"
      "direction = \"minimize\"\n[model]\nmembers = 3\nhidden = 32\nepochs = 10\n"
      "min_steps = 50\n[simulator]\nkind = \"xtb\"\nthreads = 2\n"
      "[launcher]\nkind = \"threads\"\nisolate = true\ntask_timeout = 60\n"
      "[budget]\ninitial_batch = 8\nbatch_size = 8\nmax_evaluations = 24\n";
  std::string campaign = dir.File("isolated.labloop");
  REQUIRE(engine::InitCampaignFromText(campaign, config, "isolated.toml", dir.path()));
  // A real segfault planted in one molecule's task (in its child process), after the model
  // has trained with LibTorch in the controller (a round past the first).
  const std::string planted =
      QueryCampaign(campaign,
                    "SELECT m.smiles FROM candidate c JOIN molecule m ON "
                    "m.id = c.molecule_id ORDER BY c.id DESC LIMIT 1")[0][0];
  auto run = RunLabloop({"run", campaign}, {"LABLOOP_SIM_CRASH_ON=" + planted});
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  auto jobs = QueryCampaign(campaign,
                            "SELECT m.smiles, j.state, COALESCE(j.error, '') FROM job j JOIN "
                            "candidate c ON c.id = j.candidate_id JOIN molecule m ON "
                            "m.id = c.molecule_id");
  REQUIRE(jobs.size() == 24);
  int done = 0;
  for (const auto& j : jobs) {
    if (j[0] == planted) {
      CHECK(j[1] == "failed");
      CHECK(j[2].find("crashed") != std::string::npos);
    } else {
      done += j[1] == "done";
    }
  }
  CHECK(done == 23);
}
