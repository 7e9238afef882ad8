// The D-MPNN on real molecules: graphs, learning, early stopping, descriptor features.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/chem/graph.h"
#include "core/chem/molecule.h"
#include "learners/dmpnn.h"

using namespace labloop;
using namespace labloop::learners;

namespace {

struct Molecules {
  std::vector<chem::MolGraph> graphs;
  std::vector<double> y;
};

// ESOL rows [first, first + count) of tests/data/esol150.csv.
Molecules Esol(size_t first, size_t count) {
  std::ifstream in(std::string(LABLOOP_TEST_DATA) + "/esol150.csv");
  std::string line;
  std::getline(in, line);
  Molecules m;
  for (size_t row = 0; std::getline(in, line) && m.y.size() < count; ++row) {
    if (row < first) continue;
    auto comma = line.find(',');
    auto molecule = chem::Molecule::FromSmiles(line.substr(0, comma));
    REQUIRE(molecule);
    auto graph = chem::BuildMolGraph(*molecule);
    REQUIRE(graph);
    m.graphs.push_back(*graph);
    m.y.push_back(std::stod(line.substr(comma + 1)));
  }
  return m;
}

ModelOptions Small() {
  ModelOptions o;
  o.kind = "dmpnn";
  o.members = 3;
  o.hidden = 64;
  o.epochs = 60;
  o.batch_size = 16;
  o.seed = 5;
  o.threads = 1;
  return o;
}

}  // namespace

TEST_CASE("Molecular graphs: atoms - bonds and their features") {
  auto phenol = chem::Molecule::FromSmiles("c1ccccc1O");
  REQUIRE(phenol);
  auto g = chem::BuildMolGraph(*phenol);
  REQUIRE(g);
  CHECK(g->atoms == 7);  // heavy atoms only
  CHECK(g->Bonds() == 7);
  std::vector<float> atom(chem::kAtomFeatures, 0.0f), bond(chem::kBondFeatures, 0.0f);
  chem::FeaturizeAtom(*g, 6, atom.data());  // the oxygen
  CHECK(atom[4] == 1.0f);                   // element O
  float ones = 0;
  for (float v : atom) ones += v;
  CHECK(ones == 6.0f);  // one per category (degree, charge, chirality, Hs, hybridization) + O
  chem::FeaturizeBond(*g, 0, bond.data());  // an aromatic ring bond
  CHECK(bond[3] == 1.0f);                   // aromatic
  CHECK(bond[5] == 1.0f);                   // in a ring
}

TEST_CASE("D-MPNN learns solubility from graphs and knows where it is unsure", "[slow]") {
  auto train = Esol(0, 110), test = Esol(110, 40);
  auto model = CreateDmpnn(Small());
  REQUIRE(model);
  REQUIRE((*model)->ReadsGraphs());
  REQUIRE((*model)->FitGraphs(train.graphs, train.y));
  auto p = (*model)->PredictGraphs(test.graphs);
  REQUIRE(p);
  double mean = 0;
  for (double v : train.y) mean += v / static_cast<double>(train.y.size());
  const double baseline = Rmse(std::vector<double>(test.y.size(), mean), test.y);
  CHECK(Rmse(p->mean, test.y) < 0.75 * baseline);  // far better than the training mean
  double spread = 0;
  for (double s : p->sigma_epistemic) spread += s;
  CHECK(spread > 0);  // the members disagree somewhere
  CHECK(p->member_means.size() == 3);
  // Fingerprints are not its input: a clear error.
  CHECK((*model)->Predict(SparseMatrix(16)).error().message.find("graphs") != std::string::npos);
}

TEST_CASE("D-MPNN early stopping keeps the best epoch and reports it", "[slow]") {
  auto train = Esol(0, 120);
  auto options = Small();
  options.members = 2;
  options.epochs = 400;  // far more than needed: early stopping must end it
  options.validation_fraction = 0.25;
  options.patience = 5;
  auto model = CreateDmpnn(options);
  REQUIRE((*model)->FitGraphs(train.graphs, train.y));
  auto report = nlohmann::json::parse((*model)->FitReport());
  REQUIRE(report.contains("early_stopping"));
  CHECK(report["early_stopping"]["held_out"] == 30);
  for (const auto& epoch : report["early_stopping"]["best_epoch_per_member"]) {
    CHECK(epoch.get<int>() >= 0);
    CHECK(epoch.get<int>() < 200);
  }
  for (const auto& rmse : report["early_stopping"]["validation_rmse_per_member"]) {
    CHECK(rmse.get<double>() > 0);
    CHECK(rmse.get<double>() < 2.0);  // logS units; the data's spread is about 2
  }
}

TEST_CASE("D-MPNN reads molecule features beside the graph") {
  auto train = Esol(0, 60), test = Esol(60, 10);
  for (auto* set : {&train, &test}) {
    for (auto& g : set->graphs) g.features = {0.5f, static_cast<float>(g.atoms) / 20.0f};
  }
  auto options = Small();
  options.epochs = 5;
  auto model = CreateDmpnn(options);
  REQUIRE((*model)->FitGraphs(train.graphs, train.y));
  auto bytes = (*model)->Save();
  REQUIRE(bytes);
  auto loaded = CreateDmpnn(options);
  REQUIRE((*loaded)->Load(*bytes));
  auto original = (*model)->PredictGraphs(test.graphs);
  auto reloaded = (*loaded)->PredictGraphs(test.graphs);
  REQUIRE(original);
  INFO((reloaded ? "" : reloaded.error().message));
  REQUIRE(reloaded);
  CHECK(reloaded->mean == original->mean);
  test.graphs[3].features.clear();  // a molecule without them: an error naming it
  auto bad = (*model)->PredictGraphs(test.graphs);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("molecule 3") != std::string::npos);
}
