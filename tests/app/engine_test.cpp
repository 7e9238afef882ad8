#include <catch2/catch.hpp>

#include <csignal>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "app/engine/campaign_config.h"
#include "app/engine/engine.h"
#include "app/engine/proposals.h"
#include "core/chem/descriptors.h"
#include "core/chem/fingerprint.h"
#include "core/chem/reader.h"
#include "db/campaign_db.h"
#include "learners/objectives.h"
#include "tests/app/fixtures.h"
#include "tests/support/temp_dir.h"

using namespace labloop;
using namespace labloop::engine;

namespace {
// The fixture config with its [model] table (up to [acquisition]) replaced by `tables`.
std::string WithModelTable(const std::string& config, const std::string& tables) {
  return config.substr(0, config.find("[model]")) + tables +
         config.substr(config.find("[acquisition]"));
}
}  // namespace

TEST_CASE("A retrospective campaign runs to its budget then resumes as finished", "[integration]") {
  testing::TempDir dir;
  std::string campaign = dir.File("esol.labloop");
  REQUIRE(InitCampaignFromText(campaign, testing::EsolConfig(40), "esol.toml", dir.path()));
  auto summary = RunCampaign(campaign);
  REQUIRE(summary);
  CHECK(summary->rounds_run == 4);
  CHECK(summary->evaluations == 40);
  CHECK(summary->stop_reason == "budget spent");

  auto again = RunCampaign(campaign);
  REQUIRE(again);
  CHECK(again->rounds_run == 0);
  CHECK(again->stop_reason == "budget spent");

  auto status = GetStatus(campaign);
  REQUIRE(status);
  CHECK(status->summary.round == 3);
  CHECK(status->summary.candidates == 150);
  CHECK(status->summary.measurements == 40);
  CHECK(status->summary.evaluations_spent == 40);
  CHECK(status->summary.jobs.at("done") == 40);
  REQUIRE(status->best);
  for (const auto& t : status->top) CHECK(t.value <= status->best->value);

  // Model-guided rounds beat the random first round on this objective (maximize logS).
  auto db = db::CampaignDb::Open(campaign, db::OpenMode::kReadOnly);
  auto measurements = (*db)->ListMeasurements("logS");
  double first = 0, later = 0;
  for (const auto& m : *measurements) (m.round == 0 ? first : later) += m.value;
  CHECK(later / 30.0 > first / 10.0);
}

TEST_CASE("run --rounds stops early and a later run continues", "[integration]") {
  testing::TempDir dir;
  std::string campaign = dir.File("esol.labloop");
  REQUIRE(InitCampaignFromText(campaign, testing::EsolConfig(30), "esol.toml", dir.path()));
  RunOptions one;
  one.max_rounds = 1;
  auto first = RunCampaign(campaign, one);
  REQUIRE(first);
  CHECK(first->rounds_run == 1);
  CHECK(first->stop_reason == "round limit of this run");
  auto rest = RunCampaign(campaign);
  REQUIRE(rest);
  CHECK(rest->rounds_run == 2);
  CHECK(GetStatus(campaign)->summary.measurements == 30);
}

TEST_CASE("Status JSON has the documented fields", "[integration]") {
  testing::TempDir dir;
  std::string campaign = dir.File("esol.labloop");
  REQUIRE(InitCampaignFromText(campaign, testing::EsolConfig(20), "esol.toml", dir.path()));
  REQUIRE(RunCampaign(campaign));
  auto json = StatusJson(*GetStatus(campaign));
  for (const char* field : {"\"round\"", "\"candidates\"", "\"measurements\"", "\"jobs\"",
                            "\"queued\"", "\"running\"", "\"done\"", "\"failed\"", "\"budget\"",
                            "\"spent\"", "\"total\"", "\"best\"", "\"smiles\"", "\"value\""}) {
    CHECK(json.find(field) != std::string::npos);
  }
  auto table = StatusTable(*GetStatus(campaign));
  CHECK(table.find("budget       20 / 20 evaluations") != std::string::npos);
}

