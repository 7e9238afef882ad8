#include <catch2/catch.hpp>

#include <cmath>

#include "learners/objectives.h"

using namespace labloop::learners;

namespace {
std::vector<Objective> Both(Direction direction, size_t k = 2) {
  std::vector<Objective> objectives(k);
  for (size_t i = 0; i < k; ++i) {
    objectives[i].property = "p" + std::to_string(i);
    objectives[i].direction = direction;
  }
  return objectives;
}
}  // namespace

TEST_CASE("Hypervolume of a staircase in two objectives - either direction") {
  // The union of [0,1]x[0,3], [0,2]x[0,2], [0,3]x[0,1]: 3 + 2 + 1.
  CHECK(Hypervolume({{1, 3}, {2, 2}, {3, 1}}, {0, 0}, Both(Direction::kMaximize)) == 6.0);
  CHECK(Hypervolume({{-1, -3}, {-2, -2}, {-3, -1}}, {0, 0}, Both(Direction::kMinimize)) == 6.0);
  // A dominated point and one outside the reference box add nothing.
  CHECK(Hypervolume({{1, 3}, {2, 2}, {3, 1}, {1, 1}, {5, -1}}, {0, 0},
                    Both(Direction::kMaximize)) == 6.0);
  CHECK(Hypervolume({}, {0, 0}, Both(Direction::kMaximize)) == 0.0);
}

TEST_CASE("Hypervolume in three objectives by inclusion-exclusion") {
  auto three = Both(Direction::kMaximize, 3);
  CHECK(Hypervolume({{1, 1, 1}}, {0, 0, 0}, three) == 1.0);
  CHECK(Hypervolume({{2, 1, 1}, {1, 2, 1}}, {0, 0, 0}, three) == 3.0);
  // Three 2x1x1 boxes along different axes: 3 x 2 - 3 x 1 + 1.
  CHECK(Hypervolume({{2, 1, 1}, {1, 2, 1}, {1, 1, 2}}, {0, 0, 0}, three) == 4.0);
  // Mixed directions: maximize, minimize, maximize with reference (0, 5, 0).
  auto mixed = three;
  mixed[1].direction = Direction::kMinimize;
  CHECK(Hypervolume({{2, 4, 1}, {1, 3, 1}, {1, 4, 2}}, {0, 5, 0}, mixed) == 4.0);
}

TEST_CASE("Pareto ranks peel fronts") {
  auto max = Both(Direction::kMaximize);
  CHECK(ParetoRanks({{1, 1}, {2, 2}, {3, 3}}, max) == std::vector<int>{2, 1, 0});
  CHECK(ParetoRanks({{1, 3}, {3, 1}, {2, 2}, {1, 1}, {2, 2}}, max) ==
        std::vector<int>{0, 0, 0, 1, 0});  // ties do not dominate each other
  auto min = Both(Direction::kMinimize);
  CHECK(ParetoRanks({{1, 1}, {2, 2}, {3, 3}}, min) == std::vector<int>{0, 1, 2});
}

TEST_CASE("Expected hypervolume improvement averages the improvement over samples") {
  auto max = Both(Direction::kMaximize);
  std::vector<std::vector<double>> front{{1, 3}, {2, 2}, {3, 1}};
  // Candidate 0 draws (4,4) then (0.5,0.5): improvements 16 - 6 = 10 and 0.
  // Candidate 1 draws a front point twice: no improvement.
  // Candidate 2 draws (3,3) both times: the square [0,3]^2 adds 9 - 6.
  std::vector<std::vector<std::vector<double>>> samples{{{4, 4}, {2, 2}, {3, 3}},
                                                        {{0.5, 0.5}, {2, 2}, {3, 3}}};
  auto ehvi = ExpectedHypervolumeImprovement(front, {0, 0}, max, samples);
  CHECK(ehvi == std::vector<double>{5.0, 0.0, 3.0});
}

TEST_CASE("Desirability ramps combine by a weighted geometric mean") {
  Objective up;
  up.property = "solubility";
  up.direction = Direction::kMaximize;
  up.worst = 0;
  up.best = 10;
  Objective down;
  down.property = "toxicity";
  down.direction = Direction::kMinimize;
  down.worst = 10;
  down.best = 0;
  CHECK(Desirability(up, 5) == 0.5);
  CHECK(Desirability(up, 12) == 1.0);
  CHECK(Desirability(down, 2) == Approx(0.8));
  CHECK(CombinedDesirability({up, down}, {5, 2}) == Approx(std::sqrt(0.5 * 0.8)));
  CHECK(CombinedDesirability({up, down}, {5, 11}) == 0.0);  // one unacceptable value sinks it
  up.shape = 2;
  CHECK(Desirability(up, 5) == 0.25);
  up.weight = 3;
  CHECK(CombinedDesirability({up, down}, {5, 2}) ==
        Approx(std::pow(std::pow(0.25, 3) * 0.8, 1.0 / 4)));
  Objective half = up;
  half.best.reset();
  CHECK_FALSE(half.Validate());
}

TEST_CASE("Constraints say what they reject") {
  Constraint mw{"mw", std::nullopt, 500.0};
  CHECK(mw.Violation(420).empty());
  CHECK(mw.Violation(612.3) == "mw = 612.3 > 500");
  Constraint logp{"logp", -1.0, 5.0};
  CHECK(logp.Violation(-2) == "logp = -2 < -1");
  CHECK(logp.Violation(std::nan("")) == "logp is not available");
}
