#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "learners/acquisition.h"

using namespace labloop::learners;

namespace {
Predictions Make(std::vector<double> mean, std::vector<double> sigma) {
  Predictions p;
  p.mean = std::move(mean);
  p.sigma_epistemic = std::move(sigma);
  p.sigma_aleatoric.assign(p.mean.size(), 0.0);
  return p;
}

std::unique_ptr<Acquisition> Create(const std::string& kind, double beta = 2.0) {
  AcquisitionRegistry registry("acquisition");
  RegisterBuiltinAcquisitions(registry);
  AcquisitionOptions options;
  options.kind = kind;
  options.beta = beta;
  options.seed = 5;
  return std::move(*registry.Create(kind, options));
}
}  // namespace

TEST_CASE("Greedy picks the best mean in either direction") {
  auto p = Make({3.0, 1.0, 2.0}, {0.0, 0.0, 5.0});
  auto greedy = Create("greedy");
  CHECK(SelectTopK(greedy->Score(p, Direction::kMinimize, 0), 1) == std::vector<int64_t>{1});
  CHECK(SelectTopK(greedy->Score(p, Direction::kMaximize, 0), 1) == std::vector<int64_t>{0});
}

TEST_CASE("UCB trades the mean against beta sigma") {
  auto p = Make({3.0, 1.0, 2.0}, {0.0, 0.0, 1.0});
  // minimize: scores -3, -1, -2 + 2 = 0 -> candidate 2 wins with beta 2, candidate 1 with beta 0.
  CHECK(SelectTopK(Create("ucb", 2.0)->Score(p, Direction::kMinimize, 0), 1) ==
        std::vector<int64_t>{2});
  CHECK(SelectTopK(Create("ucb", 0.0)->Score(p, Direction::kMinimize, 0), 1) ==
        std::vector<int64_t>{1});
  auto scores = Create("ucb", 2.0)->Score(p, Direction::kMaximize, 0);
  CHECK(scores == std::vector<double>{3.0, 1.0, 4.0});
}

TEST_CASE("Random scores are reproducible for a seed and ignore the predictions") {
  auto p = Make({1, 2, 3, 4, 5}, {0, 0, 0, 0, 0});
  auto a = Create("random")->Score(p, Direction::kMinimize, 0);
  auto b = Create("random")->Score(Make({5, 4, 3, 2, 1}, {1, 1, 1, 1, 1}), Direction::kMaximize, 0);
  CHECK(a == b);
}

TEST_CASE("SelectTopK orders by score - breaks ties by index - caps k") {
  std::vector<double> scores{1.0, 5.0, 5.0, 3.0};
  CHECK(SelectTopK(scores, 3) == std::vector<int64_t>{1, 2, 3});
  CHECK(SelectTopK(scores, 10).size() == 4);
  CHECK(SelectTopK({}, 3).empty());
}

TEST_CASE("Acquisition options are validated") {
  AcquisitionRegistry registry("acquisition");
  RegisterBuiltinAcquisitions(registry);
  AcquisitionOptions bad;
  bad.beta = -1;
  CHECK_FALSE(registry.Create("ucb", bad));
  CHECK(registry.Create("ucb", bad).error().message ==
        "acquisition option beta must be finite and not negative");
  CHECK(registry.Create("qei", AcquisitionOptions{}).error().message ==
        "unknown acquisition 'qei' (known: ei, greedy, pi, random, thompson, threshold, ucb)");
  AcquisitionOptions no_threshold;
  no_threshold.kind = "threshold";
  CHECK_FALSE(registry.Create("threshold", no_threshold));
}

TEST_CASE("Expected improvement matches the closed form - far into the tail too") {
  // minimize, best 0: improvement of a candidate is -mu; z = -mu / sigma.
  // E[max(Z + z, 0)] by quadrature (scipy.integrate.quad, rel. 1e-13) at z = 2, 0, -3, -8.5, -10.
  auto ei = Create("ei");
  auto scores =
      ei->Score(Make({-2.0, 0.0, 3.0, 8.5, 10.0}, {1, 1, 1, 1, 1}), Direction::kMinimize, 0.0);
  CHECK(scores[0] == Approx(2.00849070261683).epsilon(1e-12));
  CHECK(scores[1] == Approx(0.39894228040143276).epsilon(1e-12));
  CHECK(scores[2] == Approx(0.00038215431704772363).epsilon(1e-10));
  CHECK(scores[3] == Approx(1.0863103279672954e-18).epsilon(1e-10));
  CHECK(scores[4] == Approx(7.474560254589339e-25).epsilon(1e-10));
  // Still ordered where the values are tiny.
  CHECK(SelectTopK(scores, 5) == std::vector<int64_t>{0, 1, 2, 3, 4});
  // sigma scales it: EI(mu, 2 sigma) = 2 EI(mu / 2, sigma).
  CHECK(ei->Score(Make({0.0}, {2.0}), Direction::kMaximize, 0.0)[0] ==
        Approx(2 * 0.39894228040143276));
  // No uncertainty: the plain improvement, or nothing.
  auto sure = ei->Score(Make({5.0, 1.0}, {0.0, 0.0}), Direction::kMaximize, 3.0);
  CHECK(sure == std::vector<double>{2.0, 0.0});
}