TEST_CASE("Export writes one row per candidate with predictions and measurements",
          "[integration]") {
  testing::TempDir dir;
  std::string campaign = dir.File("esol.labloop");
  REQUIRE(InitCampaignFromText(campaign, testing::EsolConfig(20), "esol.toml", dir.path()));
  REQUIRE(RunCampaign(campaign));
  auto rows = ExportCampaign(campaign, ExportFormat::kCsv, dir.File("out.csv"));
  REQUIRE(rows);
  CHECK(*rows == 150);
  std::ifstream in(dir.File("out.csv"));
  std::string header;
  std::getline(in, header);
  CHECK(header ==
        "candidate_id,smiles,inchikey,source,source_id,mean,sigma,sigma_epistemic,"
        "sigma_aleatoric,model_id,decision_round,route,acquisition_value,job_state,job_error,"
        "logS,logS_job_id,logS_round");
  // The export reads back as a molecule file: every row's SMILES parses.
  auto back = chem::ReadMoleculeFile(dir.File("out.csv"));
  REQUIRE(back);
  CHECK(back->records.size() == 150);
  int measured = 0;
  for (const auto& r : back->records) {
    for (const auto& [k, v] : r.properties) measured += k == "logS" && !v.empty();
  }
  CHECK(measured == 20);

  auto sdf = ExportCampaign(campaign, ExportFormat::kSdf, dir.File("out.sdf"));
  REQUIRE(sdf);
  auto sdf_back = chem::ReadMoleculeFile(dir.File("out.sdf"));
  REQUIRE(sdf_back);
  CHECK(sdf_back->records.size() == 150);
  CHECK(sdf_back->rejected.empty());
}

TEST_CASE("A real xtb campaign on QM9 molecules", "[integration]") {
  testing::TempDir dir;
  dir.Write("pool.smi", testing::DemoPoolHead(60));
  std::string config =
      "[library]\nfiles = [\"pool.smi\"]\n[objective]\nproperty = \"gap\"\n"
      "direction = \"minimize\"\n[model]\nmembers = 3\nhidden = 32\nepochs = 10\nmin_steps = 50\n"
      "[simulator]\nkind = \"xtb\"\nthreads = 2\n[budget]\nbatch_size = 8\nmax_evaluations = 16\n";
  std::string campaign = dir.File("gap.labloop");
  REQUIRE(InitCampaignFromText(campaign, config, "gap.toml", dir.path()));
  auto run = RunCampaign(campaign);
  REQUIRE(run);
  auto status = GetStatus(campaign);
  CHECK(status->summary.evaluations_spent == 16);
  CHECK(status->summary.jobs.at("done") + status->summary.jobs.at("failed") == 16);
  // Each successful xtb job stores energy, gap and dipole.
  CHECK(status->summary.measurements == 3 * status->summary.jobs.at("done"));
  REQUIRE(status->best);
  CHECK(status->best->value > 0.0);
  CHECK(status->best->value < 20.0);
}

TEST_CASE("A campaign whose init did not finish is refused with advice", "[integration]") {
  testing::TempDir dir;
  std::string campaign = dir.File("half.labloop");
  {
    // What a SIGKILL in the middle of init leaves: the campaign row, not the ready mark.
    auto db = db::CampaignDb::Open(campaign, db::OpenMode::kCreate);
    REQUIRE(db);
    REQUIRE((*db)->CreateCampaign({"half", "", "", "", false}));
  }
  auto run = RunCampaign(campaign);
  REQUIRE_FALSE(run);
  CHECK(run.error().code == ErrorCode::kFailedPrecondition);
  CHECK(run.error().message.find("was not completely created") != std::string::npos);
}

TEST_CASE("A model the machine cannot run is refused at init, not rounds later", "[integration]") {
  testing::TempDir dir;
  std::string config = testing::EsolConfig(20);
  config.replace(config.find("threads = 1\n"), 12, "threads = 1\ndevice = \"cuda:7\"\n");
  auto init = InitCampaignFromText(dir.File("gpu.labloop"), config, "gpu.toml", dir.path());
  REQUIRE_FALSE(init);
  CHECK(init.error().message.find("gpu.toml: model: device 'cuda:7'") == 0);
}

namespace {
// EsolConfig with `extra` appended (TOML tables after the fixture's own).
std::string EsolWith(int budget, const std::string& extra) {
  return testing::EsolConfig(budget) + extra;
}
}  // namespace

TEST_CASE("A target value stops the campaign once it is reached", "[integration]") {
  testing::TempDir dir;
  std::string campaign = dir.File("esol.labloop");
  // Maximizing logS: any measured value is at least -100, so round 0 reaches it.
  REQUIRE(InitCampaignFromText(campaign, EsolWith(60, "[stop]\ntarget = -100.0\n"), "esol.toml",
                               dir.path()));
  auto summary = RunCampaign(campaign);
  REQUIRE(summary);
  CHECK(summary->rounds_run == 1);
  CHECK(summary->stop_reason.rfind("target reached: logS = ", 0) == 0);
}

