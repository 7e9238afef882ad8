#include <catch2/catch.hpp>

#include "app/engine/campaign_config.h"
#include "tests/app/fixtures.h"

using namespace labloop;
using namespace labloop::engine;

namespace {
Result<CampaignConfig> Parse(const std::string& text) {
  auto config = Config::FromString(text, "campaign.toml");
  REQUIRE(config);
  return ParseCampaignConfig(*config, "/data");
}

const char* kMinimal = R"(
[library]
files = ["pool.smi"]
[objective]
property = "gap"
direction = "minimize"
[simulator]
kind = "xtb"
)";
}  // namespace

TEST_CASE("A minimal config gets defaults and absolute paths") {
  auto c = Parse(kMinimal);
  REQUIRE(c);
  CHECK(c->library_files == std::vector<std::string>{"/data/pool.smi"});
  CHECK(c->direction == learners::Direction::kMinimize);
  CHECK(c->model.kind == "deep_ensemble");
  CHECK(c->acquisition.kind == "ucb");
  CHECK(c->batch_size == 32);
  CHECK(c->max_evaluations == 256);
  CHECK(c->descriptor_sets.fingerprint == chem::DescriptorSet::kBasic);  // what older campaigns had
  CHECK(c->descriptor_sets.graph == chem::DescriptorSet::kBasic);
}

TEST_CASE("The descriptor set is read and stored with the campaign") {
  auto c = Parse(std::string(kMinimal) +
                 "[features]\ndescriptors = 20.0\ndescriptor_set = \"rdkit2d\"\n"
                 "graph_descriptor_set = \"rdkit2d\"\n");
  REQUIRE(c);
  CHECK(c->descriptor_sets.fingerprint == chem::DescriptorSet::kRdkit2d);
  CHECK(c->descriptor_sets.graph == chem::DescriptorSet::kRdkit2d);
  CHECK(c->descriptor_weight == 20.0);
  auto again = Parse(c->ToToml());
  REQUIRE(again);
  CHECK(again->descriptor_sets.fingerprint == chem::DescriptorSet::kRdkit2d);
  CHECK(again->descriptor_sets.graph == chem::DescriptorSet::kRdkit2d);
}

TEST_CASE("The resolved TOML parses back to the same campaign") {
  auto c = Parse(testing::EsolConfig(40));
  REQUIRE(c);
  auto again = Parse(c->ToToml());
  REQUIRE(again);
  CHECK(again->ToToml() == c->ToToml());
  CHECK(again->simulator.table == c->simulator.table);
  CHECK(again->model.hidden == 32);
}

