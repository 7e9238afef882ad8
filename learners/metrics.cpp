#include "learners/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace labloop::learners {

namespace {

constexpr double kPi = 3.14159265358979323846;

std::vector<double> Ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> rank(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    double average = 0.5 * static_cast<double>(i + j);  // ties share their mean rank
    for (size_t k = i; k <= j; ++k) rank[order[k]] = average;
    i = j + 1;
  }
  return rank;
}

double Pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  double ma = std::accumulate(a.begin(), a.end(), 0.0) / n;
  double mb = std::accumulate(b.begin(), b.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0.0;
}

// P(|Z| <= |r| / σ): the smallest central interval of N(μ, σ²) that contains the observation.
std::vector<double> CentralQuantiles(const std::vector<double>& observed,
                                     const std::vector<double>& mean,
                                     const std::vector<double>& sigma) {
  std::vector<double> q(observed.size());
  for (size_t i = 0; i < q.size(); ++i) {
    q[i] = std::erf(std::abs(observed[i] - mean[i]) / (sigma[i] * std::sqrt(2.0)));
  }
  std::sort(q.begin(), q.end());
  return q;
}

}  // namespace

double Spearman(const std::vector<double>& a, const std::vector<double>& b) {
  return Pearson(Ranks(a), Ranks(b));
}

CalibrationCurve CalibrationCurveOf(const std::vector<double>& observed,
                                    const std::vector<double>& mean,
                                    const std::vector<double>& sigma, int points) {
  auto q = CentralQuantiles(observed, mean, sigma);
  CalibrationCurve curve;
  points = std::max(points, 2);  // both ends of the curve, at least
  for (int k = 0; k < points; ++k) {
    double p = static_cast<double>(k) / (points - 1);
    double inside = static_cast<double>(std::upper_bound(q.begin(), q.end(), p) - q.begin());
    curve.expected.push_back(p);
    curve.observed.push_back(q.empty() ? 0.0 : inside / static_cast<double>(q.size()));
  }
  return curve;
}

Result<RegressionMetrics> EvaluatePredictions(const std::vector<double>& observed,
                                              const std::vector<double>& mean,
                                              const std::vector<double>& sigma, int ence_bins) {
  const size_t n = observed.size();
  if (mean.size() != n || sigma.size() != n) {
    return MakeError(ErrorCode::kInvalidArgument, "metrics need one mean and one σ per value");
  }
  if (n < 2) return MakeError(ErrorCode::kInvalidArgument, "metrics need at least 2 points");
  for (size_t i = 0; i < n; ++i) {
    if (!(sigma[i] > 0) || !std::isfinite(sigma[i]) || !std::isfinite(mean[i]) ||
        !std::isfinite(observed[i])) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "metrics need finite values and σ > 0 (point " + std::to_string(i) + ")");
    }
  }
  RegressionMetrics m;
  m.n = static_cast<int64_t>(n);
  const double mean_observed = std::accumulate(observed.begin(), observed.end(), 0.0) / n;
  double ss_res = 0, ss_tot = 0, abs_sum = 0, nll = 0;
  std::vector<double> abs_error(n);
  for (size_t i = 0; i < n; ++i) {
    double r = observed[i] - mean[i];
    abs_error[i] = std::abs(r);
    ss_res += r * r;
    ss_tot += (observed[i] - mean_observed) * (observed[i] - mean_observed);
    abs_sum += std::abs(r);
    nll += 0.5 * std::log(2 * kPi * sigma[i] * sigma[i]) + r * r / (2 * sigma[i] * sigma[i]);
  }
  m.rmse = std::sqrt(ss_res / n);
  m.mae = abs_sum / n;
  m.r2 = ss_tot > 0 ? 1 - ss_res / ss_tot : 0.0;
  m.nll = nll / n;
  m.spearman = Spearman(abs_error, sigma);

  // Area between the curve and the diagonal, by the trapezoid rule on a fine grid.
  auto curve = CalibrationCurveOf(observed, mean, sigma, 1001);
  for (size_t k = 1; k < curve.expected.size(); ++k) {
    double d0 = std::abs(curve.observed[k - 1] - curve.expected[k - 1]);
    double d1 = std::abs(curve.observed[k] - curve.expected[k]);
    m.miscalibration_area += 0.5 * (d0 + d1) * (curve.expected[k] - curve.expected[k - 1]);
  }

  // ENCE over equal-count bins of increasing σ.
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return sigma[a] < sigma[b]; });
  const int bins = std::max(1, std::min<int>(ence_bins, static_cast<int>(n)));
  double ence = 0;
  for (int b = 0; b < bins; ++b) {
    size_t lo = n * b / bins, hi = n * (b + 1) / bins;
    double variance = 0, squared = 0;
    for (size_t k = lo; k < hi; ++k) {
      size_t i = order[k];
      variance += sigma[i] * sigma[i];
      squared += (observed[i] - mean[i]) * (observed[i] - mean[i]);
    }
    double count = static_cast<double>(hi - lo);
    double rmv = std::sqrt(variance / count), rmse = std::sqrt(squared / count);
    ence += std::abs(rmv - rmse) / rmv / bins;
  }
  m.ence = ence;
  return m;
}

double ExpectedMiscalibrationArea(int64_t n, int trials, uint64_t seed) {
  if (n < 2 || trials < 1) return 0;
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::vector<double> observed(n), mean(n, 0.0), sigma(n, 1.0);
  double total = 0;
  for (int t = 0; t < trials; ++t) {
    for (auto& v : observed) v = normal(rng);
    auto m = EvaluatePredictions(observed, mean, sigma);
    if (m) total += m->miscalibration_area;
  }
  return total / trials;
}

}  // namespace labloop::learners
