// Cross-fitted predictions: every training row predicted by a model fitted without it.
#include <catch2/catch.hpp>

#include <cmath>

#include "learners/cross_fit.h"
#include "tests/learners/esol_rows.h"

using namespace labloop;
using namespace labloop::learners;

namespace {

ModelRegistry Models() {
  ModelRegistry registry("model");
  RegisterBuiltinModels(registry);
  return registry;
}

ModelOptions Gp() {
  ModelOptions o;
  o.kind = "tanimoto_gp";
  return o;
}

}  // namespace

TEST_CASE("As many folds as rows: each row is predicted by a refit on all the others") {
  auto m = Esol(0, 20);
  auto models = Models();
  CrossFitOptions cross;
  cross.folds = 20;
  auto cv = CrossFitPredictions(models, Gp(), m.x, {}, m.y, cross);
  REQUIRE(cv);
  REQUIRE(cv->size() == 20);
  for (int64_t i = 0; i < 20; ++i) {
    std::vector<int64_t> others;
    std::vector<double> y_others;
    for (int64_t j = 0; j < 20; ++j) {
      if (j != i) others.push_back(j), y_others.push_back(m.y[j]);
    }
    auto refit = models.Create("tanimoto_gp", Gp());
    REQUIRE(refit);
    REQUIRE((*refit)->Fit(m.x.Select(others), y_others));
    auto p = (*refit)->Predict(m.x.Select({i}));
    REQUIRE(p);
    CAPTURE(i);
    CHECK(cv->mean[i] == Approx(p->mean[0]).epsilon(1e-9));
    CHECK(cv->sigma_epistemic[i] == Approx(p->sigma_epistemic[0]).epsilon(1e-9));
    CHECK(cv->sigma_aleatoric[i] == Approx(p->sigma_aleatoric[0]).epsilon(1e-9));
  }
}

TEST_CASE("Cross-fitting deals rows by its seed and reports each part") {
  auto m = Esol(0, 60);
  auto models = Models();
  std::vector<std::pair<int, int>> seen;
  CrossFitOptions cross;
  cross.folds = 4;
  cross.seed = 3;
  cross.progress = [&](int done, int total) { seen.emplace_back(done, total); };
  auto a = CrossFitPredictions(models, Gp(), m.x, {}, m.y, cross);
  REQUIRE(a);
  CHECK(seen == std::vector<std::pair<int, int>>{{1, 4}, {2, 4}, {3, 4}, {4, 4}});
  cross.progress = nullptr;
  auto again = CrossFitPredictions(models, Gp(), m.x, {}, m.y, cross);
  REQUIRE(again);
  CHECK(again->mean == a->mean);
  cross.seed = 4;
  auto other = CrossFitPredictions(models, Gp(), m.x, {}, m.y, cross);
  REQUIRE(other);
  CHECK(other->mean != a->mean);
  // Held-out predictions are worse than in-sample ones, and every row has one.
  auto fitted = models.Create("tanimoto_gp", Gp());
  REQUIRE((*fitted)->Fit(m.x, m.y));
  auto in_sample = (*fitted)->Predict(m.x);
  REQUIRE(in_sample);
  CHECK(Rmse(a->mean, m.y) > Rmse(in_sample->mean, m.y));
  for (size_t i = 0; i < a->size(); ++i) {
    CHECK(std::isfinite(a->mean[i]));
    CHECK(a->Sigma(i) > 0);
  }
}

TEST_CASE("Cross-fitting a graph model reads each part's graphs", "[slow]") {
  auto m = Esol(0, 30);
  auto models = Models();
  ModelOptions o;
  o.kind = "dmpnn";
  o.members = 2;
  o.hidden = 32;
  o.epochs = 5;
  o.batch_size = 16;
  o.threads = 1;
  CrossFitOptions cross;
  cross.folds = 3;
  auto cv = CrossFitPredictions(models, o, m.x, m.graphs, m.y, cross);
  REQUIRE(cv);
  REQUIRE(cv->size() == 30);
  for (size_t i = 0; i < cv->size(); ++i) {
    CHECK(std::isfinite(cv->mean[i]));
    CHECK(cv->Sigma(i) > 0);
  }
  // Without its graphs the first part model fails, and the error says which part.
  auto missing = CrossFitPredictions(models, o, m.x, {}, m.y, cross);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message.rfind("cross-fit part 1 of 3: dmpnn reads molecular graphs", 0) ==
        0);
}

TEST_CASE("Cross-fitting rejects folds and rows out of range, saying why") {
  auto m = Esol(0, 5);
  auto models = Models();
  CrossFitOptions cross;
  for (int folds : {1, 21}) {
    cross.folds = folds;
    auto bad = CrossFitPredictions(models, Gp(), m.x, {}, m.y, cross);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message == "cross-fitting needs 2 to 20 folds");
  }
  cross.folds = 6;
  auto few = CrossFitPredictions(models, Gp(), m.x, {}, m.y, cross);
  REQUIRE_FALSE(few);
  CHECK(few.error().code == ErrorCode::kInvalidArgument);
  CHECK(few.error().message.rfind("5 rows are too few for 6-fold cross-fitting", 0) == 0);
  cross.folds = 5;  // one row a part, four to train on
  CHECK(CrossFitPredictions(models, Gp(), m.x, {}, m.y, cross));
  auto short_y = CrossFitPredictions(models, Gp(), m.x, {}, {1.0, 2.0}, cross);
  REQUIRE_FALSE(short_y);
  CHECK(short_y.error().message == "cross-fitting needs one target per row: 2 targets for 5 rows");
}

TEST_CASE("Out-of-sample predictions: leave-one-out where the model has it, else cross-fitted") {
  auto m = Esol(0, 30);
  auto models = Models();
  CrossFitOptions cross;
  cross.folds = 3;
  auto gp = models.Create("tanimoto_gp", Gp());
  REQUIRE((*gp)->Fit(m.x, m.y));
  bool leave_one_out = false;
  auto p = OutOfSamplePredictions(**gp, models, Gp(), m.x, {}, m.y, cross, &leave_one_out);
  REQUIRE(p);
  CHECK(leave_one_out);
  auto loo = (*gp)->LeaveOneOut();
  REQUIRE(loo);
  CHECK(p->mean == loo->mean);

  ModelOptions ensemble;
  ensemble.kind = "deep_ensemble";
  ensemble.members = 2;
  ensemble.hidden = 16;
  ensemble.epochs = 2;
  ensemble.min_steps = 10;
  auto net = models.Create("deep_ensemble", ensemble);
  REQUIRE((*net)->Fit(m.x, m.y));
  auto cv = OutOfSamplePredictions(**net, models, ensemble, m.x, {}, m.y, cross, &leave_one_out);
  REQUIRE(cv);
  CHECK_FALSE(leave_one_out);
  auto direct = CrossFitPredictions(models, ensemble, m.x, {}, m.y, cross);
  REQUIRE(direct);
  CHECK(cv->mean == direct->mean);
  // No folds: a model without leave-one-out predictions has none to give.
  cross.folds = 0;
  auto none = OutOfSamplePredictions(**net, models, ensemble, m.x, {}, m.y, cross);
  REQUIRE_FALSE(none);
  CHECK(none.error().code == ErrorCode::kFailedPrecondition);
}
