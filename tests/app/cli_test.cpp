#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "learners/metrics.h"
#include "tests/app/fixtures.h"
#include "tests/support/temp_dir.h"

using namespace labloop::testing;

namespace {
bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}
}  // namespace

TEST_CASE("Every command has --help", "[integration]") {
  for (const char* command :
       {"init", "run", "status", "approve", "reject", "export", "demo", "bench", "model",
        "generate", "filter", "lm", "cancel", "estop", "resume", "serve", "token", "descriptors"}) {
    INFO(command);
    auto r = RunLabloop({command, "--help"});
    CHECK(r.exit_code == 0);
    CHECK(Contains(r.output, "Usage"));
  }
  for (const char* sub : {"add", "list", "revoke"}) {
    INFO(sub);
    CHECK(RunLabloop({"token", sub, "--help"}).exit_code == 0);
  }
  CHECK(RunLabloop({"bench", "browse", "--help"}).exit_code == 0);
  auto top = RunLabloop({"--help"});
  CHECK(top.exit_code == 0);
  CHECK(Contains(top.output, "init"));
  auto none = RunLabloop({});
  CHECK(none.exit_code != 0);
}

TEST_CASE("descriptors writes RDKit 2D descriptors beside the input's columns", "[integration]") {
  TempDir dir;
  const std::string input = dir.Write(
      "in.csv", "smiles,name\nCCO,ethanol\nc1ccccc1O,phenol\nC1CC,broken ring\nCC(=O)O,acetic\n");
  auto r = RunLabloop({"descriptors", "--data", input, "-o", dir.File("out.csv")});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(Contains(r.output, "in.csv:4"));  // the bad row, named by its line
  CHECK(Contains(r.output, "wrote 206 descriptors of 3 molecules"));

  std::ifstream in(dir.File("out.csv"));
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> fields;
    std::stringstream ss(line);
    for (std::string f; std::getline(ss, f, ',');) fields.push_back(f);
    rows.push_back(fields);
  }
  REQUIRE(rows.size() == 4);
  REQUIRE(rows[0].size() == 2 + 206);
  CHECK(rows[0][0] == "smiles");
  CHECK(rows[0][1] == "name");  // the input's own column names, in its order
  auto column = [&](const std::string& name) {
    auto at = std::find(rows[0].begin(), rows[0].end(), name);
    REQUIRE(at != rows[0].end());
    return static_cast<size_t>(at - rows[0].begin());
  };
  CHECK(rows[1][1] == "ethanol");
  CHECK(std::stod(rows[1][column("amw")]) == Approx(46.069).margin(0.01));
  CHECK(std::stod(rows[2][column("NumAromaticRings")]) == 1);
  CHECK(std::stod(rows[2][column("fr_phenol")]) == 1);
  CHECK(std::stod(rows[3][column("fr_COO")]) == 1);
  CHECK(std::stod(rows[1][column("fr_phenol")]) == 0);

  auto basic = RunLabloop(
      {"descriptors", "--data", input, "--descriptor-set", "basic", "-o", dir.File("basic.csv")});
  CHECK(basic.exit_code == 0);
  CHECK(Contains(basic.output, "wrote 16 descriptors of 3 molecules"));
  auto unknown = RunLabloop(
      {"descriptors", "--data", input, "--descriptor-set", "rdkit3d", "-o", dir.File("x.csv")});
  CHECK(unknown.exit_code != 0);
  CHECK(Contains(unknown.output, "rdkit3d"));
}

TEST_CASE("init - run - status --json and export through the real CLI", "[integration]") {
  TempDir dir;
  std::string config = dir.Write("esol.toml", EsolConfig(20));
  std::string campaign = dir.File("esol.labloop");
  auto init = RunLabloop({"init", campaign, "--config", config});
  INFO(init.output);
  REQUIRE(init.exit_code == 0);
  CHECK(Contains(init.output, "esol150.csv: 150 molecules read, 0 rejected"));
  auto run = RunLabloop({"run", campaign});
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  CHECK(Contains(run.output, "stopped: budget spent (2 rounds, 20 evaluations in this run)"));
  auto status = RunLabloop({"status", campaign, "--json", "--log-level", "off"});
  REQUIRE(status.exit_code == 0);
  CHECK(Contains(status.output, "\"spent\": 20"));
  CHECK(Contains(status.output, "\"total\": 20"));
  auto table = RunLabloop({"status", campaign});
  CHECK(Contains(table.output, "objective    maximize logS"));
  auto csv = RunLabloop({"export", campaign, "--format", "csv", "-o", dir.File("o.csv")});
  CHECK(csv.exit_code == 0);
  CHECK(Contains(csv.output, "wrote 150 candidates"));
  auto bad_format = RunLabloop({"export", campaign, "--format", "xls", "-o", dir.File("o.xls")});
  CHECK(bad_format.exit_code != 0);
  auto rejected_sdf =
      RunLabloop({"export", campaign, "--rejected", "--format", "sdf", "-o", dir.File("r.sdf")});
  CHECK(rejected_sdf.exit_code == 2);
  CHECK(Contains(rejected_sdf.output, "--rejected writes CSV"));
  CHECK(RunLabloop({"run", campaign, "--rounds", "-3"}).exit_code != 0);
  // A file that cannot be written is an error, whichever of the two it is.
  auto unwritable =
      RunLabloop({"generate", "--generator", "pool", "--pool", dir.File("o.csv"), "-n", "3", "-o",
                  dir.File("g.smi"), "--provenance", dir.File("no/such/folder/p.csv")});
  CHECK(unwritable.exit_code != 0);
  CHECK(Contains(unwritable.output, "cannot write"));
}

