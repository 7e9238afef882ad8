#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "learners/deep_ensemble.h"
#include "learners/property_model.h"

using namespace labloop;
using namespace labloop::learners;

namespace {

// Rows with 3-6 random on-bits out of 64; the target is a sum of per-bit weights plus noise.
struct Synthetic {
  SparseMatrix x{64};
  std::vector<double> y;
};

Synthetic MakeData(int rows, uint64_t seed, int min_bit = 0, int max_bit = 63) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> bit(min_bit, max_bit), count(3, 6);
  std::normal_distribution<double> noise(0.0, 0.05);
  Synthetic d;
  for (int r = 0; r < rows; ++r) {
    std::vector<int64_t> idx;
    int n = count(rng);
    while (static_cast<int>(idx.size()) < n) {
      int b = bit(rng);
      if (std::find(idx.begin(), idx.end(), b) == idx.end()) idx.push_back(b);
    }
    std::sort(idx.begin(), idx.end());
    double target = 0;
    for (auto b : idx) target += std::sin(0.3 * static_cast<double>(b));
    d.x.AddRow(idx, std::vector<float>(idx.size(), 1.0f));
    d.y.push_back(target + noise(rng));
  }
  return d;
}

ModelOptions SmallOptions() {
  ModelOptions o;
  o.members = 4;
  o.hidden = 32;
  o.epochs = 150;
  o.seed = 3;
  o.threads = 1;
  return o;
}

}  // namespace

TEST_CASE("The deep ensemble learns a function of the on-bits") {
  auto train = MakeData(300, 1), test = MakeData(100, 2);
  auto model = CreateDeepEnsemble(SmallOptions());
  REQUIRE(model);
  REQUIRE((*model)->Fit(train.x, train.y));
  auto p = (*model)->Predict(test.x);
  REQUIRE(p);
  REQUIRE(p->size() == 100);
  double mean = 0;
  for (double v : test.y) mean += v / 100.0;
  std::vector<double> baseline(100, mean);
  double rmse = Rmse(p->mean, test.y), rmse_baseline = Rmse(baseline, test.y);
  INFO("rmse " << rmse << " vs predicting the mean " << rmse_baseline);
  CHECK(rmse < 0.5 * rmse_baseline);
  for (size_t i = 0; i < p->size(); ++i) {
    CHECK(p->sigma_epistemic[i] >= 0);
    CHECK(p->sigma_aleatoric[i] > 0);
  }
}

TEST_CASE("Epistemic uncertainty is larger far from the training data") {
  auto train = MakeData(200, 4, 0, 31);  // only bits 0-31 seen in training
  auto near = MakeData(100, 5, 0, 31), far = MakeData(100, 6, 32, 63);
  auto model = CreateDeepEnsemble(SmallOptions());
  REQUIRE((*model)->Fit(train.x, train.y));
  auto pn = (*model)->Predict(near.x), pf = (*model)->Predict(far.x);
  double sn = 0, sf = 0;
  for (size_t i = 0; i < 100; ++i) {
    sn += pn->sigma_epistemic[i];
    sf += pf->sigma_epistemic[i];
  }
  CHECK(sf > 1.5 * sn);
}

TEST_CASE("Training is reproducible for a seed and Save/Load round-trips exactly") {
  auto train = MakeData(120, 7), test = MakeData(30, 8);
  auto options = SmallOptions();
  options.epochs = 30;
  auto a = CreateDeepEnsemble(options), b = CreateDeepEnsemble(options);
  REQUIRE((*a)->Fit(train.x, train.y));
  REQUIRE((*b)->Fit(train.x, train.y));
  auto pa = (*a)->Predict(test.x), pb = (*b)->Predict(test.x);
  CHECK(pa->mean == pb->mean);
  auto bytes = (*a)->Save();
  REQUIRE(bytes);
  auto c = CreateDeepEnsemble(ModelOptions{});
  REQUIRE((*c)->Load(*bytes));
  auto pc = (*c)->Predict(test.x);
  REQUIRE(pc);
  CHECK(pc->mean == pa->mean);
  CHECK(pc->sigma_epistemic == pa->sigma_epistemic);
  CHECK(pc->sigma_aleatoric == pa->sigma_aleatoric);
}

TEST_CASE("Model misuse and bad options are clear errors") {
  auto model = CreateDeepEnsemble(SmallOptions());
  auto data = MakeData(1, 9);
  auto fit = (*model)->Fit(data.x, data.y);
  REQUIRE_FALSE(fit);
  CHECK(fit.error().code == ErrorCode::kInvalidArgument);
  CHECK((*model)->Predict(data.x).error().code == ErrorCode::kFailedPrecondition);
  CHECK_FALSE((*model)->Load("garbage"));
  ModelOptions bad;
  bad.members = 0;
  CHECK(CreateDeepEnsemble(bad).error().message == "model option members must be 1 to 64");
  ModelOptions gpu;
  gpu.device = "tpu";
  CHECK(CreateDeepEnsemble(gpu).error().message ==
        "unknown device 'tpu' (allowed: cpu, cuda, cuda:N)");
}