TEST_CASE("No improvement for N rounds stops the campaign", "[integration]") {
  testing::TempDir dir;
  std::string campaign = dir.File("esol.labloop");
  REQUIRE(InitCampaignFromText(campaign, EsolWith(150, "[stop]\nno_improvement_rounds = 2\n"),
                               "esol.toml", dir.path()));
  auto summary = RunCampaign(campaign);
  REQUIRE(summary);
  INFO(summary->stop_reason);
  REQUIRE(summary->stop_reason.rfind("no improvement for 2 rounds", 0) == 0);
  // Justified by the data: the last two rounds found nothing better than the rounds before.
  auto db = db::CampaignDb::Open(campaign, db::OpenMode::kReadOnly);
  auto measurements = (*db)->ListMeasurements("logS");
  int last = 0;
  for (const auto& m : *measurements) last = std::max(last, m.round);
  double before = -1e300, recent = -1e300;
  for (const auto& m : *measurements) {
    (m.round <= last - 2 ? before : recent) =
        std::max(m.round <= last - 2 ? before : recent, m.value);
  }
  CHECK(recent <= before);
  CHECK(summary->rounds_run == last + 1);
  CHECK(summary->evaluations < 150);
}

TEST_CASE("Every acquisition function runs a campaign - a diverse batch keeps picks apart",
          "[integration]") {
  for (const std::string kind : {"greedy", "ucb", "ei", "pi", "thompson", "threshold", "random"}) {
    DYNAMIC_SECTION(kind) {
      testing::TempDir dir;
      std::string campaign = dir.File("esol.labloop");
      std::string extra =
          "kind = \"" + kind + "\"\nthreshold = -2.0\nbatch = \"diverse\"\nmax_similarity = 0.4\n";
      std::string text = testing::EsolConfig(30);
      text.replace(text.find("kind = \"ucb\"\n"), 13, extra);
      REQUIRE(InitCampaignFromText(campaign, text, "esol.toml", dir.path()));
      auto summary = RunCampaign(campaign);
      REQUIRE(summary);
      CHECK(summary->evaluations == 30);
      auto db = db::CampaignDb::Open(campaign, db::OpenMode::kReadOnly);
      auto jobs = (*db)->ListJobs({});
      REQUIRE(jobs);
      // Within each model-guided round, no two picks are more similar than max_similarity.
      chem::MorganOptions fp{2, 2048, true, false};
      for (size_t a = 0; a < jobs->size(); ++a) {
        for (size_t b = a + 1; b < jobs->size(); ++b) {
          const auto& ja = (*jobs)[a];
          const auto& jb = (*jobs)[b];
          if (ja.round == 0 || ja.round != jb.round) continue;
          auto ma = chem::Molecule::FromSmiles(ja.smiles);
          auto mb = chem::Molecule::FromSmiles(jb.smiles);
          REQUIRE((ma && mb));
          INFO(ja.smiles << " " << jb.smiles);
          CHECK(chem::TanimotoCounts(chem::MorganFingerprint(*ma, fp),
                                     chem::MorganFingerprint(*mb, fp)) <= 0.4 + 1e-9);
        }
      }
    }
  }
}

namespace {
// (route, sigma) of every decision of the model-guided rounds.
std::vector<std::pair<std::string, double>> RoutedDecisions(const std::string& path) {
  std::vector<std::pair<std::string, double>> rows;
  for (const auto& r : testing::QueryCampaign(
           path, "SELECT route, sigma FROM decision WHERE round > 0 ORDER BY id")) {
    rows.emplace_back(r[0], r[1].empty() ? 0.0 : std::stod(r[1]));
  }
  return rows;
}
}  // namespace

TEST_CASE("The router trusts confident predictions and simulates the rest", "[integration]") {
  testing::TempDir dir;
  SECTION("a threshold every prediction meets: nothing is simulated after round 0") {
    std::string campaign = dir.File("all.labloop");
    REQUIRE(InitCampaignFromText(campaign, EsolWith(40, "[router]\ntrust_sigma = 1000.0\n"),
                                 "esol.toml", dir.path()));
    auto summary = RunCampaign(campaign);
    REQUIRE(summary);
    CHECK(summary->evaluations == 10);  // the random round 0 only
    CHECK(summary->stop_reason == "pool exhausted");
    auto decisions = RoutedDecisions(campaign);
    CHECK(decisions.size() == 140);
    for (const auto& [route, sigma] : decisions) CHECK(route == "trust");
  }
  SECTION("a threshold in between: trusted below it, simulated above it, batches stay full") {
    std::string campaign = dir.File("some.labloop");
    REQUIRE(InitCampaignFromText(campaign, EsolWith(40, "[router]\ntrust_sigma = 0.9\n"),
                                 "esol.toml", dir.path()));
    auto summary = RunCampaign(campaign);
    REQUIRE(summary);
    CHECK(summary->evaluations == 40);
    int simulated = 0;
    for (const auto& [route, sigma] : RoutedDecisions(campaign)) {
      if (route == "trust") CHECK(sigma <= 0.9);
      if (route == "simulate") {
        CHECK(sigma > 0.9);
        ++simulated;
      }
    }
    CHECK(simulated == 30);
  }
}