TEST_CASE("Config errors name the key - the value and what is allowed") {
  auto expect = [](const std::string& text, const std::string& message) {
    auto c = Parse(text);
    REQUIRE_FALSE(c);
    CHECK(c.error().message == message);
  };
  std::string base = kMinimal;
  expect(base +
             "[generators.ga]\nkind = \"graph_ga\"\nmin_heavy_atoms = 30\n"
             "max_heavy_atoms = 20\n",
         "campaign.toml: table 'generators.ga' has min_heavy_atoms above max_heavy_atoms: no "
         "molecule could pass");
  // Values that go into the Slurm script's #SBATCH lines cannot carry more lines.
  expect(base + "[launcher]\nkind = \"slurm\"\npartition = \"debug\\nrm -rf ~\"\n",
         "campaign.toml: key 'launcher.partition': 'debug\nrm -rf ~' may hold only letters, "
         "digits and _ . , : + -");
  expect(base + "[launcher]\nkind = \"slurm\"\ntime_limit = \"1:00 $(reboot)\"\n",
         "campaign.toml: key 'launcher.time_limit': '1:00 $(reboot)' may hold only letters, "
         "digits and _ . , : + -");
  CHECK(Parse(base + "[launcher]\nkind = \"slurm\"\npartition = \"gpu-a100\"\n"
                     "account = \"chem_lab.2\"\ntime_limit = \"1-12:00:00\"\n"));
  expect(base + "[budget]\nbatch_size = 0\n",
         "campaign.toml: key 'budget.batch_size' has value 0, allowed: 1 to 1000000");
  expect(base + "[acquisition]\nkind = \"magic\"\n",
         "campaign.toml: key 'acquisition.kind' has value 'magic', allowed: desirability, ehvi, "
         "ei, greedy, pi, random, thompson, threshold, ucb");
  expect(base + "[acquisition]\nkind = \"ehvi\"\n",
         "campaign.toml: key 'acquisition.kind' has value 'ehvi', which needs several objectives "
         "(objective.others)");
  // Extra keys in the minimal config's [objective] table.
  auto objective = [&](const std::string& extra) {
    std::string text = base;
    const std::string anchor = "direction = \"minimize\"\n";
    return text.replace(text.find(anchor), anchor.size(), anchor + extra);
  };
  expect(objective("others = [\"dipole\"]\nother_directions = [\"up\"]\n"),
         "campaign.toml: key 'objective.other_directions' has value 'up', allowed: minimize, "
         "maximize");
  expect(objective("others = [\"logP\"]\nother_directions = [\"maximize\"]\n"),
         "campaign.toml: key 'objective.others' has value 'logP', which the xtb simulator does "
         "not compute; allowed: energy, gap, dipole");
  expect(objective("others = [\"dipole\"]\nother_directions = [\"maximize\"]\n"
                   "worst = [1.0, 0.0]\nbest = [5.0, 3.0]\n"),
         "campaign.toml: objective 'gap': best must be below worst when minimizing");
  expect(objective("others = [\"dipole\"]\nother_directions = [\"maximize\"]\n") +
             "[router]\ntrust_sigma = 0.1\n",
         "campaign.toml: key 'router.trust_sigma' works with one objective only: a candidate "
         "trusted on one property would never be measured for the others");
  expect(base + "[constraints.mol_wt]\nmin = 500.0\nmax = 100.0\n",
         "campaign.toml: table 'constraints.mol_wt' has min above max: no molecule could pass");
  expect(base + "[model]\nkind = \"tanimoto_gp\"\n[budget]\nmax_evaluations = 50000\n",
         "campaign.toml: key 'budget.max_evaluations' has value 50000, more than the exact GP "
         "of tanimoto_gp can train on (20000); use model.kind = \"deep_ensemble\" for "
         "campaigns this large");
  expect(base + "[model]\nkind = \"gp_dmpnn\"\n[budget]\nmax_evaluations = 50000\n",
         "campaign.toml: key 'budget.max_evaluations' has value 50000, more than the exact GP "
         "of gp_dmpnn can train on (20000); use model.kind = \"deep_ensemble\" for "
         "campaigns this large");
  expect(objective("others = [\"dipole\"]\nother_directions = [\"maximize\"]\nworst = [1.0]\n"),
         "campaign.toml: key 'objective.worst' needs 2 numbers, one per objective "
         "(objective.property, then objective.others)");
  expect(base + "[acquisition]\nkind = \"threshold\"\n",
         "campaign.toml: key 'acquisition.threshold' is missing; the threshold acquisition scores "
         "the probability of beating this value");
  expect(base + "[features]\ndescriptor_set = \"rdkit3d\"\n",
         "campaign.toml: key 'features.descriptor_set' has value 'rdkit3d', allowed: basic, "
         "rdkit2d");
  expect(base + "[features]\ngraph_descriptor_set = \"rdkit3d\"\n",
         "campaign.toml: key 'features.graph_descriptor_set' has value 'rdkit3d', allowed: basic, "
         "rdkit2d");
  expect(base + "[acquisition]\nbatch = \"clusters\"\n",
         "campaign.toml: key 'acquisition.batch' has value 'clusters', allowed: top_k, diverse, "
         "maxmin");
  expect(base + "[stop]\ntarget = \"low\"\n",
         "campaign.toml: key 'stop.target' has value 'low', expected a number");
  expect(base + "[model]\nhiden = 3\n",
         "campaign.toml: unknown key 'model.hiden' (a typo? see examples/qm9-gap/campaign.toml "
         "for every key)");
  expect("[objective]\nproperty = \"gap\"\ndirection = \"minimize\"\n[simulator]\nkind = \"xtb\"\n",
         "campaign.toml: key 'library.files' is missing; name at least one SMILES, CSV or SDF "
         "file");
  expect("[library]\nfiles = [\"pool.xlsx\"]\n",
         "campaign.toml: key 'library.files': unknown molecule file type 'pool.xlsx' (expected "
         ".smi, .smiles, .txt, .csv, .tsv, .sdf or .sd, optionally .gz)");
  std::string wrong_property = kMinimal;
  wrong_property.replace(wrong_property.find("\"gap\""), 5, "\"logP\"");
  expect(wrong_property,
         "campaign.toml: key 'objective.property' has value 'logP', which the xtb simulator does "
         "not compute; allowed: energy, gap, dipole");
}

