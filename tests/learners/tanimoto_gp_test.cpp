#include <catch2/catch.hpp>

#include <cmath>
#include <map>

#include <nlohmann/json.hpp>

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

// Seven small fingerprints; rows 0 and 1 are the same molecule.
std::vector<std::map<int, float>> TrainingRows() {
  return {{{1, 1}, {2, 2}, {3, 1}},         {{1, 1}, {2, 2}, {3, 1}}, {{3, 1}, {4, 3}},
          {{5, 1}, {6, 1}, {7, 2}, {8, 1}}, {{1, 1}, {2, 1}, {4, 1}}, {{6, 2}, {7, 1}, {9, 1}},
          {{2, 1}, {3, 1}, {9, 2}}};
}
}  // namespace

TEST_CASE("The Tanimoto GP matches an independent NumPy implementation") {
  // Reference: numpy.linalg.eigh / solve on the same MinMax kernel, with the noise ratio found by
  // a 200,001-point grid over log r of the same profile likelihood (/usr/bin/python3, float64).
  // Rows 0 and 1 are the same molecule measured twice (1.0 and 1.6): the noise must be > 0.
  auto train = Rows(TrainingRows());
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

namespace {
double MinMax(const SparseMatrix& x, int64_t a, int64_t b) {
  std::map<int64_t, std::pair<double, double>> values;
  for (int64_t e = x.offsets[a]; e < x.offsets[a + 1]; ++e)
    values[x.indices[e]].first = x.values[e];
  for (int64_t e = x.offsets[b]; e < x.offsets[b + 1]; ++e)
    values[x.indices[e]].second = x.values[e];
  double low = 0, high = 0;
  for (auto [unused, v] : values)
    low += std::min(v.first, v.second), high += std::max(v.first, v.second);
  return high > 0 ? low / high : 0;
}

// Solves A z = b by Gaussian elimination with partial pivoting (A small and well conditioned).
std::vector<double> Solve(std::vector<std::vector<double>> a, std::vector<double> b) {
  const size_t n = b.size();
  for (size_t c = 0; c < n; ++c) {
    size_t pivot = c;
    for (size_t r = c + 1; r < n; ++r) {
      if (std::abs(a[r][c]) > std::abs(a[pivot][c])) pivot = r;
    }
    std::swap(a[c], a[pivot]);
    std::swap(b[c], b[pivot]);
    for (size_t r = c + 1; r < n; ++r) {
      const double f = a[r][c] / a[c][c];
      for (size_t k = c; k < n; ++k) a[r][k] -= f * a[c][k];
      b[r] -= f * b[c];
    }
  }
  std::vector<double> z(n);
  for (size_t r = n; r-- > 0;) {
    double sum = b[r];
    for (size_t k = r + 1; k < n; ++k) sum -= a[r][k] * z[k];
    z[r] = sum / a[r][r];
  }
  return z;
}
}  // namespace

TEST_CASE("The Tanimoto GP's leave-one-out predictions equal refits without each row") {
  auto rows = TrainingRows();
  rows.push_back({{4, 2}, {5, 1}, {8, 1}});
  auto train = Rows(rows);
  std::vector<double> y{1.0, 1.6, 2.0, 4.0, 1.5, 3.5, 1.2, 2.9};
  ModelOptions options;
  options.kind = "tanimoto_gp";
  auto model = CreateTanimotoGp(options);
  REQUIRE(model);
  REQUIRE((*model)->Fit(train, y));
  auto report = nlohmann::json::parse((*model)->FitReport());
  const double ratio = report.at("noise_ratio"), signal = report.at("signal_variance"),
               mu = report.at("mean");
  CHECK(mu == Approx(17.7 / 8));
  auto loo = (*model)->LeaveOneOut();
  REQUIRE(loo);
  REQUIRE(loo->size() == y.size());
  // The same hyperparameters and prior mean, the posterior of the other seven rows, solved
  // directly.
  const int64_t n = static_cast<int64_t>(y.size());
  for (int64_t i = 0; i < n; ++i) {
    std::vector<int64_t> others;
    for (int64_t j = 0; j < n; ++j) {
      if (j != i) others.push_back(j);
    }
    std::vector<std::vector<double>> k(others.size(), std::vector<double>(others.size()));
    std::vector<double> k_i(others.size()), centred(others.size());
    for (size_t a = 0; a < others.size(); ++a) {
      for (size_t b = 0; b < others.size(); ++b) {
        k[a][b] = MinMax(train, others[a], others[b]) + (a == b ? ratio : 0.0);
      }
      k_i[a] = MinMax(train, i, others[a]);
      centred[a] = y[others[a]] - mu;
    }
    auto alpha = Solve(k, centred);
    auto v = Solve(k, k_i);
    double mean = mu, explained = 0;
    for (size_t a = 0; a < others.size(); ++a)
      mean += k_i[a] * alpha[a], explained += k_i[a] * v[a];
    CAPTURE(i);
    CHECK(loo->mean[i] == Approx(mean).epsilon(1e-5));
    CHECK(loo->sigma_epistemic[i] == Approx(std::sqrt(signal * (1 - explained))).epsilon(1e-5));
    CHECK(loo->sigma_aleatoric[i] == Approx(std::sqrt(signal * ratio)));
  }
  // Row 0's twin (row 1) is in the others: its held-out mean leans towards the twin's 1.6.
  CHECK(loo->mean[0] > 1.3);

  // Models without an exact leave-one-out say so.
  ModelOptions ensemble;
  ensemble.kind = "deep_ensemble";
  ModelRegistry registry("model");
  RegisterBuiltinModels(registry);
  auto other = registry.Create("deep_ensemble", ensemble);
  REQUIRE(other);
  REQUIRE((*other)->Fit(train, y));
  auto none = (*other)->LeaveOneOut();
  REQUIRE_FALSE(none);
  CHECK(none.error().code == ErrorCode::kFailedPrecondition);

  // A saved and reloaded GP gives the same leave-one-out predictions.
  auto bytes = (*model)->Save();
  REQUIRE(bytes);
  auto reloaded = CreateTanimotoGp(options);
  REQUIRE((*reloaded)->Load(*bytes));
  auto again = (*reloaded)->LeaveOneOut();
  REQUIRE(again);
  for (int64_t i = 0; i < n; ++i) CHECK(again->mean[i] == Approx(loo->mean[i]).epsilon(1e-9));
}