namespace {
// ESOL with molecular weight as a second measured property (tests/data/esol150_two.csv, MolWt
// by RDKit): maximize both solubility and size, which pull against each other.
std::string TwoObjectiveConfig(const std::string& acquisition) {
  std::string data = LABLOOP_TEST_DATA;
  return "[campaign]\nname = \"two\"\nseed = 5\n[library]\nfiles = [\"" + data +
         "/esol150_two.csv\"]\n[objective]\nproperty = \"logS\"\ndirection = \"maximize\"\n"
         "others = [\"mw\"]\nother_directions = [\"maximize\"]\n"
         "worst = [-8.0, 50.0]\nbest = [1.0, 400.0]\n"
         "[model]\nkind = \"tanimoto_gp\"\n[acquisition]\nkind = \"" +
         acquisition + "\"\n[simulator]\nkind = \"lookup\"\ntable = \"" + data +
         "/esol150_two.csv\"\nvalue_column = \"logS\"\n"
         "[budget]\ninitial_batch = 10\nbatch_size = 10\nmax_evaluations = 40\n";
}

double MeasuredHypervolume(const std::string& campaign) {
  auto db = db::CampaignDb::Open(campaign, db::OpenMode::kReadOnly);
  std::map<int64_t, std::vector<double>> values;
  auto logS_rows = (*db)->ListMeasurements("logS");
  REQUIRE(logS_rows);
  for (const auto& m : *logS_rows) values[m.candidate_id].push_back(m.value);
  auto mw_rows = (*db)->ListMeasurements("mw");
  REQUIRE(mw_rows);
  for (const auto& m : *mw_rows) values[m.candidate_id].push_back(m.value);
  std::vector<std::vector<double>> points;
  for (const auto& [id, v] : values) {
    if (v.size() == 2) points.push_back(v);
  }
  std::vector<learners::Objective> objectives(2);
  objectives[0].property = "logS";
  objectives[1].property = "mw";
  for (auto& o : objectives) o.direction = learners::Direction::kMaximize;
  return learners::Hypervolume(points, {-12.0, 0.0}, objectives);
}
}  // namespace

TEST_CASE("Two objectives: one model each - EHVI and desirability beat random on hypervolume",
          "[integration]") {
  testing::TempDir dir;
  std::map<std::string, double> hypervolume;
  for (const std::string kind : {"ehvi", "desirability", "random"}) {
    std::string campaign = dir.File(kind + ".labloop");
    auto created = InitCampaignFromText(campaign, TwoObjectiveConfig(kind), "two.toml", dir.path());
    INFO((created ? "" : created.error().message));
    REQUIRE(created);
    auto summary = RunCampaign(campaign);
    REQUIRE(summary);
    CHECK(summary->evaluations == 40);
    auto db = db::CampaignDb::Open(campaign, db::OpenMode::kReadOnly);
    CHECK((*db)->ListMeasurements("logS")->size() == 40);
    CHECK((*db)->ListMeasurements("mw")->size() == 40);
    if (kind != "random") {
      // Rounds 1-3 each trained a model per objective, the primary's last.
      auto last = (*db)->GetModel(6);
      REQUIRE(last);
      CHECK(last->property == "logS");
      CHECK((*db)->GetModel(5)->property == "mw");
    }
    hypervolume[kind] = MeasuredHypervolume(campaign);
  }
  INFO("ehvi " << hypervolume["ehvi"] << ", desirability " << hypervolume["desirability"]
               << ", random " << hypervolume["random"]);
  CHECK(hypervolume["ehvi"] > hypervolume["random"]);
  CHECK(hypervolume["desirability"] > hypervolume["random"]);
}

