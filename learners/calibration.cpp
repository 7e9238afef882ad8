#include "learners/calibration.h"

#include <ceres/gradient_problem.h>
#include <ceres/gradient_problem_solver.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>

#include <nlohmann/json.hpp>

namespace labloop::learners {

namespace {

using json = nlohmann::json;

Status CheckInputs(const std::vector<double>& sigma, const std::vector<double>& residual) {
  if (sigma.size() != residual.size() || sigma.size() < 2) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "calibration needs at least 2 validation points with one σ and one residual "
                     "each");
  }
  for (size_t i = 0; i < sigma.size(); ++i) {
    if (!(sigma[i] > 0) || !std::isfinite(sigma[i]) || !std::isfinite(residual[i])) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          "calibration needs finite residuals and σ > 0 (point " + std::to_string(i) + ")");
    }
  }
  return {};
}

// Linear interpolation through knots (x ascending), flat beyond the ends.
double Interpolate(const std::vector<double>& x, const std::vector<double>& y, double at) {
  if (std::isnan(at)) return at;
  if (at <= x.front()) return y.front();
  if (at >= x.back()) return y.back();
  size_t hi = std::upper_bound(x.begin(), x.end(), at) - x.begin();
  size_t lo = hi - 1;
  double t = (at - x[lo]) / (x[hi] - x[lo]);
  return y[lo] + t * (y[hi] - y[lo]);
}

// The NLL of residuals under σ' = sqrt(a² σ² + b²), in log-parameters so that a, b stay > 0.
class ScalingLikelihood final : public ceres::FirstOrderFunction {
 public:
  ScalingLikelihood(const std::vector<double>& sigma, const std::vector<double>& residual)
      : sigma_(sigma), residual_(residual) {}
  int NumParameters() const override { return 2; }
  bool Evaluate(const double* theta, double* cost, double* gradient) const override {
    const double a2 = std::exp(2 * theta[0]), b2 = std::exp(2 * theta[1]);
    double total = 0, g0 = 0, g1 = 0;
    for (size_t i = 0; i < sigma_.size(); ++i) {
      const double s2 = sigma_[i] * sigma_[i];
      const double v = a2 * s2 + b2;
      const double r2 = residual_[i] * residual_[i];
      total += 0.5 * std::log(v) + r2 / (2 * v);
      const double d_v = 0.5 / v - r2 / (2 * v * v);
      g0 += d_v * 2 * a2 * s2;
      g1 += d_v * 2 * b2;
    }
    const double n = static_cast<double>(sigma_.size());
    *cost = total / n;
    if (gradient != nullptr) {
      gradient[0] = g0 / n;
      gradient[1] = g1 / n;
    }
    return std::isfinite(total);
  }

 private:
  const std::vector<double>& sigma_;
  const std::vector<double>& residual_;
};

