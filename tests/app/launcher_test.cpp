// Campaigns whose simulations run as batches of labloop-sim: under a local mpirun, and under a
// real one-node Slurm cluster started by the test. Controllers are killed mid-batch and batches
// die mid-way; nothing may be lost, computed for nothing or ingested twice.
#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "app/engine/engine.h"
#include "tests/app/fixtures.h"
#include "tests/app/slurm_cluster.h"
#include "tests/support/temp_dir.h"

using namespace labloop::testing;

namespace {

namespace fs = std::filesystem;

std::string Init(const TempDir& dir, const std::string& launcher, int budget) {
  std::string config = dir.Write("campaign.toml", EsolConfig(budget, 10) + launcher);
  std::string campaign = dir.File("c.campaign");
  auto init = RunLabloop({"init", campaign, "--config", config});
  INFO(init.output);
  REQUIRE(init.exit_code == 0);
  return campaign;
}

// Every job done, each candidate measured once, as many measurements as the budget.
void CheckExactlyOnce(const std::string& campaign, int budget) {
  auto states = QueryCampaign(campaign, "SELECT state, count(*) FROM job GROUP BY state");
  REQUIRE(states.size() == 1);
  CHECK(states[0][0] == "done");
  CHECK(states[0][1] == std::to_string(budget));
  auto measured = QueryCampaign(campaign,
                                "SELECT count(*), count(DISTINCT candidate_id) FROM measurement "
                                "WHERE property = 'logS'");
  CHECK(measured[0][0] == std::to_string(budget));
  CHECK(measured[0][1] == std::to_string(budget));
}

int Lines(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) n += !line.empty();
  return n;
}

}  // namespace

TEST_CASE("mpirun launcher: a killed controller re-attaches - a dying batch resubmits the rest",
          "[integration][slow]") {
  TempDir dir;
  const std::string mpirun =
      "[launcher]\nkind = \"mpirun\"\nranks = 2\nmpirun_args = [\"--oversubscribe\"]\n"
      "poll_seconds = 0.1\n";
  SECTION("killed at the first result, the batch goes on; the next run picks it up") {
    std::string campaign = Init(dir, mpirun, 20);
    auto killed = RunLabloop({"run", campaign}, {"LABLOOP_CRASH_AT=evaluate"});
    INFO(killed.output);
    REQUIRE(killed.signal == SIGKILL);
    auto submitted = QueryCampaign(campaign, "SELECT DISTINCT state, external_id FROM job");
    REQUIRE(submitted.size() == 1);
    CHECK(submitted[0][0] == "submitted");
    CHECK(submitted[0][1].rfind("mpirun ", 0) == 0);
    auto resumed = RunLabloop({"run", campaign});
    INFO(resumed.output);
    REQUIRE(resumed.exit_code == 0);
    CHECK(resumed.output.find("re-attaching to mpirun batch round-0000-job-1-try-1") !=
          std::string::npos);
    CheckExactlyOnce(campaign, 20);
    // One batch a round, each task computed once.
    CHECK(Lines(campaign + ".batches/round-0000-job-1-try-1/output.jsonl") == 10);
    CHECK(fs::exists(campaign + ".batches/round-0001-job-11-try-1/exit_code"));
  }
  SECTION("stopped while re-attaching: the batch's jobs wait for the next run, not run twice") {
    // labloop-sim only once the test says so (a file): the batch is still running when the
    // controller is killed (5 s in: long enough to submit it on a loaded machine) and when the
    // paused run looks at it.
    const std::string go = dir.File("go");
    std::string wrapper = dir.Write("held-sim.sh", "#!/bin/sh\nwhile [ ! -e '" + go +
                                                       "' ]; do sleep 0.1; done\nexec " +
                                                       std::string(LABLOOP_SIM) + " \"$@\"\n");
    fs::permissions(wrapper, fs::perms::owner_all);
    std::string campaign = Init(dir, mpirun + "program = \"" + wrapper + "\"\n", 10);
    auto killed = RunLabloop({"run", campaign}, {}, 5.0);
    INFO(killed.output);
    REQUIRE(killed.signal == SIGKILL);
    // A pause (GUI, server) asked for as the next run re-attaches.
    std::atomic<bool> stop{true};
    labloop::engine::RunOptions paused;
    paused.stop = &stop;
    auto stopped = labloop::engine::RunCampaign(campaign, paused);
    REQUIRE(stopped);
    CHECK(stopped->stop_reason.rfind("stopped by request", 0) == 0);
    auto waiting = QueryCampaign(campaign, "SELECT DISTINCT state, external_id FROM job");
    REQUIRE(waiting.size() == 1);
    CHECK(waiting[0][0] == "submitted");
    CHECK(waiting[0][1].rfind("mpirun ", 0) == 0);
    dir.Write("go", "");
    auto resumed = RunLabloop({"run", campaign});
    INFO(resumed.output);
    REQUIRE(resumed.exit_code == 0);
    CheckExactlyOnce(campaign, 10);
    CHECK(Lines(campaign + ".batches/round-0000-job-1-try-1/output.jsonl") == 10);
    CHECK_FALSE(fs::exists(campaign + ".batches/round-0000-job-1-try-2"));
  }
  SECTION("a batch that dies after four tasks: only the other tasks are submitted again") {
    // labloop-sim that computes the first four lines of its input, then the job dies.
    std::string wrapper =
        dir.Write("dying-sim.sh",
                  "#!/bin/sh\n# labloop-sim on the first 4 tasks only, then a failure\n"
                  "head -n 4 input.smi > first4.smi\n"
                  "args=$(echo \"$@\" | sed 's/--input input.smi/--input first4.smi/')\n" +
                      std::string(LABLOOP_SIM) + " $args\nexit 3\n");
    fs::permissions(wrapper, fs::perms::owner_all);
    std::string campaign = Init(dir, mpirun + "program = \"" + wrapper + "\"\n", 10);
    auto run = RunLabloop({"run", campaign});
    INFO(run.output);
    REQUIRE(run.exit_code == 0);
    CheckExactlyOnce(campaign, 10);
    // 10 tasks: 4 + 4 + 2, each batch given only what the ones before left.
    std::vector<int> sizes;
    for (const std::string name :
         {"round-0000-job-1-try-1", "round-0000-job-5-try-2", "round-0000-job-9-try-3"}) {
      INFO(name);
      REQUIRE(fs::exists(campaign + ".batches/" + name + "/input.smi"));
      sizes.push_back(Lines(campaign + ".batches/" + name + "/input.smi"));
    }
    CHECK(sizes == std::vector<int>{10, 6, 2});
    CHECK(run.output.find("labloop-sim exited with 3: labloop-sim: wrote 4 results") !=
          std::string::npos);
    auto requeued =
        QueryCampaign(campaign, "SELECT count(*) FROM event WHERE kind = 'jobs_requeued'");
    CHECK(requeued[0][0] == "2");
  }
}

