// Generators yield valid, distinct molecules with provenance, reproducibly.
#include <catch2/catch.hpp>

#include <cmath>

#include <algorithm>
#include <fstream>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/chem/reader.h"
#include "generators/generator.h"
#include "generators/reactions.h"
#include "generators/smiles_lm.h"
#include "tests/support/temp_dir.h"

using namespace labloop;
using namespace labloop::generators;

namespace {
std::unique_ptr<Generator> PoolGenerator(const std::string& file, uint64_t seed) {
  GeneratorRegistry registry("generator");
  RegisterBuiltinGenerators(registry);
  GeneratorOptions options;
  options.kind = "pool";
  options.pool = file;
  options.seed = seed;
  auto generator = registry.Create("pool", options);
  return generator ? std::move(*generator) : nullptr;
}

Result<std::vector<Proposal>> Pool(const std::string& file, int64_t n, uint64_t seed) {
  auto generator = PoolGenerator(file, seed);
  if (!generator) return MakeError(ErrorCode::kNotFound, "no pool generator for '" + file + "'");
  return generator->Generate(n);
}
}  // namespace

TEST_CASE("The pool generator: distinct valid molecules - provenance - same seed same sample") {
  testing::TempDir dir;
  // 8 lines: 5 distinct molecules (ethanol three times, once as a salt), one broken line, a
  // comment.
  std::vector<std::string> lines = {"CCO",       "OCC", "c1ccccc1O", "C1CC",
                                    "# comment", "CCN", "CCO.Cl",    "CC(=O)O"};
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  std::string file = dir.Write("pool.smi", text);
  auto all = Pool(file, 100, 1);
  REQUIRE(all);
  CHECK(all->size() == 4);  // ethanol, phenol, ethylamine, acetic acid: each once
  std::set<std::string> keys;
  for (const auto& p : *all) {
    CHECK(keys.insert(p.inchikey).second);
    CHECK(p.generator == "pool");
    auto provenance = nlohmann::json::parse(p.provenance);
    CHECK(provenance["file"] == file);
    // The line it names holds this molecule.
    const auto& source = lines.at(provenance["line"].get<size_t>() - 1);
    auto record = chem::ProcessSmiles(source, chem::ReadOptions{});
    REQUIRE(record);
    CHECK(record->inchikey == p.inchikey);
  }
  auto two = Pool(file, 2, 7);
  REQUIRE(two);
  CHECK(two->size() == 2);
  auto again = Pool(file, 2, 7);
  CHECK((*again)[0].smiles == (*two)[0].smiles);
  CHECK((*again)[1].smiles == (*two)[1].smiles);

  CHECK_FALSE(Pool(dir.File("missing.smi"), 3, 1));
  auto no_column = Pool(dir.Write("p.csv", "name,value\na,1\n"), 3, 1);
  REQUIRE_FALSE(no_column);
  CHECK(no_column.error().message ==
        "p.csv: header 'name,value' has no column named like 'smiles'");
  auto csv = Pool(dir.Write("q.csv", "id,SMILES\nm1,CCO\nm2,CCCC\n"), 5, 1);
  REQUIRE(csv);
  CHECK(csv->size() == 2);
}

TEST_CASE("The pool generator draws again when unusable records leave its sample short") {
  testing::TempDir dir;
  // 100 lines, 60 unparsable and 40 distinct molecules: 30 asked for come back, whatever the
  // seed, although the first reservoir (30 + 30) holds about 24 usable ones.
  std::string text;
  for (int i = 0; i < 100; ++i) {
    text += i % 5 < 3 ? "C1CC(" + std::to_string(i) + "\n"
                      : "C" + std::string(i / 5 + 1, 'C') + (i % 5 == 3 ? "O" : "N") + "\n";
  }
  const std::string file = dir.Write("mostly_bad.smi", text);
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    auto generator = PoolGenerator(file, seed);
    REQUIRE(generator);
    auto sample = generator->Generate(30);
    REQUIRE(sample);
    CHECK(sample->size() == 30);
    auto report = nlohmann::json::parse(generator->Report());
    CHECK(report["records"] == 100);
    CHECK(report["unusable"].get<int>() > 0);
    CHECK(report["first_unusable"].get<std::string>().find("mostly_bad.smi:") != std::string::npos);
  }
}

