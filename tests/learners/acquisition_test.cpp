#include <catch2/catch.hpp>

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
  CHECK(registry.Create("ei", bad).error().message ==
        "unknown acquisition 'ei' (known: greedy, random, ucb)");
}
