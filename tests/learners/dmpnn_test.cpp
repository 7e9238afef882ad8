// The D-MPNN on real molecules: graphs, learning, early stopping, descriptor features; and
// gp_dmpnn, its mixture with the Tanimoto GP.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "learners/dmpnn.h"
#include "learners/gp_dmpnn.h"
#include "learners/tanimoto_gp.h"
#include "tests/learners/esol_rows.h"

using namespace labloop;
using namespace labloop::learners;

namespace {

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
  REQUIRE((*model)->FitGraphs(train.x, train.graphs, train.y));
  auto p = (*model)->PredictGraphs(test.x, test.graphs);
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
  REQUIRE((*model)->FitGraphs(train.x, train.graphs, train.y));
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
  REQUIRE((*model)->FitGraphs(train.x, train.graphs, train.y));
  auto bytes = (*model)->Save();
  REQUIRE(bytes);
  auto loaded = CreateDmpnn(options);
  REQUIRE((*loaded)->Load(*bytes));
  auto original = (*model)->PredictGraphs(test.x, test.graphs);
  auto reloaded = (*loaded)->PredictGraphs(test.x, test.graphs);
  REQUIRE(original);
  INFO((reloaded ? "" : reloaded.error().message));
  REQUIRE(reloaded);
  CHECK(reloaded->mean == original->mean);
  test.graphs[3].features.clear();  // a molecule without them: an error naming it
  auto bad = (*model)->PredictGraphs(test.x, test.graphs);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("molecule 3") != std::string::npos);
}

TEST_CASE("D-MPNN standardizes molecule features: their scale does not matter") {
  auto train = Esol(0, 60), test = Esol(60, 10);
  auto scaled_train = train, scaled_test = test;
  for (auto* set : {&train, &test}) {
    for (auto& g : set->graphs) {
      g.features = {static_cast<float>(g.atoms) / 20.0f, static_cast<float>(g.Bonds()) / 20.0f};
    }
  }
  // The same features times 8, as descriptors scaled to [0, 8] instead of [0, 1] would be (a
  // power of two, so that standardizing gives bit-identical inputs and the same training).
  for (auto [from, to] : {std::pair{&train, &scaled_train}, std::pair{&test, &scaled_test}}) {
    for (size_t i = 0; i < from->graphs.size(); ++i) {
      to->graphs[i].features.clear();
      for (float f : from->graphs[i].features) to->graphs[i].features.push_back(8 * f);
    }
  }
  auto options = Small();
  options.epochs = 5;
  auto model = CreateDmpnn(options), scaled = CreateDmpnn(options);
  REQUIRE((*model)->FitGraphs(train.x, train.graphs, train.y));
  REQUIRE((*scaled)->FitGraphs(scaled_train.x, scaled_train.graphs, scaled_train.y));
  auto p = (*model)->PredictGraphs(test.x, test.graphs);
  auto q = (*scaled)->PredictGraphs(scaled_test.x, scaled_test.graphs);
  REQUIRE(p);
  REQUIRE(q);
  for (size_t i = 0; i < p->size(); ++i) {
    CHECK(q->mean[i] == p->mean[i]);
    CHECK(q->sigma_aleatoric[i] == p->sigma_aleatoric[i]);
  }
  // The features do reach the readout.
  for (auto& g : scaled_test.graphs) g.features = {100.0f, 100.0f};
  auto far = (*scaled)->PredictGraphs(scaled_test.x, scaled_test.graphs);
  REQUIRE(far);
  CHECK(std::abs(far->mean[0] - q->mean[0]) > 1e-3);
}

TEST_CASE("Mixing two models' predictions: the mixture's mean and variance") {
  Predictions a, b;
  a.mean = {1.0, -2.0};
  a.sigma_epistemic = {0.3, 0.0};
  a.sigma_aleatoric = {0.4, 0.5};
  b.mean = {2.0, -2.0};
  b.sigma_epistemic = {0.4, 0.0};
  b.sigma_aleatoric = {0.3, 0.5};
  auto p = MixPredictions(a, b);
  REQUIRE(p);
  CHECK(p->mean[0] == Approx(1.5));
  // Epistemic: the mean of the variances (0.125) plus the half gap squared (0.25).
  CHECK(p->sigma_epistemic[0] == Approx(std::sqrt(0.375)));
  CHECK(p->sigma_aleatoric[0] == Approx(std::sqrt(0.125)));
  // The total is the variance of the equal mixture N(1, 0.5²) + N(2, 0.5²): 0.25 + 0.25.
  CHECK(p->Sigma(0) == Approx(std::sqrt(0.5)));
  // Agreeing models with no epistemic σ: none is added.
  CHECK(p->mean[1] == Approx(-2.0));
  CHECK(p->sigma_epistemic[1] == 0.0);
  CHECK(p->sigma_aleatoric[1] == Approx(0.5));
  b.mean.pop_back();
  CHECK_FALSE(MixPredictions(a, b));
}

