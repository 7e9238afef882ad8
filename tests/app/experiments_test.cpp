// The experiment route end to end against labloop-emulator processes: approval, synthesis, the
// assay and its fit as a measurement; a controller killed mid-experiment; the emergency stop;
// flagged fits and safety checks that keep bad results out.
#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <fstream>
#include <future>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "app/engine/engine.h"
#include "app/engine/experiments.h"
#include "db/campaign_db.h"
#include "instruments/ground_truth.h"
#include "instruments/transport.h"
#include "tests/app/fixtures.h"
#include "tests/instruments/emulator_process.h"
#include "tests/support/temp_dir.h"

using namespace labloop;
using namespace labloop::engine;
using testing::Emulator;
using testing::QueryCampaign;
using testing::RunLabloop;

namespace {

// A small campaign: 40 ZINC molecules, the proxy "simulation" of examples/lab, and the two
// emulated instruments; `experiment_extra` goes into its [experiment] table.
std::string WriteCampaign(const testing::TempDir& dir, const std::string& synth,
                          const std::string& reader, const std::string& reader_driver,
                          const std::string& experiment_extra = "") {
  std::string config = testing::LabConfig(dir, synth, reader, reader_driver, experiment_extra);
  dir.Write("lab.toml", config);
  const std::string campaign = dir.File("lab.labloop");
  REQUIRE(InitCampaignFromText(campaign, config, "lab.toml", dir.path()));
  return campaign;
}

int Starts(const std::string& address, const std::string& request_id) {
  instruments::TransportOptions t;
  t.address = address;
  auto transport = instruments::OpenTransport(t);
  auto reply = (*transport)->Exchange("STARTS? " + request_id);
  REQUIRE(reply);
  return std::stoi(*reply);
}

// Runs until the campaign stops for a reason other than the approval gate, approving every
// experiment on the way (as a person would).
RunSummary RunApprovingAll(const std::string& campaign) {
  for (int i = 0; i < 10; ++i) {
    auto run = RunCampaign(campaign);
    REQUIRE(run);
    if (run->awaiting_approval == 0) return *run;
    REQUIRE(ApproveCandidates(campaign, {}, true, "tester"));
  }
  FAIL("the campaign kept waiting for approval");
  return {};
}

// The request id of the first step seen running within 10 s, or "".
std::string RunningRequest(const std::string& campaign) {
  for (int i = 0; i < 400; ++i) {
    auto running =
        QueryCampaign(campaign, "SELECT request_id FROM experiment WHERE state = 'running'");
    if (!running.empty()) return running[0][0];
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return "";
}

}  // namespace

TEST_CASE("Experiments run through approval, synthesis and the assay into measurements",
          "[integration][slow]") {
  Emulator synth({"--kind", "synthesizer", "--duration", "0.2", "--seed", "4"});
  Emulator reader({"--kind", "plate_reader", "--http", "--duration", "0.3", "--seed", "5"});
  testing::TempDir dir;
  auto campaign = WriteCampaign(dir, synth.Address(), reader.Address(), "http");
  auto run = RunApprovingAll(campaign);
  CHECK(run.stop_reason.find("emergency") == std::string::npos);

  // Every experiment step went requested -> approved -> sent -> running -> done, in the file.
  auto steps = QueryCampaign(campaign,
                             "SELECT e.id, e.kind, e.state, e.request_id, e.sends, e.result, "
                             "m.smiles FROM experiment e JOIN job j ON j.id = e.job_id JOIN "
                             "candidate c ON c.id = j.candidate_id JOIN molecule m ON m.id = "
                             "c.molecule_id ORDER BY e.id");
  REQUIRE(steps.size() >= 4);
  int assays = 0;
  for (const auto& s : steps) {
    INFO(s[3] << " " << s[2]);
    if (s[2] != "done") continue;
    CHECK(s[4] == "1");  // sent once
    if (s[1] == "synthesis") CHECK(Starts(synth.Address(), s[3]) == 1);
    if (s[1] != "assay") continue;
    ++assays;
    auto fit = nlohmann::json::parse(s[5]);
    auto truth = instruments::GroundTruth(s[6]);
    CHECK(std::abs(fit["pic50"].get<double>() - truth->pic50) <
          4 * fit["pic50_sigma"].get<double>() + 0.1);
  }
  CHECK(assays >= 2);
  auto history =
      QueryCampaign(campaign,
                    "SELECT kind FROM event WHERE kind LIKE 'experiment_%' AND "
                    "json_extract(detail, '$.experiment') = CAST(? AS INTEGER) ORDER BY id",
                    {steps[0][0]});
  std::vector<std::string> kinds;
  for (const auto& h : history) kinds.push_back(h[0]);
  CHECK(kinds ==
        std::vector<std::string>{"experiment_sent", "experiment_running", "experiment_done"});
  auto approvals = QueryCampaign(campaign, "SELECT COUNT(*) FROM event WHERE kind = 'approved'");
  CHECK(std::stoi(approvals[0][0]) >= 1);
  // Measured in the lab: fidelity experiment, with the fit's σ.
  auto measured = QueryCampaign(campaign,
                                "SELECT value, uncertainty FROM measurement WHERE fidelity = "
                                "'experiment'");
  CHECK(static_cast<int>(measured.size()) == assays);
  for (const auto& m : measured) CHECK(std::stod(m[1]) > 0);
  // Later models train on the experimental scale: simulations mapped by the fitted a + b y_sim.
  auto metrics = QueryCampaign(campaign, "SELECT metrics FROM model ORDER BY id DESC LIMIT 1");
  auto map = nlohmann::json::parse(metrics[0][0])["fidelity_map"];
  INFO(map.dump());
  CHECK(map["experiments"].get<int>() >= 1);
  CHECK(map["pairs"].get<int>() >= 1);  // confirmed finalists were simulated first
  CHECK(map.contains("a"));
}

TEST_CASE("A controller killed mid-experiment resumes it - nothing lost, nothing run twice",
          "[integration][slow]") {
  Emulator synth({"--kind", "synthesizer", "--duration", "0.5", "--seed", "4"});
  Emulator reader({"--kind", "plate_reader", "--duration", "0.3", "--seed", "5"});
  testing::TempDir dir;
  auto campaign = WriteCampaign(dir, synth.Address(), reader.Address(), "scpi");
  // Stop at the approval gate, approve, then die right after the first step reached the
  // synthesizer, and again after the first assay reached the plate reader.
  REQUIRE(RunCampaign(campaign));
  REQUIRE(ApproveCandidates(campaign, {}, true, "tester"));
  for (const std::string crash : {"experiment_sent:1", "experiment_sent:3"}) {
    auto killed = RunLabloop({"run", campaign}, {"LABLOOP_CRASH_AT=" + crash});
    INFO(killed.output);
    REQUIRE(killed.signal == SIGKILL);
  }
  RunApprovingAll(campaign);
  auto steps = QueryCampaign(campaign,
                             "SELECT e.kind, e.state, e.request_id, e.sends, j.state FROM "
                             "experiment e JOIN job j ON j.id = e.job_id ORDER BY e.id");
  REQUIRE(!steps.empty());
  for (const auto& s : steps) {
    INFO(s[2] << " " << s[1] << " job " << s[4]);
    CHECK((s[1] == "done" || s[1] == "failed"));
    CHECK(s[4] != "running");
    // However often the controller died, each request started once on its instrument.
    CHECK(Starts(s[0] == "synthesis" ? synth.Address() : reader.Address(), s[2]) == 1);
  }
  auto twice = QueryCampaign(campaign,
                             "SELECT job_id FROM measurement GROUP BY job_id, property HAVING "
                             "COUNT(*) > 1");
  CHECK(twice.empty());
}

TEST_CASE("The emergency stop halts the instruments within 100 ms and holds until resume --ack",
          "[integration][slow]") {
  Emulator synth({"--kind", "synthesizer", "--duration", "60", "--seed", "4"});
  Emulator reader({"--kind", "plate_reader", "--duration", "0.2", "--seed", "5"});
  testing::TempDir dir;
  auto campaign = WriteCampaign(dir, synth.Address(), reader.Address(), "scpi");
  REQUIRE(RunCampaign(campaign));
  REQUIRE(ApproveCandidates(campaign, {}, true, "tester"));
  auto controller = std::async(std::launch::async, [&] { return RunLabloop({"run", campaign}); });
  // Wait until a synthesis is running on the (slow) synthesizer.
  const std::string request = RunningRequest(campaign);
  REQUIRE(!request.empty());
  auto stop = EmergencyStop(campaign, "tester", "smoke in the hood");
  REQUIRE(stop);
  CHECK(stop->failures.empty());
  CHECK(stop->instruments_stopped == 2);
  CHECK(stop->seconds < 0.1);
  CHECK(stop->experiments_aborted >= 1);
  // The instrument itself stopped the run.
  instruments::TransportOptions t;
  t.address = synth.Address();
  auto line = instruments::OpenTransport(t);
  CHECK(*(*line)->Exchange("STAT? " + request) == "ABORTED");
  auto ended = controller.get();
  INFO(ended.output);
  CHECK(ended.exit_code == 0);
  CHECK(ended.output.find("emergency stop") != std::string::npos);
  // Nothing resumes without an acknowledgement.
  auto refused = RunLabloop({"run", campaign});
  CHECK(refused.exit_code != 0);
  CHECK(refused.output.find("resume") != std::string::npos);
  CHECK(RunLabloop({"resume", campaign}).exit_code != 0);
  auto resumed = RunLabloop({"resume", campaign, "--ack", "--by", "safety officer"});
  INFO(resumed.output);
  CHECK(resumed.exit_code == 0);
  auto audit = QueryCampaign(campaign,
                             "SELECT kind, actor FROM event WHERE kind LIKE 'emergency_stop%' "
                             "ORDER BY id");
  REQUIRE(audit.size() == 3);
  CHECK(audit[0] == std::vector<std::string>{"emergency_stop", "tester"});
  CHECK(audit[1] == std::vector<std::string>{"emergency_stop_done", "tester"});
  CHECK(audit[2] == std::vector<std::string>{"emergency_stop_cleared", "safety officer"});
  // Each instrument's reset is in the audit log too.
  auto resets = QueryCampaign(campaign,
                              "SELECT json_extract(detail, '$.instrument'), "
                              "json_extract(detail, '$.ok') FROM event WHERE kind = "
                              "'instrument_reset' ORDER BY id");
  CHECK(resets.size() == 2);
  for (const auto& r : resets) CHECK(r[1] == "1");
  auto aborted = QueryCampaign(campaign,
                               "SELECT state FROM job WHERE id = (SELECT job_id FROM experiment "
                               "WHERE request_id = ?)",
                               {request});
  CHECK(aborted[0][0] == "cancelled");
}

TEST_CASE("A stop an instrument does not confirm leaves its experiment running, and says so",
          "[integration][slow]") {
  // The synthesizer refuses STOP: its synthesis goes on, and must not be taken for aborted.
  Emulator synth({"--kind", "synthesizer", "--duration", "60", "--seed", "4", "--fault", "refuse",
                  "--fault-on", "STOP", "--fault-count", "0"});
  Emulator reader({"--kind", "plate_reader", "--duration", "0.2", "--seed", "5"});
  testing::TempDir dir;
  auto campaign = WriteCampaign(dir, synth.Address(), reader.Address(), "scpi");
  REQUIRE(RunCampaign(campaign));
  REQUIRE(ApproveCandidates(campaign, {}, true, "tester"));
  auto controller = std::async(std::launch::async, [&] { return RunLabloop({"run", campaign}); });
  const std::string request = RunningRequest(campaign);
  REQUIRE(!request.empty());
  auto stop = EmergencyStop(campaign, "tester", "drill");
  REQUIRE(stop);
  REQUIRE(stop->failures.size() == 1);
  CHECK(stop->failures[0].find("synth") != std::string::npos);
  CHECK(stop->instruments_stopped == 1);
  CHECK(stop->experiments_unconfirmed >= 1);
  auto ended = controller.get();
  INFO(ended.output);
  CHECK(ended.exit_code == 0);
  // Still running on the instrument, and so in the campaign file.
  instruments::TransportOptions t;
  t.address = synth.Address();
  auto line = instruments::OpenTransport(t);
  CHECK(*(*line)->Exchange("STAT? " + request) == "RUNNING");
  auto state =
      QueryCampaign(campaign, "SELECT state FROM experiment WHERE request_id = ?", {request});
  CHECK(state[0][0] == "running");
}

TEST_CASE("A step's timeout counts from when it was sent, across controller restarts",
          "[integration][slow]") {
  Emulator synth({"--kind", "synthesizer", "--duration", "60", "--seed", "4"});
  Emulator reader({"--kind", "plate_reader", "--duration", "0.2", "--seed", "5"});
  testing::TempDir dir;
  auto campaign = WriteCampaign(dir, synth.Address(), reader.Address(), "scpi", "timeout = 4.0\n");
  REQUIRE(RunCampaign(campaign));
  REQUIRE(ApproveCandidates(campaign, {}, true, "tester"));
  // Killed 2 s in, with a synthesis out on the (slow) synthesizer.
  auto first = RunLabloop({"run", campaign}, {}, 2.0);
  REQUIRE(first.signal == SIGKILL);
  auto out =
      QueryCampaign(campaign, "SELECT id FROM experiment WHERE state IN ('sent', 'running')");
  REQUIRE_FALSE(out.empty());
  std::this_thread::sleep_for(std::chrono::seconds(3));
  // More than 4 s since it was sent: the restarted controller times it out at its first look,
  // not 4 s after its own start.
  auto second = RunLabloop({"run", campaign}, {}, 2.0);
  INFO(second.output);
  auto failed =
      QueryCampaign(campaign, "SELECT state, error FROM experiment WHERE id = ?", {out[0][0]});
  CHECK(failed[0][0] == "failed");
  CHECK(failed[0][1].rfind("timed out after 4", 0) == 0);
}

TEST_CASE("The instruments' state: steps per instrument, and who answers when asked",
          "[integration]") {
  Emulator synth({"--kind", "synthesizer", "--duration", "0.1", "--seed", "4"});
  testing::TempDir dir;
  // The reader's address has nobody listening.
  auto campaign = WriteCampaign(dir, synth.Address(), "127.0.0.1:1", "scpi");
  auto quiet = InstrumentsJson(campaign, /*probe=*/false);
  REQUIRE(quiet);
  auto j = nlohmann::json::parse(*quiet);
  CHECK(j["emergency_stop"] == false);
  REQUIRE(j["instruments"].size() == 2);
  std::map<std::string, nlohmann::json> by_name;
  for (const auto& i : j["instruments"]) by_name[i["name"]] = i;
  CHECK(by_name["synth"]["roles"] == nlohmann::json::array({"synthesizer"}));
  CHECK(by_name["reader"]["roles"] == nlohmann::json::array({"reader"}));
  CHECK(by_name["synth"]["steps_out"] == 0);
  CHECK_FALSE(by_name["synth"].contains("reachable"));
  auto t0 = std::chrono::steady_clock::now();
  auto probed = InstrumentsJson(campaign, /*probe=*/true, 0.5);
  REQUIRE(probed);
  CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 3.0);
  const auto answers = nlohmann::json::parse(*probed);
  for (const auto& i : answers["instruments"]) by_name[i["name"]] = i;
  CHECK(by_name["synth"]["reachable"] == true);
  CHECK(by_name["synth"]["identity"].get<std::string>().find("SYNTHESIZER") != std::string::npos);
  CHECK(by_name["reader"]["reachable"] == false);
  CHECK(by_name["reader"]["error"].get<std::string>().find("127.0.0.1:1") != std::string::npos);
}

