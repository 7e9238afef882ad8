// Generators yield valid, distinct molecules with provenance, reproducibly.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/chem/reader.h"
#include "generators/generator.h"
#include "tests/support/temp_dir.h"

using namespace labloop;
using namespace labloop::generators;

namespace {
Result<std::vector<Proposal>> Pool(const std::string& file, int64_t n, uint64_t seed) {
  GeneratorRegistry registry("generator");
  RegisterBuiltinGenerators(registry);
  GeneratorOptions options;
  options.kind = "pool";
  options.pool = file;
  options.seed = seed;
  auto generator = registry.Create("pool", options);
  if (!generator) return tl::unexpected(generator.error());
  return (*generator)->Generate(n);
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
    if (provenance["generation"].get<int>() > 0) {
      evolved = true;
      CHECK(provenance["parents"].size() == 2);
    }
  }
  CHECK(evolved);  // the best are children, not the starting sample
  // The same seed, the same run.
  auto twin = (*registry.Create("graph_ga", options))->Generate(10);
  REQUIRE(twin);
  CHECK((*twin)[0].smiles == (*best)[0].smiles);
  // No fitness: a clear error.
  options.fitness = nullptr;
  CHECK(registry.Create("graph_ga", options).error().message.find("needs a fitness") !=
        std::string::npos);
}
