#include "learners/acquisition.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

namespace labloop::learners {

namespace {

constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

double Signed(double value, Direction direction) {
  return direction == Direction::kMaximize ? value : -value;
}

double NormalPdf(double z) { return kInvSqrt2Pi * std::exp(-0.5 * z * z); }
double NormalCdf(double z) { return 0.5 * std::erfc(-z * kInvSqrt2); }

// E[max(Z + z, 0)] for a standard normal Z: φ(z) + z Φ(z). The two terms cancel for z ≪ 0, but
// only about log10(z²) digits are lost (erfc is accurate to relative precision in its tail), so
// the closed form holds to ~1e-13 until φ underflows near z = -38.
double ExpectedPositivePart(double z) { return std::max(0.0, NormalPdf(z) + z * NormalCdf(z)); }

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

// EI and PI share the improvement z-score; in the "higher is better" frame the improvement of a
// candidate is Signed(μ) - Signed(best) - ξ. With nothing measured yet (best infinite) every
// candidate improves for certain and both reduce to greedy.
class Improvement final : public Acquisition {
 public:
  Improvement(bool expected, double xi) : expected_(expected), xi_(xi) {}
  std::string Kind() const override { return expected_ ? "ei" : "pi"; }
  std::vector<double> Score(const Predictions& p, Direction direction, double best) const override {
    std::vector<double> scores(p.size());
    if (!std::isfinite(best)) return Greedy().Score(p, direction, best);
    const double incumbent = Signed(best, direction) + xi_;
    for (size_t i = 0; i < p.size(); ++i) {
      double gain = Signed(p.mean[i], direction) - incumbent;
      double sigma = p.Sigma(i);
      if (!(sigma > 0)) {
        scores[i] = expected_ ? std::max(gain, 0.0) : (gain > 0 ? 1.0 : 0.0);
        continue;
      }
      double z = gain / sigma;
      scores[i] = expected_ ? sigma * ExpectedPositivePart(z) : NormalCdf(z);
    }
    return scores;
  }

 private:
  bool expected_;
  double xi_;
};

class Thompson final : public Acquisition {
 public:
  explicit Thompson(uint64_t seed) : seed_(seed) {}
  std::string Kind() const override { return "thompson"; }
  std::vector<double> Score(const Predictions& p, Direction direction, double) const override {
    std::mt19937_64 rng(seed_);
    std::vector<double> scores(p.size());
    const auto& members = p.member_means;
    if (!members.empty()) {
      std::uniform_int_distribution<size_t> pick(0, members.size() - 1);
      for (size_t i = 0; i < p.size(); ++i) {
        scores[i] = Signed(members[pick(rng)][i], direction);
      }
      return scores;
    }
    std::normal_distribution<double> normal(0.0, 1.0);
    for (size_t i = 0; i < p.size(); ++i) {
      scores[i] = Signed(p.mean[i] + p.sigma_epistemic[i] * normal(rng), direction);
    }
    return scores;
  }

 private:
  uint64_t seed_;
};

class Threshold final : public Acquisition {
 public:
  explicit Threshold(double threshold) : threshold_(threshold) {}
  std::string Kind() const override { return "threshold"; }
  std::vector<double> Score(const Predictions& p, Direction direction, double) const override {
    std::vector<double> scores(p.size());
    for (size_t i = 0; i < p.size(); ++i) {
      double margin = Signed(p.mean[i], direction) - Signed(threshold_, direction);
      double sigma = p.Sigma(i);
      scores[i] = sigma > 0 ? NormalCdf(margin / sigma) : (margin > 0 ? 1.0 : 0.0);
    }
    return scores;
  }

 private:
  double threshold_;
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

// Validates the options, then builds the acquisition.
template <typename Make>
AcquisitionRegistry::Factory Checked(Make make) {
  return [make](const AcquisitionOptions& o) -> Result<std::unique_ptr<Acquisition>> {
    if (auto valid = o.Validate(); !valid) return tl::unexpected(valid.error());
    return std::unique_ptr<Acquisition>(make(o));
  };
}

}  // namespace

Status AcquisitionOptions::Validate() const {
  auto bad = [](const std::string& what) {
    return MakeError(ErrorCode::kInvalidArgument, "acquisition option " + what);
  };
  if (!(beta >= 0 && std::isfinite(beta))) return bad("beta must be finite and not negative");
  if (!std::isfinite(xi)) return bad("xi must be finite");
  if (kind == "threshold" && !threshold) {
    return bad("threshold is required by the threshold acquisition (the value to beat)");
  }
  if (threshold && !std::isfinite(*threshold)) return bad("threshold must be finite");
  return {};
}

void RegisterBuiltinAcquisitions(AcquisitionRegistry& registry) {
  registry.Register("greedy", Checked([](const AcquisitionOptions&) { return new Greedy(); }));
  registry.Register("ucb", Checked([](const AcquisitionOptions& o) { return new Ucb(o.beta); }));
  registry.Register("ei", Checked([](const AcquisitionOptions& o) {
                      return new Improvement(/*expected=*/true, o.xi);
                    }));
  registry.Register("pi", Checked([](const AcquisitionOptions& o) {
                      return new Improvement(/*expected=*/false, o.xi);
                    }));
  registry.Register("thompson",
                    Checked([](const AcquisitionOptions& o) { return new Thompson(o.seed); }));
  registry.Register("threshold", Checked([](const AcquisitionOptions& o) {
                      return new Threshold(*o.threshold);
                    }));
  registry.Register("random",
                    Checked([](const AcquisitionOptions& o) { return new Random(o.seed); }));
}

std::vector<std::string> BuiltinAcquisitionNames() {
  AcquisitionRegistry registry("acquisition");
  RegisterBuiltinAcquisitions(registry);
  return registry.Names();
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