TEST_CASE("gp_dmpnn is the mixture of a Tanimoto GP and a D-MPNN fitted alone", "[slow]") {
  auto train = Esol(0, 110), test = Esol(110, 40);
  auto options = Small();
  options.epochs = 20;
  ModelRegistry registry("model");
  RegisterBuiltinModels(registry);
  options.kind = "gp_dmpnn";
  auto both = registry.Create("gp_dmpnn", options);
  REQUIRE(both);
  REQUIRE(KindReadsGraphs("gp_dmpnn"));
  REQUIRE((*both)->FitGraphs(train.x, train.graphs, train.y));
  auto p = (*both)->PredictGraphs(test.x, test.graphs);
  REQUIRE(p);

  auto gp = CreateTanimotoGp(options), mpnn = CreateDmpnn(options);
  REQUIRE((*gp)->Fit(train.x, train.y));
  REQUIRE((*mpnn)->FitGraphs(train.x, train.graphs, train.y));
  auto a = (*gp)->Predict(test.x), b = (*mpnn)->PredictGraphs(test.x, test.graphs);
  REQUIRE(a);
  REQUIRE(b);
  auto mixed = MixPredictions(*a, *b);
  REQUIRE(mixed);
  for (size_t i = 0; i < p->size(); ++i) {
    CHECK(p->mean[i] == Approx(mixed->mean[i]).epsilon(1e-9));
    CHECK(p->Sigma(i) == Approx(mixed->Sigma(i)).epsilon(1e-9));
  }
  // The means alone (the GP skips its σ) are the same means, without σ.
  auto means = (*both)->PredictGraphsMean(test.x, test.graphs);
  REQUIRE(means);
  for (size_t i = 0; i < p->size(); ++i) {
    CHECK(means->mean[i] == Approx(p->mean[i]).epsilon(1e-9));
    CHECK(std::isnan(means->sigma_epistemic[i]));
  }
  // Both parts' fit reports, under their names.
  auto report = nlohmann::json::parse((*both)->FitReport());
  CHECK(report.contains("tanimoto_gp"));
  CHECK(report.contains("dmpnn"));

  // Fingerprints and graphs must be of the same molecules; bad bytes do not load.
  auto fewer = test.graphs;
  fewer.pop_back();
  auto mismatch = (*both)->PredictGraphs(test.x, fewer);
  REQUIRE_FALSE(mismatch);
  CHECK(mismatch.error().message.find("39 graphs, 40 rows") != std::string::npos);
  auto bytes = (*both)->Save();
  REQUIRE(bytes);
  auto truncated = registry.Create("gp_dmpnn", options);
  CHECK_FALSE((*truncated)->Load(bytes->substr(0, 40)));
  // A whole header, then a D-MPNN part cut short: its own Load refuses it.
  CHECK_FALSE((*truncated)->Load(bytes->substr(0, bytes->size() - 100)));
  CHECK_FALSE((*truncated)->Load("labloop-gp-dmpnn 1 99999999999\n"));
}

TEST_CASE("D-MPNN: a molecule feature constant in training does not blow up later values") {
  auto train = Esol(0, 60), test = Esol(60, 10);
  // 1/3 is not exact in binary: a one-pass variance of identical values would be rounding
  // noise, and dividing by its square root would send 2/3 to thousands of s.d.
  for (auto& g : train.graphs) g.features = {1.0f / 3.0f};
  for (auto& g : test.graphs) g.features = {2.0f / 3.0f};
  auto options = Small();
  options.epochs = 5;
  auto model = CreateDmpnn(options);
  REQUIRE((*model)->FitGraphs(train.x, train.graphs, train.y));
  auto p = (*model)->PredictGraphs(test.x, test.graphs);
  REQUIRE(p);
  for (auto& g : test.graphs) g.features = {1.0f / 3.0f};
  auto same = (*model)->PredictGraphs(test.x, test.graphs);
  REQUIRE(same);
  for (size_t i = 0; i < p->size(); ++i) {
    // Scale 1 for such a feature: the new value moves μ a little, not by orders of magnitude.
    CHECK(std::abs(p->mean[i] - same->mean[i]) < 2.0);
    CHECK(p->Sigma(i) < 5.0);
  }
}
