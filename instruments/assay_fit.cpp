#include "instruments/assay_fit.h"

#include <ceres/ceres.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace labloop::instruments {

namespace {

enum Parameter { kBottom = 0, kTop = 1, kLogIc50 = 2, kHill = 3 };

struct LogisticResidual {
  LogisticResidual(double log_c, double y) : log_c(log_c), y(y) {}
  template <typename T>
  bool operator()(const T* p, T* residual) const {
    using std::pow;
    const T model = p[kBottom] + (p[kTop] - p[kBottom]) /
                                     (T(1.0) + pow(T(10.0), p[kHill] * (T(log_c) - p[kLogIc50])));
    residual[0] = T(y) - model;
    return true;
  }
  double log_c, y;
};

}  // namespace

std::string AssayFit::Summary() const {
  if (!ok) {
    std::string list;
    for (const auto& f : flags) list += (list.empty() ? "" : ", ") + f;
    return fmt::format("flagged for review: {} (pIC50 {:.2f} ± {:.2f}, R² {:.3f})", list, pic50,
                       pic50_sigma, r2);
  }
  return fmt::format("pIC50 {:.2f} ± {:.2f} (R² {:.3f}, Hill {:.2f})", pic50, pic50_sigma, r2,
                     hill);
}

std::string AssayFit::ToJson() const {
  return nlohmann::json{{"ok", ok},
                        {"flags", flags},
                        {"pic50", pic50},
                        {"pic50_sigma", pic50_sigma},
                        {"top", top},
                        {"bottom", bottom},
                        {"hill", hill},
                        {"r2", r2},
                        {"residual_sd", residual_sd},
                        {"points", points}}
      .dump();
}

Result<AssayFit> FitDoseResponse(const DoseResponse& data, const AssayFitOptions& options) {
  if (data.concentration.size() != data.signal.size()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("dose-response data: {} concentrations but {} signals",
                                 data.concentration.size(), data.signal.size()));
  }
  std::vector<double> log_c, y;
  for (size_t i = 0; i < data.concentration.size(); ++i) {
    if (!(data.concentration[i] > 0)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("dose-response point {}: concentration {} is not positive",
                                   i + 1, data.concentration[i]));
    }
    if (!std::isfinite(data.signal[i])) continue;  // a failed well
    log_c.push_back(std::log10(data.concentration[i]));
    y.push_back(data.signal[i]);
  }
  AssayFit fit;
  fit.points = static_cast<int>(y.size());
  if (y.size() < 7) {  // 4 parameters: fewer leave too few degrees of freedom for σ
    fit.flags.push_back("too_few_points");
    return fit;
  }
  const auto [lo_it, hi_it] = std::minmax_element(log_c.begin(), log_c.end());
  const double lo = *lo_it, hi = *hi_it;
  // Asymptote guesses from the lowest and highest concentrations.
  std::vector<size_t> order(y.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return log_c[a] < log_c[b]; });
  const size_t k = std::max<size_t>(1, y.size() / 5);
  double low_end = 0, high_end = 0;
  for (size_t i = 0; i < k; ++i) {
    low_end += y[order[i]] / k;
    high_end += y[order[y.size() - 1 - i]] / k;
  }

  // Several starting IC50s across the range; the lowest cost wins.
  double best[4] = {0, 0, 0, 0};
  double best_cost = std::numeric_limits<double>::infinity();
  bool converged = false;
  for (double start : {0.25, 0.5, 0.75}) {
    double p[4] = {high_end, low_end, lo + start * (hi - lo), 1.0};
    ceres::Problem problem;
    for (size_t i = 0; i < y.size(); ++i) {
      problem.AddResidualBlock(new ceres::AutoDiffCostFunction<LogisticResidual, 1, 4>(
                                   new LogisticResidual(log_c[i], y[i])),
                               nullptr, p);
    }
    problem.SetParameterLowerBound(p, kLogIc50, lo - 3);
    problem.SetParameterUpperBound(p, kLogIc50, hi + 3);
    problem.SetParameterLowerBound(p, kHill, 0.01);
    problem.SetParameterUpperBound(p, kHill, 20);
    ceres::Solver::Options solver;
    solver.max_num_iterations = 200;
    solver.logging_type = ceres::SILENT;
    ceres::Solver::Summary summary;
    ceres::Solve(solver, &problem, &summary);
    if (summary.final_cost < best_cost) {
      best_cost = summary.final_cost;
      std::copy(p, p + 4, best);
      converged = summary.termination_type == ceres::CONVERGENCE;
    }
  }
  fit.bottom = best[kBottom];
  fit.top = best[kTop];
  fit.hill = best[kHill];
  fit.pic50 = -best[kLogIc50];
  const double n = static_cast<double>(y.size());
  const double rss = 2 * best_cost;  // Ceres' cost is half the sum of squares
  const double mean = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double tss = 0;
  for (double v : y) tss += (v - mean) * (v - mean);
  fit.r2 = tss > 0 ? 1 - rss / tss : 0;
  fit.residual_sd = std::sqrt(rss / std::max(1.0, n - 4));

  // σ(pIC50): Ceres' covariance of the parameters, scaled by the residual variance.
  bool have_sigma = false;
  {
    ceres::Problem problem;
    for (size_t i = 0; i < y.size(); ++i) {
      problem.AddResidualBlock(new ceres::AutoDiffCostFunction<LogisticResidual, 1, 4>(
                                   new LogisticResidual(log_c[i], y[i])),
                               nullptr, best);
    }
    ceres::Covariance::Options covariance_options;
    ceres::Covariance covariance(covariance_options);
    std::vector<std::pair<const double*, const double*>> blocks = {{best, best}};
    double c[16];
    if (covariance.Compute(blocks, &problem) && covariance.GetCovarianceBlock(best, best, c)) {
      const double variance = c[kLogIc50 * 4 + kLogIc50] * fit.residual_sd * fit.residual_sd;
      if (std::isfinite(variance) && variance >= 0) {
        fit.pic50_sigma = std::sqrt(variance);
        have_sigma = true;
      }
    }
  }

  if (!converged) fit.flags.push_back("not_converged");
  const double span = std::abs(fit.top - fit.bottom);
  if (span < options.min_span_noise * fit.residual_sd || span == 0) {
    fit.flags.push_back("flat_curve");
  }
  if (best[kLogIc50] < lo || best[kLogIc50] > hi) fit.flags.push_back("outside_range");
  if (fit.r2 < options.min_r2) fit.flags.push_back("poor_fit");
  if (!have_sigma || fit.pic50_sigma > options.max_sigma) fit.flags.push_back("uncertain");
  if (fit.hill < options.min_hill || fit.hill > options.max_hill) fit.flags.push_back("bad_hill");
  fit.ok = fit.flags.empty();
  return fit;
}

}  // namespace labloop::instruments