TEST_CASE("The pool generator streams 250,000 ZINC molecules and samples them uniformly",
          "[integration]") {
  const std::string zinc = std::string(LABLOOP_SHARED_DATA) + "/generative/zinc250k.smi.gz";
  auto sample = Pool(zinc, 2000, 42);
  REQUIRE(sample);
  REQUIRE(sample->size() == 2000);
  double mean_line = 0;
  for (const auto& p : *sample) {
    mean_line += nlohmann::json::parse(p.provenance)["line"].get<double>() / 2000.0;
  }
  // Uniform over 249,455 lines: mean 124,728, standard error about 1,600.
  CHECK(mean_line > 124728 - 8000);
  CHECK(mean_line < 124728 + 8000);
}

TEST_CASE("A damaged gzipped pool is an error - not a silent half sample") {
  testing::TempDir dir;
  std::ifstream in(std::string(LABLOOP_SHARED_DATA) + "/generative/zinc250k.smi.gz",
                   std::ios::binary);
  std::string head(200000, '\0');
  in.read(&head[0], static_cast<std::streamsize>(head.size()));
  std::ofstream(dir.File("cut.smi.gz"), std::ios::binary) << head;
  auto sample = Pool(dir.File("cut.smi.gz"), 10, 1);
  REQUIRE_FALSE(sample);
  CHECK(sample.error().message.find("cut.smi.gz") != std::string::npos);
}

TEST_CASE("The graph GA climbs its fitness with valid - new - traceable molecules",
          "[integration]") {
  const std::string celecoxib = "Cc1ccc(-c2cc(C(F)(F)F)nn2-c2ccc(S(N)(=O)=O)cc2)cc1";
  auto fitness = SimilarityFitness(celecoxib);
  REQUIRE(fitness);
  GeneratorOptions options;
  options.kind = "graph_ga";
  options.pool = std::string(LABLOOP_SHARED_DATA) + "/generative/zinc_first_1000.smi";
  options.population = 40;
  options.generations = 8;
  options.seed = 3;
  options.fitness = *fitness;
  GeneratorRegistry registry("generator");
  RegisterBuiltinGenerators(registry);
  auto ga = registry.Create("graph_ga", options);
  REQUIRE(ga);
  auto best = (*ga)->Generate(10);
  REQUIRE(best);
  REQUIRE(best->size() == 10);
  auto report = nlohmann::json::parse((*ga)->Report());
  // The best of the starting sample, scored the same way.
  auto pool_options = options;
  pool_options.kind = "pool";
  auto start = (*registry.Create("pool", pool_options))->Generate(40);
  REQUIRE(start);
  std::vector<std::string> start_smiles;
  for (const auto& p : *start) start_smiles.push_back(p.smiles);
  auto start_scores = (*fitness)(start_smiles);
  const double start_best = *std::max_element(start_scores->begin(), start_scores->end());
  CHECK(report["best_fitness"].get<double>() > start_best);
  CHECK(report["fitness_calls"].get<int>() > 40);
  std::set<std::string> keys;
  bool evolved = false;
  for (const auto& p : *best) {
    CHECK(keys.insert(p.inchikey).second);
    CHECK(p.generator == "graph_ga");
    auto molecule = chem::ProcessSmiles(p.smiles, chem::ReadOptions{});
    CHECK(molecule);  // valid, sanitizable
    auto provenance = nlohmann::json::parse(p.provenance);
    CHECK(provenance.contains("generation"));
    // Children only: the starting molecules are known, never proposed.
    CHECK(provenance["generation"].get<int>() > 0);
    CHECK(std::find(start_smiles.begin(), start_smiles.end(), p.smiles) == start_smiles.end());
    if (provenance["generation"].get<int>() > 0) {
      evolved = true;
      CHECK(provenance["parents"].size() == 2);
    }
  }
  CHECK(evolved);
  // The same seed, the same run.
  auto twin = (*registry.Create("graph_ga", options))->Generate(10);
  REQUIRE(twin);
  CHECK((*twin)[0].smiles == (*best)[0].smiles);
  // No fitness: a clear error.
  options.fitness = nullptr;
  CHECK(registry.Create("graph_ga", options).error().message.find("needs a fitness") !=
        std::string::npos);
}

// --- reaction enumeration ---