TEST_CASE("Constraints on descriptors reject picks - with the reason - in every round",
          "[integration]") {
  testing::TempDir dir;
  std::string campaign = dir.File("light.labloop");
  REQUIRE(InitCampaignFromText(campaign, EsolWith(40, "[constraints.mol_wt]\nmax = 150.0\n"),
                               "esol.toml", dir.path()));
  auto summary = RunCampaign(campaign);
  REQUIRE(summary);
  CHECK(summary->evaluations == 40);
  auto db = db::CampaignDb::Open(campaign, db::OpenMode::kReadOnly);
  // Nothing heavier than 150 was evaluated.
  auto jobs = (*db)->ListJobs({});
  REQUIRE(jobs->size() == 40);
  for (const auto& j : *jobs) {
    auto molecule = chem::Molecule::FromSmiles(j.smiles);
    REQUIRE(molecule);
    CHECK(chem::ComputeDescriptors(*molecule)[0] <= 150.0);  // mol_wt
  }
  // Heavier picks were rejected and are never proposed again.
  auto rejected = (*db)->CandidatesWithRoute("reject");
  REQUIRE(rejected);
  CHECK_FALSE(rejected->empty());
  std::set<int64_t> unique(rejected->begin(), rejected->end());
  CHECK(unique.size() == rejected->size());
  // Each rejection says which constraint failed, and by how much.
  int with_reason = 0;
  for (const auto& r :
       testing::QueryCampaign(campaign, "SELECT reasons FROM decision WHERE route = 'reject'")) {
    INFO(r[0]);
    CHECK(r[0].find("fails a constraint: mol_wt = ") != std::string::npos);
    CHECK(r[0].find(" > 150") != std::string::npos);
    ++with_reason;
  }
  CHECK(with_reason == static_cast<int>(rejected->size()));
}

TEST_CASE("A campaign with a D-MPNN on graphs and descriptor features", "[integration]") {
  // The D-MPNN alone, and mixed with the Tanimoto GP (which reads the fingerprints beside them).
  for (const std::string kind : {"dmpnn", "gp_dmpnn"}) {
    DYNAMIC_SECTION(kind) {
      testing::TempDir dir;
      // A small D-MPNN with early stopping, and descriptors beside the graphs.
      std::string config =
          WithModelTable(testing::EsolConfig(30),
                         "[model]\nkind = \"" + kind +
                             "\"\nmembers = 2\nhidden = 32\n"
                             "epochs = 30\ndepth = 3\nearly_stopping = 0.2\n"
                             "patience = 5\nthreads = 1\n"
                             // Generated molecules get the same features as the pool's.
                             "[generators.ga]\nkind = \"graph_ga\"\nper_round = 5\n"
                             "population = 20\ngenerations = 2\n"
                             "[features]\ndescriptors = 1.0\n" +
                             // The mixture's GP reads RDKit's 2D set and its D-MPNN the basic
                             // one; the D-MPNN alone reads RDKit's 2D set beside its graphs.
                             (kind == "gp_dmpnn" ? "descriptor_set = \"rdkit2d\"\n"
                                                 : "graph_descriptor_set = \"rdkit2d\"\n"));
      std::string campaign = dir.File(kind + ".labloop");
      REQUIRE(InitCampaignFromText(campaign, config, kind + ".toml", dir.path()));
      auto summary = RunCampaign(campaign);
      INFO((summary ? "" : summary.error().message));
      REQUIRE(summary);
      CHECK(summary->evaluations == 30);
      auto models = testing::QueryCampaign(campaign, "SELECT kind, metrics FROM model ORDER BY id");
      REQUIRE(models.size() == 2);  // rounds 1 and 2 (round 0 is random)
      for (const auto& m : models) {
        CHECK(m[0] == kind);
        CHECK(m[1].find("\"early_stopping\"") != std::string::npos);
        if (kind == "gp_dmpnn") CHECK(m[1].find("\"tanimoto_gp\"") != std::string::npos);
      }
      // Every pool molecule got a prediction from each model.
      auto predicted = testing::QueryCampaign(
          campaign,
          "SELECT count(*) FROM prediction p JOIN candidate c ON c.id = p.candidate_id WHERE "
          "p.model_id = (SELECT max(id) FROM model) AND c.source NOT LIKE 'generator:%'");
      // (the library candidates not picked before the last model's round)
      auto unmeasured = testing::QueryCampaign(
          campaign,
          "SELECT count(*) FROM candidate c WHERE c.source NOT LIKE 'generator:%' AND c.id NOT "
          "IN (SELECT candidate_id FROM decision WHERE round < (SELECT max(round) FROM model))");
      CHECK(std::stoi(unmeasured[0][0]) >= 150 - 20);
      CHECK(predicted[0][0] == unmeasured[0][0]);
      // And every generated one by the model of the round that made it.
      auto generated = testing::QueryCampaign(
          campaign, "SELECT count(*) FROM candidate WHERE source LIKE 'generator:%'");
      CHECK(std::stoi(generated[0][0]) > 0);
      auto unpredicted = testing::QueryCampaign(
          campaign,
          "SELECT c.id FROM candidate c WHERE c.source LIKE 'generator:%' AND NOT EXISTS "
          "(SELECT 1 FROM prediction p JOIN model m ON m.id = p.model_id WHERE p.candidate_id = "
          "c.id AND m.round = c.round_added)");
      CHECK(unpredicted.empty());
    }
  }
}

