#include <catch2/catch.hpp>

#include <cmath>
#include <map>

#include "learners/tanimoto_gp.h"

using namespace labloop;
using namespace labloop::learners;

namespace {
SparseMatrix Rows(const std::vector<std::map<int, float>>& rows) {
  SparseMatrix x(16);
  for (const auto& r : rows) {
    std::vector<int> idx;
    std::vector<float> val;
    for (auto [i, v] : r) idx.push_back(i), val.push_back(v);
    x.AddRow(idx, val);
  }
  return x;
}
}  // namespace

TEST_CASE("The Tanimoto GP matches an independent NumPy implementation") {
  // Reference: numpy.linalg.eigh / solve on the same MinMax kernel, with the noise ratio found by
  // a 200,001-point grid over log r of the same profile likelihood (/usr/bin/python3, float64).
  // Rows 0 and 1 are the same molecule measured twice (1.0 and 1.6): the noise must be > 0.
  auto train = Rows({{{1, 1}, {2, 2}, {3, 1}},
                     {{1, 1}, {2, 2}, {3, 1}},
                     {{3, 1}, {4, 3}},
                     {{5, 1}, {6, 1}, {7, 2}, {8, 1}},
                     {{1, 1}, {2, 1}, {4, 1}},
                     {{6, 2}, {7, 1}, {9, 1}},
                     {{2, 1}, {3, 1}, {9, 2}}});
  std::vector<double> y{1.0, 1.6, 2.0, 4.0, 1.5, 3.5, 1.2};
  auto query = Rows({{{1, 1}, {2, 2}}, {{5, 1}, {6, 1}}, {{10, 1}}, {{1, 1}, {2, 2}, {3, 1}}});
  ModelOptions options;
  options.kind = "tanimoto_gp";
  auto model = CreateTanimotoGp(options);
  REQUIRE(model);
  REQUIRE((*model)->Fit(train, y));
  auto p = (*model)->Predict(query);
  REQUIRE(p);
  const std::vector<double> mean{1.5264598284231232, 2.8555667023010955, 2.1142857142857143,
                                 1.336130497590303};
  const std::vector<double> sigma{0.6049685832900482, 0.8674245474007732, 0.9389639556525011,
                                  0.2593003304732095};
  for (size_t i = 0; i < 4; ++i) {
    CHECK(p->mean[i] == Approx(mean[i]).epsilon(1e-4));
    CHECK(p->sigma_epistemic[i] == Approx(sigma[i]).epsilon(1e-3));
    CHECK(p->sigma_aleatoric[i] == Approx(0.3857348884674128).epsilon(1e-3));
  }
  // A molecule sharing nothing with the training set gets the training mean and the prior σ.
  CHECK(p->mean[2] == Approx(2.1142857142857143));

  // PredictMean gives the same means and leaves σ out.
  auto means = (*model)->PredictMean(query);
  REQUIRE(means);
  for (size_t i = 0; i < 4; ++i) CHECK(means->mean[i] == Approx(p->mean[i]).epsilon(1e-12));
  CHECK(std::isnan(means->sigma_epistemic[0]));

  // Save / Load give the same predictions.
  auto bytes = (*model)->Save();
  REQUIRE(bytes);
  auto loaded = CreateTanimotoGp(options);
  REQUIRE((*loaded)->Load(*bytes));
  auto again = (*loaded)->Predict(query);
  REQUIRE(again);
  for (size_t i = 0; i < 4; ++i) {
    CHECK(again->mean[i] == p->mean[i]);
    CHECK(again->sigma_epistemic[i] == p->sigma_epistemic[i]);
  }
}

TEST_CASE("The Tanimoto GP predicts more rows than fit in one block and refuses bad input") {
  // 5,000 query rows (many 256-row blocks over the threads); each repeats a training row.
  SparseMatrix train(64), query(64);
  std::vector<double> y;
  for (int r = 0; r < 40; ++r) {
    train.AddRow(std::vector<int>{r, r + 1, r + 2}, {1.0f, 2.0f, 1.0f});
    y.push_back(std::sin(0.2 * r));
  }
  for (int r = 0; r < 5000; ++r) {
    int b = r % 40;
    query.AddRow(std::vector<int>{b, b + 1, b + 2}, {1.0f, 2.0f, 1.0f});
  }
  ModelOptions options;
  auto model = CreateTanimotoGp(options);
  REQUIRE((*model)->Fit(train, y));
  auto p = (*model)->Predict(query);
  REQUIRE(p);
  for (int r = 0; r < 5000; r += 997) {
    CHECK(p->mean[r] == Approx(y[r % 40]).margin(0.05));  // smooth data: near interpolation
    CHECK(p->sigma_epistemic[r] < 0.2);
  }
  CHECK_FALSE((*model)->Fit(train, std::vector<double>(3, 0.0)));  // sizes differ
  CHECK_FALSE((*model)->Predict(SparseMatrix(32)));                // other fingerprint length
  options.device = "cuda";
  CHECK(CreateTanimotoGp(options).error().message ==
        "tanimoto_gp runs on the cpu only (model.device is 'cuda')");
}