TEST_CASE("Flagged fits and unsafe requests never become measurements", "[integration][slow]") {
  SECTION("a noisy assay: fits flagged for review") {
    Emulator synth({"--kind", "synthesizer", "--duration", "0.1"});
    Emulator reader({"--kind", "plate_reader", "--duration", "0.1", "--noise", "80"});
    testing::TempDir dir;
    auto campaign = WriteCampaign(dir, synth.Address(), reader.Address(), "scpi");
    RunApprovingAll(campaign);
    // The noise is drawn afresh each run (request ids are random), so now and then a curve still
    // fits well enough to pass; what must hold is that no flagged fit becomes a measurement.
    auto flagged = QueryCampaign(campaign, "SELECT COUNT(*) FROM event WHERE kind = 'fit_flagged'");
    CHECK(std::stoi(flagged[0][0]) >= 1);
    auto failed = QueryCampaign(campaign,
                                "SELECT COUNT(*) FROM job WHERE kind = 'experiment' AND "
                                "state = 'failed' AND error LIKE '%flagged for review%'");
    CHECK(failed[0][0] == flagged[0][0]);  // one failed job a flagged fit
    auto leaked = QueryCampaign(campaign,
                                "SELECT COUNT(*) FROM measurement m JOIN job j ON j.id = m.job_id "
                                "WHERE m.fidelity = 'experiment' AND j.state <> 'done'");
    CHECK(leaked[0][0] == "0");
  }
  SECTION("a dilution series beyond the reader's limits: refused before sending") {
    Emulator synth({"--kind", "synthesizer", "--duration", "0.1"});
    Emulator reader({"--kind", "plate_reader", "--duration", "0.1"});
    testing::TempDir dir;
    // A top concentration of 10 mM, above the reader's 1 mM.
    auto unsafe =
        WriteCampaign(dir, synth.Address(), reader.Address(), "scpi", "top_concentration = 0.01\n");
    RunApprovingAll(unsafe);
    auto refused = QueryCampaign(unsafe,
                                 "SELECT e.request_id, e.error FROM experiment e WHERE e.kind = "
                                 "'assay' AND e.state = 'failed'");
    REQUIRE(!refused.empty());
    for (const auto& r : refused) {
      CHECK(r[1].find("safety check: top concentration") != std::string::npos);
      CHECK(Starts(reader.Address(), r[0]) == 0);  // never sent
    }
  }
}