TEST_CASE("Each round's model is calibrated on held-out measurements, stored with it",
          "[integration]") {
  testing::TempDir dir;
  std::string config = WithModelTable(testing::EsolConfig(40),
                                      "[model]\nkind = \"tanimoto_gp\"\ncalibration = "
                                      "\"isotonic\"\ncalibration_fraction = 0.2\n");
  std::string campaign = dir.File("calibrated.labloop");
  REQUIRE(InitCampaignFromText(campaign, config, "calibrated.toml", dir.path()));
  REQUIRE(RunCampaign(campaign));
  auto models = testing::QueryCampaign(
      campaign,
      "SELECT training_size, json_extract(metrics, '$.calibration.kind'), "
      "json_extract(metrics, '$.calibration.held_out'), "
      "json_extract(metrics, '$.calibration.reason') FROM model ORDER BY id");
  REQUIRE(models.size() == 3);
  CHECK(models[0][0] == "10");  // 2 held out would be too few: not calibrated, and says why
  CHECK(models[0][1] == "none");
  CHECK(models[0][3].find("too few measurements") != std::string::npos);
  CHECK(models[2][0] == "30");
  CHECK(models[2][1] == "isotonic");
  CHECK(models[2][2] == "6");
  auto state = testing::QueryCampaign(
      campaign, "SELECT json_type(metrics, '$.calibration.state') FROM model ORDER BY id DESC");
  CHECK(state[0][0] == "object");
}

TEST_CASE("calibration_folds: every measurement calibrates, each predicted by a model without it",
          "[integration]") {
  testing::TempDir dir;
  std::string config = WithModelTable(testing::EsolConfig(40),
                                      "[model]\nkind = \"tanimoto_gp\"\ncalibration = "
                                      "\"isotonic\"\ncalibration_folds = 5\n");
  std::string campaign = dir.File("folds.labloop");
  REQUIRE(InitCampaignFromText(campaign, config, "folds.toml", dir.path()));
  REQUIRE(RunCampaign(campaign));
  auto models = testing::QueryCampaign(
      campaign,
      "SELECT training_size, json_extract(metrics, '$.calibration.kind'), "
      "json_extract(metrics, '$.calibration.held_out'), "
      "json_extract(metrics, '$.calibration.fitted_on'), "
      "json_extract(metrics, '$.calibration.cross_fit_folds') FROM model ORDER BY id");
  REQUIRE(models.size() == 3);
  // Ten measurements are enough now (a held-out fifth of them, 2, was not). The GP calibrates
  // on its round model's own leave-one-out predictions: no fold models.
  for (const auto& m : models) {
    CHECK(m[1] == "isotonic");
    CHECK(m[2] == m[0]);
    CHECK(m[3] == "leave_one_out");
    CHECK(m[4] == "");
  }
  CHECK(models[2][0] == "30");

  // A network has no leave-one-out predictions: K fold models predict the rows.
  std::string ensemble = dir.File("ensemble.labloop");
  REQUIRE(InitCampaignFromText(
      ensemble,
      WithModelTable(testing::EsolConfig(20),
                     "[model]\nkind = \"deep_ensemble\"\nmembers = 2\nhidden = 16\n"
                     "epochs = 5\nmin_steps = 20\ncalibration = \"sigma_scaling\"\n"
                     "calibration_folds = 3\n"),
      "ensemble.toml", dir.path()));
  REQUIRE(RunCampaign(ensemble));
  auto cross = testing::QueryCampaign(
      ensemble,
      "SELECT training_size, json_extract(metrics, '$.calibration.held_out'), "
      "json_extract(metrics, '$.calibration.fitted_on'), "
      "json_extract(metrics, '$.calibration.cross_fit_folds') FROM model ORDER BY id");
  REQUIRE_FALSE(cross.empty());
  for (const auto& m : cross) {
    CHECK(m[1] == m[0]);
    CHECK(m[2] == "cross_fit");
    CHECK(m[3] == "3");
  }

  auto bad = InitCampaignFromText(
      dir.File("bad.labloop"),
      WithModelTable(testing::EsolConfig(40), "[model]\ncalibration_folds = 1\n"), "bad.toml",
      dir.path());
  REQUIRE_FALSE(bad);
  CHECK(
      bad.error().message.find("model.calibration_folds must be 0 (a held-out share) or 2 to 20") !=
      std::string::npos);
}

