#include "learners/acquisition.h"

#include <algorithm>
#include <numeric>
#include <random>

namespace labloop::learners {

namespace {

double Signed(double value, Direction direction) {
  return direction == Direction::kMaximize ? value : -value;
}

class Greedy final : public Acquisition {
 public:
  std::string Kind() const override { return "greedy"; }
  std::vector<double> Score(const Predictions& p, Direction direction, double) const override {
    std::vector<double> scores(p.size());
    for (size_t i = 0; i < p.size(); ++i) scores[i] = Signed(p.mean[i], direction);
    return scores;
  }
};

class Ucb final : public Acquisition {
 public:
  explicit Ucb(double beta) : beta_(beta) {}
  std::string Kind() const override { return "ucb"; }
  std::vector<double> Score(const Predictions& p, Direction direction, double) const override {
    std::vector<double> scores(p.size());
    for (size_t i = 0; i < p.size(); ++i) {
      scores[i] = Signed(p.mean[i], direction) + beta_ * p.Sigma(i);
    }
    return scores;
  }

 private:
  double beta_;
};

class Random final : public Acquisition {
 public:
  explicit Random(uint64_t seed) : seed_(seed) {}
  std::string Kind() const override { return "random"; }
  std::vector<double> Score(const Predictions& p, Direction, double) const override {
    std::mt19937_64 rng(seed_);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    std::vector<double> scores(p.size());
    for (auto& s : scores) s = uniform(rng);
    return scores;
  }

 private:
  uint64_t seed_;
};

}  // namespace

Status AcquisitionOptions::Validate() const {
  if (!(beta >= 0)) {
    return MakeError(ErrorCode::kInvalidArgument, "acquisition option beta must not be negative");
  }
  return {};
}

void RegisterBuiltinAcquisitions(AcquisitionRegistry& registry) {
  registry.Register("greedy",
                    [](const AcquisitionOptions&) -> Result<std::unique_ptr<Acquisition>> {
                      return std::make_unique<Greedy>();
                    });
  registry.Register("ucb", [](const AcquisitionOptions& o) -> Result<std::unique_ptr<Acquisition>> {
    if (auto valid = o.Validate(); !valid) return tl::unexpected(valid.error());
    return std::make_unique<Ucb>(o.beta);
  });
  registry.Register("random",
                    [](const AcquisitionOptions& o) -> Result<std::unique_ptr<Acquisition>> {
                      return std::make_unique<Random>(o.seed);
                    });
}

std::vector<int64_t> SelectTopK(const std::vector<double>& scores, int64_t k) {
  std::vector<int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  k = std::min<int64_t>(k, static_cast<int64_t>(order.size()));
  auto better = [&](int64_t a, int64_t b) {
    return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
  };
  std::partial_sort(order.begin(), order.begin() + k, order.end(), better);
  order.resize(k);
  return order;
}

}  // namespace labloop::learners