TEST_CASE("xi asks EI and PI for a margin over the best") {
  AcquisitionRegistry registry("acquisition");
  RegisterBuiltinAcquisitions(registry);
  AcquisitionOptions options;
  options.xi = 1.0;
  auto pi = std::move(*registry.Create("pi", options));
  // maximize, best 2, xi 1: candidate at mu 3 sits exactly on the margin -> 0.5.
  CHECK(pi->Score(Make({3.0}, {1.0}), Direction::kMaximize, 2.0)[0] == Approx(0.5));
  auto ei = std::move(*registry.Create("ei", options));
  CHECK(ei->Score(Make({3.0}, {1.0}), Direction::kMaximize, 2.0)[0] == Approx(0.39894228040143276));
}

TEST_CASE("Probability of improvement in either direction") {
  auto pi = Create("pi");
  // minimize, best 1: mu 0 sigma 1 -> P(y < 1) = Phi(1).
  CHECK(pi->Score(Make({0.0}, {1.0}), Direction::kMinimize, 1.0)[0] ==
        Approx(0.8413447460685429).epsilon(1e-12));
  // maximize, best 1: P(y > 1) = 1 - Phi(1).
  CHECK(pi->Score(Make({0.0}, {1.0}), Direction::kMaximize, 1.0)[0] ==
        Approx(1 - 0.8413447460685429).epsilon(1e-12));
  // Nothing measured yet: any candidate improves; the mean orders them.
  auto first = pi->Score(Make({3.0, 1.0}, {1.0, 1.0}), Direction::kMinimize,
                         std::numeric_limits<double>::infinity());
  CHECK(SelectTopK(first, 1) == std::vector<int64_t>{1});
}

TEST_CASE("Threshold scores the probability of beating a value") {
  AcquisitionRegistry registry("acquisition");
  RegisterBuiltinAcquisitions(registry);
  AcquisitionOptions options;
  options.kind = "threshold";
  options.threshold = -9.5;
  auto threshold = std::move(*registry.Create("threshold", options));
  auto scores =
      threshold->Score(Make({-9.5, -10.5, -8.0}, {1.0, 1.0, 0.0}), Direction::kMinimize, 0.0);
  CHECK(scores[0] == Approx(0.5));
  CHECK(scores[1] == Approx(0.8413447460685429).epsilon(1e-12));
  CHECK(scores[2] == 0.0);  // sure to miss
}

TEST_CASE("Thompson draws from ensemble members when the model gives them") {
  auto p = Make({0, 0, 0, 0}, {1, 1, 1, 1});
  p.member_means = {{1, 2, 3, 4}, {10, 20, 30, 40}};
  auto thompson = Create("thompson");
  auto scores = thompson->Score(p, Direction::kMaximize, 0);
  for (size_t i = 0; i < 4; ++i) {
    CHECK((scores[i] == p.member_means[0][i] || scores[i] == p.member_means[1][i]));
  }
  CHECK(thompson->Score(p, Direction::kMaximize, 0) == scores);  // same seed, same draw
  auto minimized = thompson->Score(p, Direction::kMinimize, 0);
  for (size_t i = 0; i < 4; ++i) CHECK(minimized[i] == -scores[i]);
}

TEST_CASE("Thompson without members draws normals with the epistemic sigma") {
  const size_t n = 20000;
  auto p = Make(std::vector<double>(n, 5.0), std::vector<double>(n, 2.0));
  auto scores = Create("thompson")->Score(p, Direction::kMaximize, 0);
  double mean = 0, square = 0;
  for (double s : scores) mean += s / n, square += s * s / n;
  double sd = std::sqrt(square - mean * mean);
  CHECK(mean == Approx(5.0).margin(0.05));  // 4 standard errors
  CHECK(sd == Approx(2.0).margin(0.05));
}