class SigmaScaling final : public Calibrator {
 public:
  std::string Kind() const override { return "sigma_scaling"; }
  Status Fit(const std::vector<double>& sigma, const std::vector<double>& residual) override {
    LABLOOP_TRY(CheckInputs(sigma, residual));
    // Starts: the closed-form scale without a floor, with a small and with a large floor (the
    // floor's gradient vanishes as it shrinks, so one start near 0 can stall there).
    double ratio = 0, mean_square = 0;
    for (size_t i = 0; i < sigma.size(); ++i) {
      ratio += residual[i] * residual[i] / (sigma[i] * sigma[i]);
      mean_square += residual[i] * residual[i];
    }
    ratio /= sigma.size();
    mean_square /= sigma.size();
    ceres::GradientProblem problem(new ScalingLikelihood(sigma, residual));
    ceres::GradientProblemSolver::Options options;
    options.max_num_iterations = 500;
    options.function_tolerance = 1e-12;
    options.gradient_tolerance = 1e-12;
    options.logging_type = ceres::SILENT;
    double best_cost = std::numeric_limits<double>::infinity();
    double theta[2] = {0, 0};
    std::string report;
    for (double floor_share : {0.01, 0.3}) {
      double start[2] = {0.5 * std::log(std::max(ratio, 1e-12)),
                         std::log(std::max(floor_share * std::sqrt(mean_square), 1e-12))};
      ceres::GradientProblemSolver::Summary summary;
      ceres::Solve(options, problem, start, &summary);
      report = summary.BriefReport();
      if (std::isfinite(start[0]) && std::isfinite(start[1]) && summary.final_cost < best_cost) {
        best_cost = summary.final_cost;
        theta[0] = start[0];
        theta[1] = start[1];
      }
    }
    if (!std::isfinite(best_cost)) {
      return MakeError(ErrorCode::kFailedPrecondition, "σ scaling did not converge: " + report);
    }
    scale_ = std::exp(theta[0]);
    floor_ = std::exp(theta[1]);
    if (!(std::isfinite(scale_) && scale_ > 0 && std::isfinite(floor_))) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "σ scaling found no usable scale (are the residuals all zero?)");
    }
    return {};
  }
  double Apply(double sigma) const override { return std::hypot(scale_ * sigma, floor_); }
  std::string Save() const override {
    return json{{"kind", Kind()}, {"scale", scale_}, {"floor", floor_}}.dump();
  }
  Status Load(const std::string& text) override {
    auto j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.contains("scale") || !j.contains("floor") ||
        !j["scale"].is_number() || !j["floor"].is_number()) {
      return MakeError(ErrorCode::kInvalidArgument, "not a sigma_scaling calibration: " + text);
    }
    const double scale = j["scale"].get<double>(), floor = j["floor"].get<double>();
    if (!(scale > 0) || !std::isfinite(scale) || !(floor >= 0) || !std::isfinite(floor)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "damaged sigma_scaling calibration (scale and floor must be finite, "
                       "scale > 0, floor >= 0): " +
                           text);
    }
    scale_ = scale;
    floor_ = floor;
    return {};
  }

 private:
  double scale_ = 1, floor_ = 0;
};

// Knots of σ → calibrated σ (isotonic and empirical differ only in how they are fitted).
class KnotCalibrator : public Calibrator {
 public:
  double Apply(double sigma) const override {
    return knots_x_.empty() ? sigma : Interpolate(knots_x_, knots_y_, sigma);
  }
  std::string Save() const override {
    return json{{"kind", Kind()}, {"sigma", knots_x_}, {"calibrated", knots_y_}}.dump();
  }
  Status Load(const std::string& text) override {
    auto j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.contains("sigma") || !j.contains("calibrated") ||
        !j["sigma"].is_array() || !j["calibrated"].is_array()) {
      return MakeError(ErrorCode::kInvalidArgument, "not a " + Kind() + " calibration: " + text);
    }
    std::vector<double> x, y;
    for (const auto& v : j["sigma"]) x.push_back(v.is_number() ? v.get<double>() : NAN);
    for (const auto& v : j["calibrated"]) y.push_back(v.is_number() ? v.get<double>() : NAN);
    // Interpolate needs ascending knots; a calibrated σ is finite and not negative.
    bool valid = !x.empty() && x.size() == y.size();
    for (size_t k = 0; valid && k < x.size(); ++k) {
      valid =
          std::isfinite(x[k]) && std::isfinite(y[k]) && y[k] >= 0 && (k == 0 || x[k] >= x[k - 1]);
    }
    if (!valid) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          "damaged " + Kind() +
              " calibration (knots must be finite, σ not decreasing, calibrated σ >= 0)");
    }
    knots_x_ = std::move(x);
    knots_y_ = std::move(y);
    return {};
  }

 protected:
  std::vector<double> knots_x_, knots_y_;
};