TEST_CASE("Bad input gets a clear error that names the record or key", "[integration]") {
  TempDir dir;
  auto missing_config =
      RunLabloop({"init", dir.File("a.labloop"), "--config", dir.File("no.toml")});
  CHECK(missing_config.exit_code == 1);
  CHECK(Contains(missing_config.output, "labloop: error: cannot open config file"));

  std::string bad = EsolConfig(20) + "[extra]\nsurprise = 1\n";
  auto bad_key = RunLabloop({"init", dir.File("b.labloop"), "--config", dir.Write("b.toml", bad)});
  CHECK(bad_key.exit_code == 1);
  CHECK(Contains(bad_key.output, "unknown key 'extra.surprise'"));

  std::string config = EsolConfig(20);
  config.replace(config.find("esol150.csv\"]"), 11, "missing.csv");
  auto missing_library =
      RunLabloop({"init", dir.File("c.labloop"), "--config", dir.Write("c.toml", config)});
  CHECK(missing_library.exit_code == 1);
  CHECK(Contains(missing_library.output, "missing.csv' does not exist"));
  CHECK_FALSE(std::ifstream(dir.File("c.labloop")).good());  // nothing half-made is left

  auto no_campaign = RunLabloop({"status", dir.File("none.labloop")});
  CHECK(no_campaign.exit_code == 1);
  CHECK(Contains(no_campaign.output, "does not exist"));

  auto again =
      RunLabloop({"init", dir.File("d.labloop"), "--config", dir.Write("d.toml", EsolConfig(20))});
  REQUIRE(again.exit_code == 0);
  auto twice = RunLabloop({"init", dir.File("d.labloop"), "--config", dir.File("d.toml")});
  CHECK(twice.exit_code == 1);
  CHECK(Contains(twice.output, "already exists"));
}