TEST_CASE("Each built-in reaction gives the expected product - and leaves non-reactants alone") {
  const std::map<std::string, std::pair<std::vector<std::string>, std::string>> cases = {
      {"amide_coupling", {{"OC(=O)c1ccccc1", "NCc1ccccc1"}, "O=C(NCc1ccccc1)c1ccccc1"}},
      {"reductive_amination", {{"O=Cc1ccccc1", "C1COCCN1"}, "c1ccc(CN2CCOCC2)cc1"}},
      {"suzuki_coupling", {{"Brc1ccccn1", "OB(O)c1ccccc1"}, "c1ccc(-c2ccccn2)cc1"}},
      {"snar", {{"Clc1ncccn1", "C1CCNCC1"}, "c1cnc(N2CCCCC2)nc1"}},
      {"buchwald_hartwig", {{"Brc1ccc(OC)cc1", "C1COCCN1"}, "COc1ccc(N2CCOCC2)cc1"}},
      {"sulfonamide", {{"Cc1ccc(cc1)S(Cl)(=O)=O", "NCc1ccccc1"}, "Cc1ccc(S(=O)(=O)NCc2ccccc2)cc1"}},
      {"urea", {{"O=C=Nc1ccccc1", "C1CCNCC1"}, "O=C(Nc1ccccc1)N1CCCCC1"}},
      {"esterification", {{"CC(=O)O", "Oc1ccccc1"}, "CC(=O)Oc1ccccc1"}},
      {"o_alkylation", {{"Oc1ccccc1", "BrCc1ccccc1"}, "c1ccc(COc2ccccc2)cc1"}},
  };
  REQUIRE(BuiltinReactions().size() == cases.size());
  for (const auto& reaction : BuiltinReactions()) {
    INFO(reaction.name);
    const auto& [reactants, expected] = cases.at(reaction.name);
    auto products = RunReaction(reaction, reactants);
    REQUIRE(products);
    // Expected products were canonicalized by RDKit's Python build of the same version.
    CHECK(*products == std::vector<std::string>{expected});
  }
  // An amide nitrogen is no amine; an aryl chloride without an activating group takes no SNAr.
  auto find = [](const std::string& name) {
    for (const auto& r : BuiltinReactions()) {
      if (r.name == name) return r;
    }
    return ReactionTemplate{};
  };
  auto amide = RunReaction(find("amide_coupling"), {"OC(=O)c1ccccc1", "CC(N)=O"});
  REQUIRE(amide);
  CHECK(amide->empty());
  auto snar = RunReaction(find("snar"), {"Clc1ccccc1", "C1CCNCC1"});
  REQUIRE(snar);
  CHECK(snar->empty());
  CHECK(!RunReaction(find("snar"), {"Clc1ccccc1"}));  // wrong number of reactants
}

TEST_CASE("Reaction enumeration: valid distinct products with their route - a template file") {
  GeneratorRegistry registry("generator");
  RegisterBuiltinGenerators(registry);
  GeneratorOptions options;
  options.kind = "reactions";
  options.seed = 5;
  auto generator = registry.Create("reactions", options);
  REQUIRE(generator);
  auto products = (*generator)->Generate(300);
  REQUIRE(products);
  REQUIRE(products->size() == 300);
  std::set<std::string> keys, reactions;
  for (const auto& p : *products) {
    CHECK(keys.insert(p.inchikey).second);
    CHECK(p.generator == "reactions");
    auto record = chem::ProcessSmiles(p.smiles, chem::ReadOptions{});
    REQUIRE(record);
    CHECK(record->inchikey == p.inchikey);
    auto provenance = nlohmann::json::parse(p.provenance);
    reactions.insert(provenance["reaction"].get<std::string>());
    REQUIRE(provenance["reactants"].size() == 2);
    // The route replays: its reactants under its template give this product.
    const std::string route = provenance["route"];
    CHECK(route.find(">>" + p.smiles) != std::string::npos);
    for (const auto& r : BuiltinReactions()) {
      if (r.name != provenance["reaction"]) continue;
      auto replay = RunReaction(r, provenance["reactants"].get<std::vector<std::string>>());
      REQUIRE(replay);
      CHECK(std::find(replay->begin(), replay->end(), p.smiles) != replay->end());
    }
  }
  CHECK(reactions.size() >= 7);  // the templates are all used
  auto twin = (*registry.Create("reactions", options))->Generate(300);
  CHECK((*twin)[0].smiles == (*products)[0].smiles);

  testing::TempDir dir;
  dir.Write("rxn.txt",
            "# one template\namide  [C:1](=[O:2])-[OX2H1].[N;!H0:3]>>[C:1](=[O:2])-[N:3]\n");
  dir.Write("blocks.smi", "CC(=O)O\nOC(=O)c1ccccc1\nNCC\nC1CCNC1\n");
  options.reactions = dir.File("rxn.txt");
  options.building_blocks = dir.File("blocks.smi");
  auto custom = registry.Create("reactions", options);
  REQUIRE(custom);
  auto amides = (*custom)->Generate(10);
  REQUIRE(amides);
  CHECK(amides->size() == 4);  // 2 acids x 2 amines, and no more
  dir.Write("bad.txt", "amide  [C:1](=[O:2]>>C\n");
  options.reactions = dir.File("bad.txt");
  auto bad = registry.Create("reactions", options);
  REQUIRE(!bad);
  CHECK(bad.error().message.find("bad.txt:1") != std::string::npos);
}