TEST_CASE("Slurm launcher on a one-node cluster: submit - watch - re-attach - cancel",
          "[integration][slow][slurm]") {
  SlurmCluster cluster;
  INFO(cluster.error());
  REQUIRE(cluster.error().empty());
  TempDir dir;
  const std::string slurm =
      "[launcher]\nkind = \"slurm\"\nranks = 2\npoll_seconds = 0.2\ntime_limit = \"00:10:00\"\n";
  SECTION("a controller killed while its Slurm job runs re-attaches to it") {
    std::string campaign = Init(dir, slurm, 20);
    auto killed = RunLabloop({"run", campaign}, {"LABLOOP_CRASH_AT=evaluate"});
    INFO(killed.output);
    REQUIRE(killed.signal == SIGKILL);
    auto job = QueryCampaign(campaign, "SELECT DISTINCT external_id FROM job");
    REQUIRE(job.size() == 1);
    REQUIRE(job[0][0].rfind("slurm ", 0) == 0);
    auto resumed = RunLabloop({"run", campaign});
    INFO(resumed.output);
    REQUIRE(resumed.exit_code == 0);
    CHECK(resumed.output.find("re-attaching to slurm batch round-0000-job-1-try-1") !=
          std::string::npos);
    CheckExactlyOnce(campaign, 20);
    std::string script;
    std::ifstream in(campaign + ".batches/round-0000-job-1-try-1/job.sh");
    std::getline(in, script, '\0');
    CHECK(script.find("#SBATCH --ntasks=2") != std::string::npos);
    CHECK(script.find("#SBATCH --job-name=labloop-round-0000-job-1-try-1") != std::string::npos);
  }
  SECTION("labloop cancel stops a running Slurm job and cancels its jobs") {
    // A back-end that takes a minute a molecule: the batch is still running when cancelled.
    std::string slow = dir.Write("slow.sh", "#!/bin/sh\nsleep 60\necho '{\"logS\": 0}'\n");
    fs::permissions(slow, fs::perms::owner_all);
    std::string config = EsolConfig(10, 10);
    config = config.substr(0, config.find("[simulator]")) + "[simulator]\nkind = \"command\"\n" +
             "command = [\"" + slow + "\"]\nproperties = [\"logS\"]\n" +
             config.substr(config.find("[budget]")) + slurm;
    std::string campaign = dir.File("slow.campaign");
    REQUIRE(RunLabloop({"init", campaign, "--config", dir.Write("slow.toml", config)}).exit_code ==
            0);
    auto run = RunLabloop({"run", campaign}, {}, /*kill_after_seconds=*/3);
    REQUIRE(run.signal == SIGKILL);
    auto id = QueryCampaign(campaign, "SELECT DISTINCT external_id FROM job")[0][0];
    std::string slurm_id = id.substr(6, id.find(' ', 6) - 6);
    auto cancel = RunLabloop({"cancel", campaign, "--by", "tester"});
    INFO(cancel.output);
    REQUIRE(cancel.exit_code == 0);
    CHECK(cancel.output.find("stopped batch slurm " + slurm_id) != std::string::npos);
    CHECK(cancel.output.find("cancelled 10 jobs (by tester)") != std::string::npos);
    auto states = QueryCampaign(campaign, "SELECT DISTINCT state FROM job");
    REQUIRE(states.size() == 1);
    CHECK(states[0][0] == "cancelled");
    std::string shown;
    for (int i = 0; i < 50 && shown.find("CANCELLED") == std::string::npos; ++i) {
      shown = RunProgram("scontrol", {"show", "job", slurm_id}).output;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    CHECK(shown.find("JobState=CANCELLED") != std::string::npos);
    auto audit = QueryCampaign(campaign, "SELECT actor FROM event WHERE kind = 'jobs_cancelled'");
    REQUIRE(audit.size() == 1);
    CHECK(audit[0][0] == "tester");
  }
}