class Isotonic final : public KnotCalibrator {
 public:
  std::string Kind() const override { return "isotonic"; }
  Status Fit(const std::vector<double>& sigma, const std::vector<double>& residual) override {
    LABLOOP_TRY(CheckInputs(sigma, residual));
    std::vector<size_t> order(sigma.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return sigma[a] < sigma[b]; });
    // Pool adjacent violators on the squared residuals; each block keeps its sums.
    struct Block {
      double sigma_sum, value_sum, count;
    };
    std::vector<Block> blocks;
    for (size_t i : order) {
      // Points of equal σ form one block from the start, so every block has its own σ.
      if (!blocks.empty() && blocks.back().sigma_sum / blocks.back().count == sigma[i]) {
        blocks.back().sigma_sum += sigma[i];
        blocks.back().value_sum += residual[i] * residual[i];
        blocks.back().count += 1;
      } else {
        blocks.push_back({sigma[i], residual[i] * residual[i], 1});
      }
      while (blocks.size() > 1) {
        const Block& last = blocks.back();
        const Block& prev = blocks[blocks.size() - 2];
        if (prev.value_sum / prev.count <= last.value_sum / last.count) break;
        Block merged{prev.sigma_sum + last.sigma_sum, prev.value_sum + last.value_sum,
                     prev.count + last.count};
        blocks.pop_back();
        blocks.back() = merged;
      }
    }
    // Blocks of a few points make σ' jump to whatever those few residuals were; merge each block
    // smaller than ~5% of the points into its neighbour (merging adjacent blocks of a
    // non-decreasing sequence keeps it non-decreasing).
    const double min_count = std::max(5.0, 0.05 * static_cast<double>(sigma.size()));
    std::vector<Block> merged;
    for (const auto& b : blocks) {
      if (!merged.empty() && merged.back().count < min_count) {
        merged.back() = {merged.back().sigma_sum + b.sigma_sum,
                         merged.back().value_sum + b.value_sum, merged.back().count + b.count};
      } else {
        merged.push_back(b);
      }
    }
    if (merged.size() > 1 && merged.back().count < min_count) {
      Block last = merged.back();
      merged.pop_back();
      merged.back() = {merged.back().sigma_sum + last.sigma_sum,
                       merged.back().value_sum + last.value_sum, merged.back().count + last.count};
    }
    blocks = std::move(merged);
    knots_x_.clear();
    knots_y_.clear();
    double smallest = 0;
    for (const auto& b : blocks) {
      if (b.value_sum > 0 && (smallest == 0 || b.value_sum / b.count < smallest)) {
        smallest = b.value_sum / b.count;
      }
    }
    for (const auto& b : blocks) {
      double x = b.sigma_sum / b.count;
      knots_x_.push_back(x);
      // A block with no error at all still gets the smallest variance seen, not σ' = 0.
      knots_y_.push_back(std::sqrt(std::max(b.value_sum / b.count, smallest)));
    }
    return {};
  }
};

class Empirical final : public KnotCalibrator {
 public:
  std::string Kind() const override { return "empirical"; }
  Status Fit(const std::vector<double>& sigma, const std::vector<double>& residual) override {
    LABLOOP_TRY(CheckInputs(sigma, residual));
    const size_t n = sigma.size();
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return sigma[a] < sigma[b]; });
    const size_t bins = std::clamp<size_t>(n / 10, 1, 20);  // ~10 points a bin at the least
    // Per bin: Σσ, Σr², count. Bins of one σ value (a σ shared by many points) are merged, so
    // that no residual is left out and the knots' σ increase.
    std::vector<std::array<double, 3>> sums;
    for (size_t b = 0; b < bins; ++b) {
      size_t lo = n * b / bins, hi = n * (b + 1) / bins;
      std::array<double, 3> bin{0, 0, static_cast<double>(hi - lo)};
      for (size_t k = lo; k < hi; ++k) {
        bin[0] += sigma[order[k]];
        bin[1] += residual[order[k]] * residual[order[k]];
      }
      if (!sums.empty() && bin[0] / bin[2] <= sums.back()[0] / sums.back()[2]) {
        for (int j = 0; j < 3; ++j) sums.back()[j] += bin[j];
      } else {
        sums.push_back(bin);
      }
    }
    knots_x_.clear();
    knots_y_.clear();
    for (const auto& bin : sums) {
      knots_x_.push_back(bin[0] / bin[2]);
      knots_y_.push_back(std::max(std::sqrt(bin[1] / bin[2]), 1e-12));
    }
    return {};
  }
};

}  // namespace

void RegisterBuiltinCalibrators(CalibratorRegistry& registry) {
  registry.Register("sigma_scaling", [] {
    return Result<std::unique_ptr<Calibrator>>(std::make_unique<SigmaScaling>());
  });
  registry.Register(
      "isotonic", [] { return Result<std::unique_ptr<Calibrator>>(std::make_unique<Isotonic>()); });
  registry.Register("empirical", [] {
    return Result<std::unique_ptr<Calibrator>>(std::make_unique<Empirical>());
  });
}

}  // namespace labloop::learners