TEST_CASE("The novelty filter reads its known-molecules file again once it changes",
          "[integration]") {
  testing::TempDir dir;
  const std::string pool = dir.Write("pool.smi", "CCO\nc1ccccc1O\nCCN\n");
  const std::string known = dir.Write("known.smi", "CCO\n");
  auto text = Config::FromString(
      "[library]\nfiles = [\"pool.smi\"]\n[objective]\nproperty = \"gap\"\n"
      "direction = \"minimize\"\n[simulator]\nkind = \"xtb\"\n"
      "[generators.p]\nkind = \"pool\"\npool = \"pool.smi\"\nper_round = 3\n"
      "[filters]\nknown = \"known.smi\"\n",
      "novel.toml");
  REQUIRE(text);
  auto config = ParseCampaignConfig(*text, dir.path());
  REQUIRE(config);
  generators::Fitness zero = [](const std::vector<std::string>& smiles) {
    return Result<std::vector<double>>(std::vector<double>(smiles.size(), 0.0));
  };
  auto rejected_smiles = [&] {
    auto proposed = ProposeForRound(*config, 1, zero, {});
    REQUIRE(proposed);
    std::set<std::string> out;
    for (const auto& r : proposed->rejected) out.insert(r.input);
    return out;
  };
  CHECK(rejected_smiles() == std::set<std::string>{"CCO"});
  // Edited (a second later: file times have a coarse grain on some file systems).
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  dir.Write("known.smi", "CCN\n");
  CHECK(rejected_smiles() == std::set<std::string>{"CCN"});
}

TEST_CASE("Generators go on once the library is all measured - smiles_lm with steps = 0 samples",
          "[integration]") {
  using testing::QueryCampaign;
  using testing::RunLabloop;
  testing::TempDir dir;
  std::ifstream zinc(std::string(LABLOOP_SHARED_DATA) + "/generative/zinc_first_1000.smi");
  std::string line, pool;
  for (int i = 0; i < 10 && std::getline(zinc, line); ++i) pool += line + "\n";
  dir.Write("pool.smi", pool);
  // 10 library molecules, 10 measured in round 0: rounds 1 and 2 have only generated ones.
  dir.Write("gen.toml",
            "[campaign]\nseed = 7\n[library]\nfiles = [\"pool.smi\"]\n"
            "[objective]\nproperty = \"gap\"\ndirection = \"minimize\"\n"
            "[model]\nkind = \"tanimoto_gp\"\n"
            "[simulator]\nkind = \"xtb\"\nthreads = 2\n"
            "[budget]\ninitial_batch = 10\nbatch_size = 4\nmax_evaluations = 18\n"
            "[generators.ga]\nkind = \"graph_ga\"\nper_round = 8\npopulation = 10\n"
            "generations = 2\n"
            "[generators.lm]\nkind = \"smiles_lm\"\nper_round = 8\nsteps = 0\n");
  const std::string campaign = dir.File("gen.labloop");
  REQUIRE(RunLabloop({"init", campaign, "--config", dir.File("gen.toml")}).exit_code == 0);
  auto run = RunLabloop({"run", campaign});
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  CHECK(run.output.find("budget spent") != std::string::npos);
  // In round 1 no library molecule was left unmeasured: graph_ga started from measured ones.
  auto ga = QueryCampaign(campaign,
                          "SELECT count(*) FROM candidate WHERE source = 'generator:ga' AND "
                          "round_added = 1");
  CHECK(std::stoi(ga[0][0]) > 0);
  auto lm = QueryCampaign(campaign, "SELECT count(*) FROM candidate WHERE source = 'generator:lm'");
  CHECK(std::stoi(lm[0][0]) > 0);
  auto measured = QueryCampaign(campaign, "SELECT count(DISTINCT candidate_id) FROM measurement");
  CHECK(measured[0][0] == "18");
}