TEST_CASE("The stored config keeps every value exactly and survives odd names") {
  std::string text = std::string(kMinimal) +
                     "[campaign]\nname = \"tab\\there \\\"quoted\\\"\"\n"
                     "[model]\nlearning_rate = 0.00031415926535\n";
  auto c = Parse(text);
  REQUIRE(c);
  auto again = Parse(c->ToToml());
  REQUIRE(again);
  CHECK(again->name == "tab\there \"quoted\"");
  CHECK(again->model.learning_rate == c->model.learning_rate);
  CHECK(again->model.learning_rate == 0.00031415926535);
}

TEST_CASE(
    "Acquisition - batch - router and stopping options round-trip through the stored config") {
  std::string text = std::string(kMinimal) +
                     "[acquisition]\nkind = \"threshold\"\nthreshold = 1.5\nxi = 0.1\n"
                     "batch = \"diverse\"\nmax_similarity = 0.45\nshortlist = 20\n"
                     "[stop]\nno_improvement_rounds = 3\ntarget = 0.9\n"
                     "[router]\ntrust_sigma = 0.25\nsimulation_cost = 2.5\n"
                     "[approval]\nroutes = [\"simulate\", \"experiment\"]\n";
  auto c = Parse(text);
  REQUIRE(c);
  CHECK(c->acquisition.threshold == 1.5);
  CHECK(c->acquisition.xi == 0.1);
  CHECK(c->batch_selection.kind == "diverse");
  CHECK(c->batch_selection.max_similarity == 0.45);
  CHECK(c->batch_selection.shortlist == 20);
  CHECK(c->stop_no_improvement_rounds == 3);
  CHECK(c->stop_target == 0.9);
  CHECK(c->router.trust_sigma == 0.25);
  CHECK(c->router.simulation_cost == 2.5);
  CHECK(c->router.experiments_left == 0);
  CHECK(c->approval_routes == std::vector<std::string>{"simulate", "experiment"});
  auto again = Parse(c->ToToml());
  REQUIRE(again);
  CHECK(again->ToToml() == c->ToToml());
  CHECK(again->stop_target == 0.9);
  // Unset options stay unset.
  auto plain = Parse(kMinimal);
  CHECK_FALSE(plain->stop_target);
  CHECK(plain->approval_routes == std::vector<std::string>{"experiment"});  // the default
  auto constrained = Parse(std::string(kMinimal) +
                           "[constraints.mol_wt]\nmax = 500.0\n[constraints.clogp]\nmin = -1.0\n");
  REQUIRE(constrained);
  REQUIRE(constrained->constraints.size() == 2);
  CHECK(constrained->constraints[0].property == "clogp");  // sorted by name
  CHECK(constrained->constraints[0].min == -1.0);
  CHECK(constrained->constraints[1].property == "mol_wt");
  CHECK(constrained->constraints[1].max == 500.0);
  CHECK(Parse(constrained->ToToml())->ToToml() == constrained->ToToml());
  CHECK(Parse(std::string(kMinimal) + "[constraints.weight]\nmax = 1.0\n")
            .error()
            .message.rfind("campaign.toml: key 'constraints.weight' is not a descriptor", 0) == 0);
  CHECK(Parse(std::string(kMinimal) + "[constraints.tpsa]\nmaximum = 1.0\n").error().message ==
        "campaign.toml: table 'constraints.tpsa' needs min or max");
  CHECK(Parse(std::string(kMinimal) + "[approval]\nroutes = []\n")->approval_routes.empty());
  CHECK(Parse(std::string(kMinimal) + "[approval]\nroutes = [\"trust\"]\n").error().message ==
        "campaign.toml: key 'approval.routes' has value 'trust', allowed: simulate, experiment");
  CHECK_FALSE(Parse(plain->ToToml())->acquisition.threshold);
}