TEST_CASE("Bad library lines are reported by line and stored - the import goes on",
          "[integration]") {
  TempDir dir;
  std::string pool = std::string(LABLOOP_TEST_DATA) + "/bad_lines.smi";
  std::string table = dir.Write("t.csv", "smiles,v\nCCO,1\nc1ccccc1,2\nCC(=O)O,3\n");
  std::string config = "[library]\nfiles = [\"" + pool +
                       "\"]\nmax_heavy_atoms = 50\n[objective]\nproperty = \"v\"\n"
                       "direction = \"minimize\"\n[simulator]\nkind = \"lookup\"\ntable = \"" +
                       table + "\"\n[budget]\nbatch_size = 2\nmax_evaluations = 4\n";
  auto init = RunLabloop({"init", dir.File("p.labloop"), "--config", dir.Write("p.toml", config)});
  INFO(init.output);
  REQUIRE(init.exit_code == 0);
  CHECK(Contains(init.output,
                 "rejected bad_lines.smi:4 (id 'not-a-ring'): unparsable smiles 'C1CC'"));
  CHECK(Contains(init.output, "rejected bad_lines.smi:9 (id 'long-alkane'): too many heavy atoms"));
  CHECK(Contains(init.output, "4 new candidates, 1 duplicates"));
  auto status = RunLabloop({"status", dir.File("p.labloop")});
  CHECK(Contains(status.output, "candidates   4 (4 input records rejected)"));
  auto run = RunLabloop({"run", dir.File("p.labloop")});
  CHECK(run.exit_code == 0);
  // The rejects are kept in the campaign file and can be exported for fixing.
  auto rejects =
      RunLabloop({"export", dir.File("p.labloop"), "--rejected", "-o", dir.File("r.csv")});
  CHECK(rejects.exit_code == 0);
  CHECK(Contains(rejects.output, "wrote 4 rejected records"));
  std::ifstream in(dir.File("r.csv"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(Contains(text, "source,location,record_id,input,reason\n"));
  CHECK(Contains(text,
                 "library:bad_lines.smi,bad_lines.smi:4,not-a-ring,C1CC,unparsable smiles 'C1CC'"));
  CHECK(Contains(text, "bad_lines.smi:10,,,duplicate molecule: same InChIKey as bad_lines.smi:2"));
  auto no_format = RunLabloop({"export", dir.File("p.labloop"), "-o", dir.File("x.csv")});
  CHECK(no_format.exit_code == 2);
}

TEST_CASE("The demo runs end to end", "[integration][slow]") {
  TempDir dir;
  auto demo = RunLabloop({"demo", "--dir", dir.File("demo")});
  INFO(demo.output);
  REQUIRE(demo.exit_code == 0);
  CHECK(Contains(demo.output,
                 "best molecules found by the campaign (256 xtb evaluations, 8 rounds)"));
  CHECK(Contains(demo.output, "random evaluations of the same pool"));
  CHECK(Contains(demo.output, "campaign file: " + dir.File("demo") + "/demo.labloop"));
}

namespace {
// The audit log's (actor, time, detail) rows of one kind.
std::vector<std::vector<std::string>> Events(const std::string& path, const std::string& kind) {
  return QueryCampaign(path, "SELECT actor, time, detail FROM event WHERE kind = ? ORDER BY id",
                       {kind});
}

// The candidate ids `labloop status --json` lists as waiting for approval.
std::vector<int64_t> PendingIds(const std::string& campaign) {
  auto status = RunLabloop({"status", campaign, "--json"});
  auto j = nlohmann::json::parse(status.output);
  std::vector<int64_t> ids;
  for (const auto& p : j.at("pending_approval")) ids.push_back(p.at("candidate_id"));
  return ids;
}
}  // namespace

TEST_CASE("The approval gate holds jobs until a person approves or rejects them", "[integration]") {
  TempDir dir;
  std::string config = EsolConfig(20, 5) + "[approval]\nroutes = [\"simulate\"]\n";
  std::ofstream(dir.File("esol.toml")) << config;
  std::string campaign = dir.File("gate.labloop");
  REQUIRE(RunLabloop({"init", campaign, "--config", dir.File("esol.toml")}).exit_code == 0);

  // Round 0 is dispatched, then the run stops: nothing runs without approval.
  auto first = RunLabloop({"run", campaign});
  CHECK(first.exit_code == 0);
  CHECK(Contains(first.output, "stopped: waiting for approval: 5 decisions of round 0"));
  auto status = RunLabloop({"status", campaign});
  CHECK(Contains(status.output, "approval     5 decisions wait"));
  CHECK(Contains(status.output, "measurements 0"));
  auto json = RunLabloop({"status", campaign, "--json"});
  CHECK(Contains(json.output, "\"pending_approval\": ["));

  // Approve two, reject one; the other two still wait.
  auto ids = PendingIds(campaign);
  REQUIRE(ids.size() == 5);
  auto approved = RunLabloop(
      {"approve", campaign, std::to_string(ids[0]), std::to_string(ids[1]), "--by", "dr.curie"});
  CHECK(approved.exit_code == 0);
  CHECK(Contains(approved.output, "approved 2 decisions (by dr.curie)"));
  auto rejected = RunLabloop({"reject", campaign, std::to_string(ids[2]), "--reason",
                              "reactive \"acyl chloride\"", "--by", "dr.curie"});
  CHECK(rejected.exit_code == 0);
  auto unknown = RunLabloop({"approve", campaign, "999999"});
  CHECK(unknown.exit_code != 0);
  CHECK(Contains(unknown.output, "candidate 999999 has no decision waiting for approval"));
  auto no_reason = RunLabloop({"reject", campaign, std::to_string(ids[3])});
  CHECK(no_reason.exit_code != 0);

  auto second = RunLabloop({"run", campaign});
  CHECK(Contains(second.output, "2 evaluations in this run"));
  CHECK(Contains(second.output, "waiting for approval: 2 decisions of round 0"));

  // The audit log says who decided what, and when.
  auto approvals = Events(campaign, "approved");
  REQUIRE(approvals.size() == 1);
  CHECK(approvals[0][0] == "dr.curie");
  CHECK(approvals[0][1].size() == 20);  // 2026-11-25T10:00:00Z
  CHECK(Contains(approvals[0][2], "\"count\":2"));
  auto rejections = Events(campaign, "rejected");
  REQUIRE(rejections.size() == 1);
  CHECK(Contains(rejections[0][2], "\"reason\":\"reactive \\\"acyl chloride\\\"\""));

  // Approving the rest lets the campaign go on; every later round stops at the gate again.
  for (int i = 0; i < 10; ++i) {
    auto all = RunLabloop({"approve", campaign, "--all"});
    if (Contains(all.output, "approved 0 decisions")) break;
    auto more = RunLabloop({"run", campaign});
    INFO(more.output.substr(more.output.size() > 300 ? more.output.size() - 300 : 0));
    // Each new round stops at the gate again, until the budget is spent.
    CHECK((Contains(more.output, "stopped: waiting for approval: ") ||
           Contains(more.output, "stopped: budget spent")));
  }
  auto done = RunLabloop({"status", campaign, "--json"});
  CHECK(Contains(done.output, "\"spent\": 20"));
  CHECK(Contains(done.output, "\"cancelled\": 1"));
  CHECK(Contains(done.output, "\"pending_approval\": []"));
}

TEST_CASE("model train - evaluate - predict without a campaign - bad rows reported",
          "[integration]") {
  TempDir dir;
  // ESOL: the first 900 molecules to train (plus two bad rows), the rest to test.
  std::ifstream esol(std::string(LABLOOP_SHARED_DATA) + "/moleculenet/esol.csv");
  std::string line, train = "", test = "smiles,logp\n";
  for (int i = 0; std::getline(esol, line); ++i) (i <= 900 ? train : test) += line + "\n";
  train += "not_a_smiles,1.0\nCCO,abc\n";
  dir.Write("train.csv", train);
  dir.Write("test.csv", test);
  auto trained = RunLabloop({"model", "train", "--data", dir.File("train.csv"), "--target", "logp",
                             "--model", "tanimoto_gp", "-o", dir.File("esol.model")});
  CHECK(trained.exit_code == 0);
  CHECK(Contains(trained.output, "skipped train.csv:902: unparsable smiles 'not_a_smiles'"));
  CHECK(Contains(trained.output, "skipped train.csv:903: logp 'abc' is not a number"));
  CHECK(Contains(trained.output, "trained tanimoto_gp on 810 rows"));

  auto evaluated = RunLabloop({"model", "evaluate", "--model", dir.File("esol.model"), "--data",
                               dir.File("test.csv"), "--json", dir.File("eval.json")});
  INFO(evaluated.output << "(signal " << evaluated.signal << ")");
  REQUIRE(evaluated.exit_code == 0);
  auto j = nlohmann::json::parse(std::ifstream(dir.File("eval.json")));
  CHECK(j["raw"]["n"] == 228);
  CHECK(j["raw"]["rmse"].get<double>() < 1.0);  // the target spans 13 log units
  CHECK(j["calibrated"]["miscalibration_area"].get<double>() <
        j["raw"]["miscalibration_area"].get<double>());
  CHECK(j["parity"]["observed"].size() == 228);

  auto predicted = RunLabloop({"model", "predict", "--model", dir.File("esol.model"), "--data",
                               dir.File("test.csv"), "-o", dir.File("pred.csv")});
  CHECK(predicted.exit_code == 0);
  std::ifstream pred(dir.File("pred.csv"));
  std::getline(pred, line);
  CHECK(line == "smiles,logp,mean,sigma,sigma_epistemic,sigma_aleatoric");
  // Each row: logp, mean, sigma, sigma_epistemic, sigma_aleatoric.
  auto values = [](std::istream& in) {
    std::vector<std::vector<double>> out;
    for (std::string row; std::getline(in, row);) {
      std::vector<double> v;
      std::stringstream ss(row.substr(row.find(',') + 1));
      for (std::string f; std::getline(ss, f, ',');) v.push_back(std::stod(f));
      out.push_back(v);
    }
    return out;
  };
  const auto calibrated = values(pred);
  REQUIRE(calibrated.size() == 228);
  for (const auto& v : calibrated) {
    REQUIRE(v.size() == 5);
    CHECK(v[2] > 0);
    // The calibrated total is split back into its parts in their proportion.
    CHECK(v[2] * v[2] == Approx(v[3] * v[3] + v[4] * v[4]).epsilon(1e-6));
  }
  // The same model without calibration: the same means, other σ.
  REQUIRE(
      RunLabloop({"model", "train", "--data", dir.File("train.csv"), "--target", "logp", "--model",
                  "tanimoto_gp", "--calibration", "none", "-o", dir.File("raw.model")})
          .exit_code == 0);
  REQUIRE(RunLabloop({"model", "predict", "--model", dir.File("raw.model"), "--data",
                      dir.File("test.csv"), "-o", dir.File("raw.csv")})
              .exit_code == 0);
  std::ifstream raw_file(dir.File("raw.csv"));
  std::getline(raw_file, line);
  const auto raw = values(raw_file);
  REQUIRE(raw.size() == 228);
  int other_sigma = 0;
  for (size_t i = 0; i < raw.size(); ++i) {
    CHECK(raw[i][1] == Approx(calibrated[i][1]).epsilon(1e-9));
    other_sigma += std::abs(raw[i][2] - calibrated[i][2]) > 1e-6 * raw[i][2];
  }
  CHECK(other_sigma > 200);

  // The device is chosen when predicting: the GP runs on the CPU only, and says so.
  auto on_cuda = RunLabloop({"model", "predict", "--model", dir.File("esol.model"), "--data",
                             dir.File("test.csv"), "-o", dir.File("cuda.csv"), "--device", "cuda"});
  CHECK(on_cuda.exit_code != 0);
  CHECK(Contains(on_cuda.output, "tanimoto_gp runs on the cpu only (model.device is 'cuda')"));
  // The input's columns come back as they were: names, order, an id column kept as it is.
  dir.Write("named.csv", "Name,SMILES,logp\nethanol,CCO,-0.3\nphenol,c1ccccc1O,1.5\n");
  auto named = RunLabloop({"model", "predict", "--model", dir.File("esol.model"), "--data",
                           dir.File("named.csv"), "-o", dir.File("named_pred.csv")});
  INFO(named.output);
  REQUIRE(named.exit_code == 0);
  std::ifstream named_pred(dir.File("named_pred.csv"));
  std::getline(named_pred, line);
  CHECK(line == "Name,SMILES,logp,mean,sigma,sigma_epistemic,sigma_aleatoric");
  std::getline(named_pred, line);
  CHECK(line.rfind("ethanol,CCO,-0.3,", 0) == 0);
  // SDF: every record's data fields, also those that only later records have.
  dir.Write("two.sdf",
            "ethanol\n  RDKit\n\n  3  2  0  0  0  0  0  0  0  0999 V2000\n"
            "    0.0000    0.0000    0.0000 C   0  0\n    1.5000    0.0000    0.0000 C   0  0\n"
            "    2.0000    1.0000    0.0000 O   0  0\n  1  2  1  0\n  2  3  1  0\nM  END\n"
            ">  <source>\nlab\n\n$$$$\n"
            "methanol\n  RDKit\n\n  2  1  0  0  0  0  0  0  0  0999 V2000\n"
            "    0.0000    0.0000    0.0000 C   0  0\n    1.5000    0.0000    0.0000 O   0  0\n"
            "  1  2  1  0\nM  END\n>  <source>\nshop\n\n>  <batch>\nB7\n\n$$$$\n");
  auto sdf = RunLabloop({"model", "predict", "--model", dir.File("esol.model"), "--data",
                         dir.File("two.sdf"), "-o", dir.File("sdf_pred.csv")});
  INFO(sdf.output);
  REQUIRE(sdf.exit_code == 0);
  std::ifstream sdf_pred(dir.File("sdf_pred.csv"));
  std::getline(sdf_pred, line);
  CHECK(line == "smiles,id,source,batch,mean,sigma,sigma_epistemic,sigma_aleatoric");
  std::getline(sdf_pred, line);
  CHECK(line.rfind("CCO,ethanol,lab,,", 0) == 0);
  std::getline(sdf_pred, line);
  CHECK(line.rfind("CO,methanol,shop,B7,", 0) == 0);

  // RDKit descriptors beside the fingerprint: stored with the model, used again to predict.
  auto with_descriptors =
      RunLabloop({"model", "train", "--data", dir.File("train.csv"), "--target", "logp",
                  "--descriptors", "12", "-o", dir.File("esol_d.model")});
  CHECK(with_descriptors.exit_code == 0);
  auto evaluated_d = RunLabloop({"model", "evaluate", "--model", dir.File("esol_d.model"), "--data",
                                 dir.File("test.csv"), "--json", dir.File("eval_d.json"), "--plot",
                                 dir.File("eval_d.svg")});
  CHECK(evaluated_d.exit_code == 0);
  auto jd = nlohmann::json::parse(std::ifstream(dir.File("eval_d.json")));
  CHECK(jd["raw"]["rmse"].get<double>() < j["raw"]["rmse"].get<double>() - 0.1);
  // The picture: a dot per molecule, the calibration curve, and the figures it shows.
  std::ifstream svg_file(dir.File("eval_d.svg"));
  const std::string svg((std::istreambuf_iterator<char>(svg_file)),
                        std::istreambuf_iterator<char>());
  CHECK(svg.rfind("<svg", 0) == 0);
  CHECK(svg.find("</svg>") != std::string::npos);
  size_t dots = 0;
  for (size_t at = svg.find("<circle"); at != std::string::npos; at = svg.find("<circle", at + 1)) {
    ++dots;
  }
  CHECK(dots == 228);
  CHECK(svg.find("<polyline") != std::string::npos);
  char rmse[32];
  std::snprintf(rmse, sizeof rmse, "RMSE %.3f", jd["raw"]["rmse"].get<double>());
  CHECK(Contains(svg, rmse));
  char area[48];
  std::snprintf(area, sizeof area, "miscalibration area %.3f",
                jd["calibrated"]["miscalibration_area"].get<double>());
  CHECK(Contains(svg, area));

  // The 16 basic descriptors instead of RDKit's 2D set (the default). Files written before the
  // set was stored (no "set" in the header) held basic descriptors and still load as such.
  auto with_basic = RunLabloop({"model", "train", "--data", dir.File("train.csv"), "--target",
                                "logp", "--descriptors", "12", "--descriptor-set", "basic", "-o",
                                dir.File("esol_b.model")});
  CHECK(with_basic.exit_code == 0);
  auto header_of = [&](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t first = bytes.find('\n'), second = bytes.find('\n', first + 1);
    const size_t length = std::stoul(bytes.substr(first + 1, second - first - 1));
    return std::make_pair(nlohmann::json::parse(bytes.substr(second + 1, length)),
                          bytes.substr(second + 1 + length));
  };
  CHECK(header_of(dir.File("esol_d.model")).first["descriptors"]["set"] == "rdkit2d");
  auto [basic_header, basic_weights] = header_of(dir.File("esol_b.model"));
  CHECK(basic_header["descriptors"]["set"] == "basic");
  CHECK(basic_header["descriptors"]["names"].size() == 16);
  basic_header["descriptors"].erase("set");
  {
    const std::string text = basic_header.dump();
    std::ofstream old(dir.File("esol_old.model"), std::ios::binary);
    old << "LABLOOP-MODEL 1\n" << text.size() << "\n" << text << basic_weights;
  }
  auto evaluated_b = RunLabloop({"model", "evaluate", "--model", dir.File("esol_b.model"), "--data",
                                 dir.File("test.csv"), "--json", dir.File("eval_b.json")});
  auto evaluated_old =
      RunLabloop({"model", "evaluate", "--model", dir.File("esol_old.model"), "--data",
                  dir.File("test.csv"), "--json", dir.File("eval_old.json")});
  INFO(evaluated_b.output);
  INFO(evaluated_old.output);
  REQUIRE(evaluated_b.exit_code == 0);
  REQUIRE(evaluated_old.exit_code == 0);
  auto jb = nlohmann::json::parse(std::ifstream(dir.File("eval_b.json")));
  auto jold = nlohmann::json::parse(std::ifstream(dir.File("eval_old.json")));
  CHECK(jb["raw"]["rmse"].get<double>() < j["raw"]["rmse"].get<double>() - 0.1);
  CHECK(jold["raw"]["rmse"].get<double>() == jb["raw"]["rmse"].get<double>());

  // The GP and the D-MPNN as one model, with descriptors: the GP reads them beside the
  // fingerprint, the D-MPNN beside its graph readout; both are stored in the model file.
  auto mixed = RunLabloop({"model", "train", "--data", dir.File("train.csv"), "--target", "logp",
                           "--model", "gp_dmpnn", "--descriptors", "12", "--epochs", "5",
                           "--hidden", "32", "--members", "2", "-o", dir.File("esol_m.model")});
  INFO(mixed.output);
  CHECK(mixed.exit_code == 0);
  CHECK(Contains(mixed.output, "trained gp_dmpnn on 810 rows"));
  // Its GP reads RDKit's 2D set beside the fingerprint, its D-MPNN the basic 16 beside the graph.
  const auto mixed_header = header_of(dir.File("esol_m.model")).first;
  CHECK(mixed_header["descriptors"]["set"] == "rdkit2d");
  CHECK(mixed_header["descriptors"]["names"].size() == 206);
  CHECK(mixed_header["graph_descriptors"]["set"] == "basic");
  CHECK(mixed_header["graph_descriptors"]["names"].size() == 16);
  CHECK(mixed_header["graph_descriptors"]["min"].size() == 16);
  auto predicted_m = RunLabloop({"model", "predict", "--model", dir.File("esol_m.model"), "--data",
                                 dir.File("test.csv"), "-o", dir.File("pred_m.csv")});
  CHECK(predicted_m.exit_code == 0);
  auto evaluated_m = RunLabloop({"model", "evaluate", "--model", dir.File("esol_m.model"), "--data",
                                 dir.File("test.csv"), "--json", dir.File("eval_m.json")});
  CHECK(evaluated_m.exit_code == 0);
  auto jm = nlohmann::json::parse(std::ifstream(dir.File("eval_m.json")));
  CHECK(jm["raw"]["n"] == 228);
  CHECK(jm["raw"]["rmse"].get<double>() < j["raw"]["rmse"].get<double>());  // than the GP alone

  // Files from before graph models had their own descriptors (no "graph_descriptors") gave the
  // D-MPNN the same ones as the GP, and still load so: with the basic set on both sides, the
  // file without the key evaluates exactly as the file with it.
  auto both_basic = RunLabloop({"model",
                                "train",
                                "--data",
                                dir.File("train.csv"),
                                "--target",
                                "logp",
                                "--model",
                                "gp_dmpnn",
                                "--descriptors",
                                "12",
                                "--descriptor-set",
                                "basic",
                                "--epochs",
                                "5",
                                "--hidden",
                                "32",
                                "--members",
                                "2",
                                "-o",
                                dir.File("esol_mb.model")});
  REQUIRE(both_basic.exit_code == 0);
  {
    auto [header, weights] = header_of(dir.File("esol_mb.model"));
    REQUIRE(header.contains("graph_descriptors"));
    header.erase("graph_descriptors");
    const std::string text = header.dump();
    std::ofstream old(dir.File("esol_mb_old.model"), std::ios::binary);
    old << "LABLOOP-MODEL 1\n" << text.size() << "\n" << text << weights;
  }
  auto evaluated_mb =
      RunLabloop({"model", "evaluate", "--model", dir.File("esol_mb.model"), "--data",
                  dir.File("test.csv"), "--json", dir.File("eval_mb.json")});
  auto evaluated_mb_old =
      RunLabloop({"model", "evaluate", "--model", dir.File("esol_mb_old.model"), "--data",
                  dir.File("test.csv"), "--json", dir.File("eval_mb_old.json")});
  INFO(evaluated_mb_old.output);
  REQUIRE(evaluated_mb.exit_code == 0);
  REQUIRE(evaluated_mb_old.exit_code == 0);
  CHECK(nlohmann::json::parse(std::ifstream(dir.File("eval_mb_old.json")))["raw"]["rmse"] ==
        nlohmann::json::parse(std::ifstream(dir.File("eval_mb.json")))["raw"]["rmse"]);

  auto wrong = RunLabloop(
      {"model", "evaluate", "--model", dir.File("test.csv"), "--data", dir.File("test.csv")});
  CHECK(wrong.exit_code != 0);
  CHECK(Contains(wrong.output, "is not a labloop model file"));
  auto no_column = RunLabloop({"model", "train", "--data", dir.File("test.csv"), "--target",
                               "solubility", "-o", dir.File("x.model")});
  CHECK(no_column.exit_code != 0);
  CHECK(Contains(no_column.output, "has no column or data field 'solubility'"));
  auto no_numbers = RunLabloop({"model", "train", "--data",
                                dir.Write("words.csv", "smiles,logp\nCCO,high\nCCC,low\n"),
                                "--target", "logp", "-o", dir.File("x.model")});
  CHECK(no_numbers.exit_code != 0);
  CHECK(Contains(no_numbers.output,
                 "has no usable rows (2 skipped; the first: words.csv:2: logp 'high' is not a "
                 "number)"));
}

TEST_CASE("model train --calibration-folds also calibrates on the training rows held out",
          "[integration]") {
  TempDir dir;
  const std::string data = std::string(LABLOOP_TEST_DATA) + "/esol150.csv";
  auto header_of = [&](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t first = bytes.find('\n'), second = bytes.find('\n', first + 1);
    const size_t length = std::stoul(bytes.substr(first + 1, second - first - 1));
    return nlohmann::json::parse(bytes.substr(second + 1, length));
  };
  // 150 molecules: 135 to train, 15 to validate.
  auto plain = RunLabloop(
      {"model", "train", "--data", data, "--target", "logS", "-o", dir.File("plain.model")});
  INFO(plain.output);
  REQUIRE(plain.exit_code == 0);
  CHECK(Contains(plain.output, "after isotonic (fitted on 15 rows: validation)"));
  CHECK(header_of(dir.File("plain.model"))["calibration"]["rows"] == 15);

  // The GP has exact leave-one-out predictions: no extra fit.
  auto gp = RunLabloop({"model", "train", "--data", data, "--target", "logS", "--calibration-folds",
                        "5", "-o", dir.File("gp.model")});
  INFO(gp.output);
  REQUIRE(gp.exit_code == 0);
  CHECK(Contains(gp.output, "(fitted on 150 rows: validation+leave-one-out)"));
  const auto gp_header = header_of(dir.File("gp.model"));
  CHECK(gp_header["calibration"]["fitted_on"] == "validation+leave-one-out");
  CHECK(gp_header["calibration"]["rows"] == 150);
  // Fitted on other rows, the calibration differs.
  CHECK(gp_header["calibration"]["state"] !=
        header_of(dir.File("plain.model"))["calibration"]["state"]);

  // Others are refitted on 3 folds of the training rows.
  auto ensemble = RunLabloop({"model", "train", "--data", data, "--target", "logS", "--model",
                              "deep_ensemble", "--epochs", "5", "--hidden", "32", "--members", "2",
                              "--calibration-folds", "3", "-o", dir.File("ens.model")});
  INFO(ensemble.output);
  REQUIRE(ensemble.exit_code == 0);
  CHECK(Contains(ensemble.output, "(fitted on 150 rows: validation+3-fold cross-fit)"));
  CHECK(header_of(dir.File("ens.model"))["calibration"]["fitted_on"] ==
        "validation+3-fold cross-fit");
  auto predicted = RunLabloop({"model", "predict", "--model", dir.File("ens.model"), "--data", data,
                               "-o", dir.File("pred.csv")});
  CHECK(predicted.exit_code == 0);

  auto too_many = RunLabloop({"model", "train", "--data", data, "--target", "logS",
                              "--calibration-folds", "21", "-o", dir.File("x.model")});
  CHECK(too_many.exit_code != 0);
  CHECK(Contains(too_many.output, "--calibration-folds"));
  auto one = RunLabloop({"model", "train", "--data", data, "--target", "logS",
                         "--calibration-folds", "1", "-o", dir.File("x.model")});
  CHECK(one.exit_code != 0);
  CHECK(Contains(one.output, "--calibration-folds must be 0 or 2 to 20"));
  auto uncalibrated = RunLabloop({"model", "train", "--data", data, "--target", "logS",
                                  "--calibration", "none", "-o", dir.File("none.model")});
  CHECK(uncalibrated.exit_code == 0);
  CHECK(Contains(uncalibrated.output, "after none\nwrote "));
}

TEST_CASE("bench predictors writes every raw test prediction with --predictions", "[integration]") {
  TempDir dir;
  auto run =
      RunLabloop({"bench", "predictors", "--data", std::string(LABLOOP_TEST_DATA) + "/esol150.csv",
                  "--target", "logS", "--model", "tanimoto_gp", "--seeds", "2", "--scaffold-split",
                  "", "--throughput-rows", "0", "--predictions", dir.File("pred.csv"), "--json",
                  dir.File("bench.json")});
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  std::ifstream in(dir.File("pred.csv"));
  std::string line;
  std::getline(in, line);
  CHECK(line == "split,seed,model,row,y,mean,sigma_epistemic,sigma_aleatoric");
  // 150 molecules: 120 train, 15 validation, 15 test, for each of 2 seeds.
  std::vector<double> squared(2, 0.0);
  int rows = 0, validation_rows = 0, train_rows = 0;
  std::vector<double> pooled_y, pooled_mean, pooled_sigma;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream fields(line);
    for (std::string cell; std::getline(fields, cell, ',');) f.push_back(cell);
    REQUIRE(f.size() == 8);
    CHECK(f[2] == "tanimoto_gp");
    CHECK(std::stod(f[6]) >= 0);
    CHECK(std::stod(f[7]) > 0);
    if (f[0] == "random-validation") {  // what the calibrators were fitted on
      ++validation_rows;
      continue;
    }
    if (f[0] == "random-train-heldout") {  // the GP's leave-one-out predictions, fitted on too
      ++train_rows;
      continue;
    }
    CHECK(f[0] == "random");
    squared.at(std::stoi(f[1])) += std::pow(std::stod(f[4]) - std::stod(f[5]), 2);
    pooled_y.push_back(std::stod(f[4]));
    pooled_mean.push_back(std::stod(f[5]));
    pooled_sigma.push_back(std::hypot(std::stod(f[6]), std::stod(f[7])));
    ++rows;
  }
  CHECK(rows == 30);
  CHECK(validation_rows == 30);
  CHECK(train_rows == 240);
  // The file's errors are the ones the bench scored: the same RMSE as in its JSON.
  auto j = nlohmann::json::parse(std::ifstream(dir.File("bench.json")));
  double rmse = 0;
  for (double s : squared) rmse += std::sqrt(s / 15) / 2;
  // And its pooled area is that of both seeds' test rows together.
  auto pooled = labloop::learners::EvaluatePredictions(pooled_y, pooled_mean, pooled_sigma);
  REQUIRE(pooled);
  for (const auto& r : j["random_split"]) {
    CHECK(r["pooled_test_points"] == 30);
    if (r["calibration"] != "none") continue;
    CHECK(r["rmse"]["mean"].get<double>() == Approx(rmse));
    CHECK(r["pooled_miscalibration_area"].get<double>() ==
          Approx(pooled->miscalibration_area).epsilon(1e-6));
  }
}

TEST_CASE("labloop filter keeps clean molecules and says why the others went", "[integration]") {
  TempDir dir;
  std::string input = dir.Write("in.smi",
                                "O=C1C(=Cc2ccccc2)SC(=S)N1 rhodanine\n"
                                "CC(C)Cc1ccc(cc1)C(C)C(=O)O ibuprofen\n"
                                "C1CC broken\n"
                                "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC greasy\n");
  auto run = RunLabloop({"filter", input, "-o", dir.File("kept.csv"), "--dropped",
                         dir.File("dropped.csv"), "--lipinski", "--max-sa", "4"});
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  CHECK(run.output.find("kept 1 of 3 molecules") != std::string::npos);
  CHECK(run.output.find("in.smi:3 (id 'broken'): unparsable smiles 'C1CC'") != std::string::npos);
  std::ifstream kept(dir.File("kept.csv"));
  std::string header, line;
  std::getline(kept, header);
  CHECK(header == "smiles,id,sa_score");
  std::getline(kept, line);
  CHECK(line.rfind("CC(C)Cc1ccc(C(C)C(=O)O)cc1,ibuprofen,", 0) == 0);
  std::ifstream dropped(dir.File("dropped.csv"));
  std::stringstream text;
  text << dropped.rdbuf();
  CHECK(text.str().find("rhodanine,PAINS: ene_rhod_A(235); Brenk: Michael_acceptor_1") !=
        std::string::npos);
  CHECK(text.str().find("Lipinski: 2 violations") != std::string::npos);
}

TEST_CASE("labloop generate writes N molecules from a pool - the same for the same seed",
          "[integration]") {
  TempDir dir;
  const std::string zinc = std::string(LABLOOP_SHARED_DATA) + "/generative/zinc250k.smi.gz";
  auto run = RunLabloop({"generate", "--generator", "pool", "--pool", zinc, "-n", "50", "-o",
                         dir.File("a.smi"), "--seed", "9", "--provenance", dir.File("a.csv")});
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  CHECK(run.output.find("wrote 50 molecules") != std::string::npos);
  RunLabloop({"generate", "--generator", "pool", "--pool", zinc, "-n", "50", "-o",
              dir.File("b.smi"), "--seed", "9"});
  auto read = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  const std::string a = read(dir.File("a.smi"));
  CHECK(a == read(dir.File("b.smi")));
  CHECK(std::count(a.begin(), a.end(), '\n') == 50);
  CHECK(read(dir.File("a.csv")).rfind("smiles,inchikey,generator,provenance\n", 0) == 0);
  auto unknown = RunLabloop({"generate", "--generator", "magic", "-n", "5", "-o", dir.File("c")});
  CHECK(unknown.exit_code != 0);
  CHECK(unknown.output.find("magic") != std::string::npos);
}

TEST_CASE("The example campaigns stay valid: external command runs, the others initialize",
          "[integration]") {
  TempDir dir;
  const std::string examples = std::string(LABLOOP_SOURCE_DIR) + "/examples/";
  auto init = RunLabloop(
      {"init", dir.File("logp.labloop"), "--config", examples + "external-command/campaign.toml"});
  INFO(init.output);
  REQUIRE(init.exit_code == 0);
  auto run = RunLabloop({"run", dir.File("logp.labloop"), "--rounds", "2"});
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  auto measured = QueryCampaign(dir.File("logp.labloop"),
                                "SELECT count(*) FROM measurement WHERE property = 'logp'");
  CHECK(measured[0][0] == "32");
  // Docking takes seconds a molecule: only created here (receptor unpacked, programs found).
  auto dock = RunLabloop(
      {"init", dir.File("dock.labloop"), "--config", examples + "docking/campaign.toml"});
  INFO(dock.output);
  CHECK(dock.exit_code == 0);
  CHECK(dock.output.find("60 new candidates") != std::string::npos);
  // Generators in the loop, and the emulated lab (its instruments are only reached by run).
  for (const std::string example : {"generative", "lab"}) {
    auto created = RunLabloop({"init", dir.File(example + ".labloop"), "--config",
                               examples + example + "/campaign.toml"});
    INFO(created.output);
    CHECK(created.exit_code == 0);
    CHECK(created.output.find("200 new candidates") != std::string::npos);
  }
}

// labloop-gpu-check is built everywhere so that it cannot rot; here it runs on the CPU (a GPU
// machine runs it on CUDA: docs/gpu.md).
TEST_CASE("labloop-gpu-check fits the models and trains and samples the SMILES LSTM",
          "[integration]") {
  TempDir dir;
  const std::string data = std::string(LABLOOP_TEST_DATA) + "/esol150.csv";
  auto fitted =
      RunProgram(LABLOOP_GPU_CHECK,
                 {"predictors", "--data", data, "--target", "logS", "--devices", "cpu", "--models",
                  "deep_ensemble,dmpnn", "--hidden", "16", "--throughput-rows", "500"});
  INFO(fitted.output);
  REQUIRE(fitted.exit_code == 0);
  CHECK(fitted.output.find("120 training rows, 30 test rows") != std::string::npos);
  for (const std::string kind : {"deep_ensemble", "dmpnn"}) {
    auto at = fitted.output.find("\n" + kind);
    REQUIRE(at != std::string::npos);
    std::istringstream row(fitted.output.substr(at + 1));
    std::string name, device, gap;
    double fit_seconds = 0, rate = 0, rmse = 0;
    row >> name >> device >> fit_seconds >> rate >> rmse >> gap;
    CHECK(device == "cpu");
    CHECK(fit_seconds > 0);
    CHECK(rate > 0);
    CHECK(rmse > 0);
    CHECK(rmse < 2.5);          // the targets' s.d. is about 2
    CHECK(gap == "reference");  // the first device is the reference
  }
  // CUDA asked of Debian's CPU-only LibTorch (what CI builds against): each such fit fails by
  // name, and so does the run; so do the other commands that take a device.
  auto no_gpu = RunProgram(LABLOOP_GPU_CHECK, {"predictors", "--data", data, "--target", "logS",
                                               "--devices", "cpu,cuda", "--models", "deep_ensemble",
                                               "--hidden", "16", "--throughput-rows", "100"});
  INFO(no_gpu.output);
  CHECK(no_gpu.exit_code == 1);
  CHECK(no_gpu.output.find("deep_ensemble  cuda    FAILED: device 'cuda' requested but this "
                           "LibTorch has no usable CUDA") != std::string::npos);
  auto no_gpu_train = RunLabloop({"model", "train", "--data", data, "--target", "logS", "--model",
                                  "deep_ensemble", "--device", "cuda", "-o", dir.File("m.model")});
  CHECK(no_gpu_train.exit_code == 1);
  CHECK(no_gpu_train.output.find("no usable CUDA") != std::string::npos);
  auto no_gpu_generate = RunLabloop({"generate", "--generator", "smiles_lm", "-n", "5", "-o",
                                     dir.File("g.smi"), "--device", "cuda"});
  CHECK(no_gpu_generate.exit_code == 1);
  CHECK(no_gpu_generate.output.find("no usable CUDA") != std::string::npos);

  const std::string model = dir.File("tiny.pt");
  auto trained = RunProgram(
      LABLOOP_GPU_CHECK,
      {"lm-train", "--data", std::string(LABLOOP_SHARED_DATA) + "/generative/zinc_first_1000.smi",
       "-o", model, "--epochs", "2", "--hidden", "16", "--embedding", "8", "--lr-decay", "0.8"});
  INFO(trained.output);
  REQUIRE(trained.exit_code == 0);
  CHECK(trained.output.find("epoch 2: training loss") != std::string::npos);
  CHECK_FALSE(std::ifstream(model + ".part"));  // renamed into place after each epoch
  auto sampled = RunProgram(LABLOOP_GPU_CHECK, {"lm-sample", "--model", model, "-n", "50"});
  INFO(sampled.output);
  REQUIRE(sampled.exit_code == 0);
  CHECK(sampled.output.find("tiny@") == 0);
  CHECK(sampled.output.find("50 samples in") != std::string::npos);
  CHECK(sampled.output.find("validity 0.") != std::string::npos);

  auto bad = RunProgram(
      LABLOOP_GPU_CHECK,
      {"lm-train", "--data", std::string(LABLOOP_SHARED_DATA) + "/generative/zinc_first_1000.smi",
       "-o", model, "--lr-decay", "1.5"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.output.find("lr decay must lie in (0, 1]") != std::string::npos);
}