TEST_CASE(
    "Generators in the loop: filtered, predicted, acquired - a crash after generating resumes",
    "[integration]") {
  using testing::QueryCampaign;
  using testing::RunLabloop;
  testing::TempDir dir;
  std::ifstream zinc(std::string(LABLOOP_SHARED_DATA) + "/generative/zinc_first_1000.smi");
  std::string line, pool;
  for (int i = 0; i < 60 && std::getline(zinc, line); ++i) pool += line + "\n";
  dir.Write("pool.smi", pool);
  const std::string config =
      "[campaign]\nseed = 5\n[library]\nfiles = [\"pool.smi\"]\n"
      "[objective]\nproperty = \"gap\"\ndirection = \"minimize\"\n"
      "[model]\nmembers = 3\nhidden = 32\nepochs = 10\nmin_steps = 50\n"
      "[simulator]\nkind = \"xtb\"\nthreads = 2\n"
      "[budget]\ninitial_batch = 8\nbatch_size = 6\nmax_evaluations = 20\n"
      "[generators.ga]\nkind = \"graph_ga\"\nper_round = 10\npopulation = 20\ngenerations = 3\n"
      "[generators.rx]\nkind = \"reactions\"\nper_round = 10\n"
      "[generators.lm]\nkind = \"smiles_lm\"\nper_round = 10\nsteps = 3\nbatch_size = 16\n"
      "grammar = false\n"
      "[filters]\nlipinski = true\nmax_sa = 5.0\n";
  dir.Write("gen.toml", config);
  const std::string campaign = dir.File("gen.labloop");
  REQUIRE(RunLabloop({"init", campaign, "--config", dir.File("gen.toml")}).exit_code == 0);
  // Killed right after round 1's generated candidates are stored, then run to the end.
  auto crashed = RunLabloop({"run", campaign}, {"LABLOOP_CRASH_AT=generated"});
  INFO(crashed.output);
  REQUIRE(crashed.signal == SIGKILL);
  auto done = RunLabloop({"run", campaign});
  INFO(done.output);
  REQUIRE(done.exit_code == 0);

  auto generated = QueryCampaign(campaign,
                                 "SELECT c.id, c.source, c.source_id, c.round_added FROM candidate "
                                 "c WHERE c.source LIKE 'generator:%'");
  std::set<std::string> sources;
  for (const auto& row : generated) {
    sources.insert(row[1]);
    auto provenance = nlohmann::json::parse(row[2]);  // the generator's provenance, as JSON
    if (row[1] == "generator:rx") CHECK(provenance.contains("route"));
    if (row[1] == "generator:lm") {
      CHECK(provenance.contains("model"));
      // Off in the config, and still off after the restart read the stored config back.
      CHECK(provenance.at("grammar") == false);
    }
    if (row[1] == "generator:ga") CHECK(provenance.contains("generation"));
    CHECK(std::stoi(row[3]) >= 1);  // added in a model-guided round
  }
  CHECK(sources == std::set<std::string>{"generator:ga", "generator:lm", "generator:rx"});
  // Every generated candidate of a round is predicted by that round's model.
  auto unpredicted = QueryCampaign(
      campaign,
      "SELECT c.id FROM candidate c WHERE c.source LIKE 'generator:%' AND NOT EXISTS (SELECT 1 "
      "FROM prediction p JOIN model m ON m.id = p.model_id WHERE p.candidate_id = c.id AND "
      "m.round = c.round_added)");
  CHECK(unpredicted.empty());
  // Molecules that failed a filter are kept as rejected inputs with the reasons.
  auto rejected =
      QueryCampaign(campaign, "SELECT reason FROM rejected_input WHERE source LIKE 'generator:%'");
  for (const auto& row : rejected) CHECK(!row[0].empty());
  // Exactly once: one job per candidate, no molecule twice, the budget spent.
  auto jobs = QueryCampaign(campaign, "SELECT candidate_id FROM job");
  std::set<std::string> job_candidates;
  for (const auto& row : jobs) CHECK(job_candidates.insert(row[0]).second);
  CHECK(jobs.size() == 20);
  auto twice = QueryCampaign(campaign,
                             "SELECT inchikey FROM molecule GROUP BY inchikey HAVING COUNT(*) > 1");
  CHECK(twice.empty());
  // Generated candidates compete with the library for the batch.
  auto picked = QueryCampaign(campaign,
                              "SELECT COUNT(*) FROM decision d JOIN candidate c ON c.id = "
                              "d.candidate_id WHERE c.source LIKE 'generator:%'");
  CHECK(std::stoi(picked[0][0]) > 0);
  auto events = QueryCampaign(campaign,
                              "SELECT COUNT(*) FROM event WHERE kind = "
                              "'candidates_generated'");
  CHECK(std::stoi(events[0][0]) >= 2);
}
