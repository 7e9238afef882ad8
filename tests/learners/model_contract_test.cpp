// The contract every registered PropertyModel keeps: fit, predict, save and load on a small data
// set, with the same answers after a round trip and for the same seed.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <random>

#include "core/chem/fingerprint.h"
#include "core/chem/graph.h"
#include "core/chem/molecule.h"

#include "learners/property_model.h"

using namespace labloop;
using namespace labloop::learners;

namespace {
// ESOL molecules as both inputs a model may read: count fingerprints and graphs.
struct Data {
  SparseMatrix x{1024};
  std::vector<chem::MolGraph> graphs;
  std::vector<double> y;
};

Data Esol(size_t first, size_t count) {
  std::ifstream in(std::string(LABLOOP_TEST_DATA) + "/esol150.csv");
  std::string line;
  std::getline(in, line);  // header
  Data d;
  chem::MorganOptions morgan;
  morgan.size = 1024;
  for (size_t row = 0; std::getline(in, line) && d.y.size() < count; ++row) {
    if (row < first) continue;
    auto comma = line.find(',');
    auto molecule = chem::Molecule::FromSmiles(line.substr(0, comma));
    REQUIRE(molecule);
    auto fp = chem::MorganFingerprint(*molecule, morgan);
    d.x.AddRow(std::vector<int>(fp.indices.begin(), fp.indices.end()), fp.values);
    d.graphs.push_back(*chem::BuildMolGraph(*molecule));
    d.y.push_back(std::stod(line.substr(comma + 1)));
  }
  return d;
}

Status Fit(PropertyModel& model, const Data& d, const std::vector<double>& y) {
  return FitOn(model, d.x, d.graphs, y);
}

Result<Predictions> Predict(const PropertyModel& model, const Data& d) {
  return PredictOn(model, d.x, d.graphs);
}
}  // namespace

TEST_CASE("Every registered model keeps the PropertyModel contract") {
  ModelRegistry registry("model");
  RegisterBuiltinModels(registry);
  const Data train = Esol(0, 80), test = Esol(100, 30);
  const std::vector<double>& y = train.y;
  for (const auto& kind : registry.Names()) {
    DYNAMIC_SECTION(kind) {
      ModelOptions options;
      options.kind = kind;
      options.seed = 11;
      options.hidden = 16;
      options.members = 3;
      options.min_steps = 50;
      options.epochs = 5;
      options.threads = 1;
      auto model = registry.Create(kind, options);
      REQUIRE(model);
      CHECK((*model)->Kind() == kind);
      CHECK_FALSE(Predict(**model, test));  // not fitted yet: an error, not a crash
      CHECK_FALSE((*model)->Save());
      REQUIRE(Fit(**model, train, y));
      auto p = Predict(**model, test);
      REQUIRE(p);
      REQUIRE(p->size() == 30);
      REQUIRE(p->sigma_epistemic.size() == 30);
      REQUIRE(p->sigma_aleatoric.size() == 30);
      for (size_t i = 0; i < 30; ++i) {
        CHECK(std::isfinite(p->mean[i]));
        CHECK(p->sigma_epistemic[i] >= 0);
        CHECK(p->sigma_aleatoric[i] >= 0);
      }
      if (!(*model)->ReadsGraphs()) {
        auto means = (*model)->PredictMean(test.x);
        REQUIRE(means);
        for (size_t i = 0; i < 30; ++i) CHECK(means->mean[i] == Approx(p->mean[i]));
      }

      // Save / Load: the same predictions from a fresh object.
      auto bytes = (*model)->Save();
      REQUIRE(bytes);
      auto loaded = registry.Create(kind, options);
      REQUIRE((*loaded)->Load(*bytes));
      auto again = Predict(**loaded, test);
      REQUIRE(again);
      for (size_t i = 0; i < 30; ++i) {
        CHECK(again->mean[i] == Approx(p->mean[i]).epsilon(1e-6));
        CHECK(again->Sigma(i) == Approx(p->Sigma(i)).epsilon(1e-6));
      }
      CHECK_FALSE((*loaded)->Load("not a model"));

      // Same seed, same data: the same model (CPU).
      auto twin = registry.Create(kind, options);
      REQUIRE(Fit(**twin, train, y));
      auto twin_p = Predict(**twin, test);
      for (size_t i = 0; i < 30; ++i) CHECK(twin_p->mean[i] == p->mean[i]);

      // Bad input: an error, not a crash.
      CHECK_FALSE(Fit(**model, train, std::vector<double>(5, 0.0)));
    }
  }
}