// --- the SMILES language model ---

TEST_CASE("The shipped SMILES LSTM samples valid distinct molecules with its version",
          "[integration]") {
  GeneratorRegistry registry("generator");
  RegisterBuiltinGenerators(registry);
  GeneratorOptions options;
  options.kind = "smiles_lm";
  options.seed = 2;
  auto lm = registry.Create("smiles_lm", options);
  REQUIRE(lm);
  auto sampled = (*lm)->Generate(300);
  REQUIRE(sampled);
  REQUIRE(sampled->size() == 300);
  auto report = nlohmann::json::parse((*lm)->Report());
  CHECK(report["validity"].get<double>() > 0.7);  // 0.82 measured (docs/benchmarks.md)
  std::set<std::string> keys;
  for (const auto& p : *sampled) {
    CHECK(keys.insert(p.inchikey).second);
    CHECK(chem::ProcessSmiles(p.smiles, chem::ReadOptions{}));
    auto provenance = nlohmann::json::parse(p.provenance);
    CHECK(provenance["model"].get<std::string>().rfind("zinc250k_lstm@", 0) == 0);
  }
  auto twin = (*registry.Create("smiles_lm", options))->Generate(300);
  CHECK((*twin)[0].smiles == (*sampled)[0].smiles);
  // A cold temperature repeats the model's favourites: fewer distinct molecules per sample.
  auto cold_options = options;
  cold_options.temperature = 0.5;
  auto cold = registry.Create("smiles_lm", cold_options);
  REQUIRE((*cold)->Generate(300));
  auto cold_report = nlohmann::json::parse((*cold)->Report());
  CHECK(cold_report["validity"].get<double>() >= report["validity"].get<double>() - 0.02);
  options.temperature = 0;
  CHECK(!registry.Create("smiles_lm", options));
  options.temperature = 1;
  options.model = "/nonexistent/model.pt";
  CHECK(registry.Create("smiles_lm", options).error().message.find("/nonexistent/model.pt") !=
        std::string::npos);
}

TEST_CASE("The shipped SMILES LSTM's samples come with the likelihood the model gives them",
          "[integration]") {
  GeneratorOptions options;
  options.seed = 4;
  auto samples = SampleSmilesLm(options, 300);
  REQUIRE(samples);
  REQUIRE(samples->log_likelihood.size() == 300);
  auto scored = SmilesLogLikelihood(options, samples->smiles);
  REQUIRE(scored);
  int compared = 0;
  for (size_t i = 0; i < samples->smiles.size(); ++i) {
    if (samples->smiles[i].empty()) continue;  // never ended
    ++compared;
    INFO(samples->smiles[i] << ": sampled " << samples->log_likelihood[i] << ", scored "
                            << (*scored)[i]);
    CHECK(samples->log_likelihood[i] < 0);
    // The sampler's bfloat16 products (on CPUs with AVX-512 BF16) keep 3 significant digits.
    CHECK(std::abs(samples->log_likelihood[i] - (*scored)[i]) <
          0.02 * std::max(1.0, std::abs((*scored)[i])));
  }
  CHECK(compared > 250);
  auto unknown = SmilesLogLikelihood(options, {"CCO", "[U]"});
  REQUIRE(unknown);
  CHECK(std::isfinite((*unknown)[0]));
  CHECK(std::isnan((*unknown)[1]));  // a token the model does not know
}

