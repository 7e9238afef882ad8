// The contract every registered PropertyModel keeps: fit, predict, save and load on a small data
// set, with the same answers after a round trip and for the same seed.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "learners/property_model.h"

using namespace labloop;
using namespace labloop::learners;

namespace {
SparseMatrix RandomRows(int rows, uint64_t seed, std::vector<double>* y) {
  std::mt19937_64 rng(seed);
  SparseMatrix x(128);
  for (int r = 0; r < rows; ++r) {
    std::vector<int> idx;
    for (int b = 0; b < 128; ++b) {
      if (rng() % 16 == 0) idx.push_back(b);
    }
    double target = 0;
    for (int b : idx) target += std::cos(0.1 * b);
    x.AddRow(idx, std::vector<float>(idx.size(), 1.0f));
    if (y) y->push_back(target);
  }
  return x;
}
}  // namespace

TEST_CASE("Every registered model keeps the PropertyModel contract") {
  ModelRegistry registry("model");
  RegisterBuiltinModels(registry);
  std::vector<double> y;
  auto train = RandomRows(80, 1, &y);
  auto test = RandomRows(30, 2, nullptr);
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
      CHECK_FALSE((*model)->Predict(test));  // not fitted yet: an error, not a crash
      CHECK_FALSE((*model)->Save());
      REQUIRE((*model)->Fit(train, y));
      auto p = (*model)->Predict(test);
      REQUIRE(p);
      REQUIRE(p->size() == 30);
      REQUIRE(p->sigma_epistemic.size() == 30);
      REQUIRE(p->sigma_aleatoric.size() == 30);
      for (size_t i = 0; i < 30; ++i) {
        CHECK(std::isfinite(p->mean[i]));
        CHECK(p->sigma_epistemic[i] >= 0);
        CHECK(p->sigma_aleatoric[i] >= 0);
      }
      auto means = (*model)->PredictMean(test);
      REQUIRE(means);
      for (size_t i = 0; i < 30; ++i) CHECK(means->mean[i] == Approx(p->mean[i]));

      // Save / Load: the same predictions from a fresh object.
      auto bytes = (*model)->Save();
      REQUIRE(bytes);
      auto loaded = registry.Create(kind, options);
      REQUIRE((*loaded)->Load(*bytes));
      auto again = (*loaded)->Predict(test);
      REQUIRE(again);
      for (size_t i = 0; i < 30; ++i) {
        CHECK(again->mean[i] == Approx(p->mean[i]).epsilon(1e-6));
        CHECK(again->Sigma(i) == Approx(p->Sigma(i)).epsilon(1e-6));
      }
      CHECK_FALSE((*loaded)->Load("not a model"));

      // Same seed, same data: the same model (CPU).
      auto twin = registry.Create(kind, options);
      REQUIRE((*twin)->Fit(train, y));
      auto twin_p = (*twin)->Predict(test);
      for (size_t i = 0; i < 30; ++i) CHECK(twin_p->mean[i] == p->mean[i]);

      // Bad input: an error, not a crash.
      CHECK_FALSE((*model)->Fit(train, std::vector<double>(5, 0.0)));
    }
  }
}