namespace {
// The shipped model on `device`, before and after 30 steering steps toward celecoxib: the mean
// fitness of 100 proposals each, and the steered generator's report.
struct Steering {
  double prior_fitness = 0, steered_fitness = 0;
  std::vector<Proposal> steered;
  nlohmann::json report;
};

Steering SteerTowardCelecoxib(const std::string& device) {
  auto fitness = SimilarityFitness("Cc1ccc(-c2cc(C(F)(F)F)nn2-c2ccc(S(N)(=O)=O)cc2)cc1");
  REQUIRE(fitness);
  auto mean_fitness = [&](const std::vector<Proposal>& proposals) {
    std::vector<std::string> smiles;
    for (const auto& p : proposals) smiles.push_back(p.smiles);
    auto scores = (*fitness)(smiles);
    return std::accumulate(scores->begin(), scores->end(), 0.0) /
           static_cast<double>(scores->size());
  };
  GeneratorRegistry registry("generator");
  RegisterBuiltinGenerators(registry);
  GeneratorOptions options;
  options.kind = "smiles_lm";
  options.seed = 4;
  options.device = device;
  auto prior = (*registry.Create("smiles_lm", options))->Generate(100);
  REQUIRE(prior);
  options.fitness = *fitness;
  options.steps = 30;
  options.batch_size = 32;
  auto agent = registry.Create("smiles_lm", options);
  REQUIRE(agent);
  auto steered = (*agent)->Generate(100);
  REQUIRE(steered);
  return {mean_fitness(*prior), mean_fitness(*steered), *steered,
          nlohmann::json::parse((*agent)->Report())};
}
}  // namespace

TEST_CASE("Policy-gradient steering raises the fitness and keeps the molecules valid",
          "[integration]") {
  const Steering s = SteerTowardCelecoxib("cpu");
  INFO(s.report.dump());
  CHECK(s.report["fitness_calls"].get<int>() > 0);
  CHECK(s.report["validity"].get<double>() > 0.6);
  CHECK(s.steered_fitness > s.prior_fitness + 0.03);
  for (const auto& p : s.steered) {
    CHECK(nlohmann::json::parse(p.provenance)["steered_steps"] == 30);
  }
}

TEST_CASE("lm train writes a model that loads and samples", "[integration]") {
  testing::TempDir dir;
  LmTrainOptions train;
  train.data = std::string(LABLOOP_SHARED_DATA) + "/generative/zinc_first_1000.smi";
  train.output = dir.File("tiny.pt");
  train.epochs = 1;
  train.hidden = 32;
  train.embedding = 16;
  train.max_molecules = 500;
  std::vector<std::string> lines;
  train.log = [&](const std::string& line) { lines.push_back(line); };
  REQUIRE(TrainSmilesLm(train));
  CHECK(!lines.empty());
  GeneratorOptions options;
  options.model = train.output;
  auto samples = SampleSmilesLm(options, 50);
  REQUIRE(samples);
  CHECK(samples->smiles.size() == 50);
  CHECK(samples->model.rfind("tiny@", 0) == 0);
  // Trained further from the saved model: same sizes and vocabulary, new weights.
  train.init = train.output;
  train.output = dir.File("tiny2.pt");
  train.hidden = 999;  // ignored: the model keeps its own sizes
  REQUIRE(TrainSmilesLm(train));
  options.model = train.output;
  auto further = SampleSmilesLm(options, 10);
  REQUIRE(further);
  CHECK(further->model.substr(further->model.find('@')) !=
        samples->model.substr(samples->model.find('@')));
  train.init.clear();
  train.data = dir.File("missing.smi");
  CHECK(!TrainSmilesLm(train));
}

// Runs only where asked for ("[cuda]") on a machine with a CUDA LibTorch (docs/gpu.md).
TEST_CASE("The SMILES LSTM trains - samples and is steered on CUDA", "[.cuda]") {
  testing::TempDir dir;
  LmTrainOptions train;
  train.data = std::string(LABLOOP_SHARED_DATA) + "/generative/zinc_first_1000.smi";
  train.output = dir.File("tiny.pt");
  train.epochs = 2;
  train.hidden = 32;
  train.embedding = 16;
  train.device = "cuda";
  std::vector<std::string> lines;
  train.log = [&](const std::string& line) { lines.push_back(line); };
  REQUIRE(TrainSmilesLm(train));
  CHECK(lines.back().find("epoch 2: training loss") == 0);
  // Saved from CUDA, it loads and samples on either device.
  GeneratorOptions options;
  options.model = train.output;
  for (const std::string device : {"cuda", "cpu"}) {
    options.device = device;
    auto samples = SampleSmilesLm(options, 64);
    REQUIRE(samples);
    CHECK(samples->smiles.size() == 64);
    CHECK(samples->model.rfind("tiny@", 0) == 0);
  }

  // Steering the shipped model on CUDA raises the fitness, as on the CPU.
  const Steering s = SteerTowardCelecoxib("cuda");
  INFO(s.report.dump());
  CHECK(s.report["validity"].get<double>() > 0.6);
  CHECK(s.steered_fitness > s.prior_fitness + 0.03);
}
