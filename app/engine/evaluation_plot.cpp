// The SVG picture of a model evaluation: parity plot and calibration curve, side by side.
#include "app/engine/evaluation_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

namespace labloop::engine {

namespace {

constexpr double kPanel = 330;                       // side of each plot area, pixels
constexpr double kTop = 70, kLeft = 75, kGap = 130;  // where the first panel starts, and between

std::string Number(double v, const char* format = "%g") {
  char text[32];
  std::snprintf(text, sizeof text, format, std::abs(v) < 1e-12 ? 0.0 : v);
  return text;
}

std::string Escaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '&') {
      out += "&amp;";
    } else if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else if (c == '"') {
      out += "&quot;";
    } else {
      out += c;
    }
  }
  return out;
}

// Ticks at 1, 2 or 5 times a power of ten, about five across [lo, hi].
std::vector<double> Ticks(double lo, double hi) {
  const double raw = (hi - lo) / 5;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  double step = power;
  for (double m : {2.0, 5.0, 10.0}) {
    if (raw / step <= 1.5) break;
    step = m * power;
  }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step) * step; t <= hi + 1e-9 * step; t += step) ticks.push_back(t);
  return ticks;
}

// One square panel: data [lo, hi] on both axes mapped onto kPanel pixels from (left, top).
struct Panel {
  double left, lo, hi;
  double X(double v) const { return left + (v - lo) / (hi - lo) * kPanel; }
  double Y(double v) const { return kTop + kPanel - (v - lo) / (hi - lo) * kPanel; }

  void Frame(std::ostringstream& svg, const std::string& x_label, const std::string& y_label,
             const std::string& heading) const {
    svg << "<rect x='" << left << "' y='" << kTop << "' width='" << kPanel << "' height='" << kPanel
        << "' fill='white' stroke='#444'/>\n";
    for (double t : Ticks(lo, hi)) {
      const std::string label = Number(t);
      svg << "<line x1='" << X(t) << "' y1='" << kTop + kPanel << "' x2='" << X(t) << "' y2='"
          << kTop + kPanel + 5 << "' stroke='#444'/>"
          << "<text x='" << X(t) << "' y='" << kTop + kPanel + 20 << "' text-anchor='middle'>"
          << label << "</text>\n"
          << "<line x1='" << left - 5 << "' y1='" << Y(t) << "' x2='" << left << "' y2='" << Y(t)
          << "' stroke='#444'/>"
          << "<text x='" << left - 8 << "' y='" << Y(t) + 4 << "' text-anchor='end'>" << label
          << "</text>\n";
    }
    svg << "<text x='" << left + kPanel / 2 << "' y='" << kTop + kPanel + 42
        << "' text-anchor='middle'>" << Escaped(x_label) << "</text>\n"
        << "<text transform='translate(" << left - 50 << "," << kTop + kPanel / 2
        << ") rotate(-90)' text-anchor='middle'>" << Escaped(y_label) << "</text>\n"
        << "<text x='" << left << "' y='" << kTop - 10 << "' font-weight='bold'>"
        << Escaped(heading) << "</text>\n";
  }
};

}  // namespace

std::string EvaluationSvg(const ModelEvaluation& e, const std::string& title) {
  const double width = kLeft + 2 * kPanel + kGap + 40, height = kTop + kPanel + 60;
  std::ostringstream svg;
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << width << "' height='" << height
      << "' font-family='sans-serif' font-size='12'>\n"
      << "<rect width='100%' height='100%' fill='white'/>\n"
      << "<text x='" << kLeft << "' y='24' font-size='14'>" << Escaped(title) << "</text>\n";

  // Parity: one dot a molecule, on a common range for both axes.
  double lo = 0, hi = 1;
  if (!e.observed.empty()) {
    auto [omin, omax] = std::minmax_element(e.observed.begin(), e.observed.end());
    auto [pmin, pmax] = std::minmax_element(e.predicted.begin(), e.predicted.end());
    lo = std::min(*omin, *pmin);
    hi = std::max(*omax, *pmax);
    if (hi - lo < 1e-9) lo -= 0.5, hi += 0.5;
    const double pad = 0.05 * (hi - lo);
    lo -= pad;
    hi += pad;
  }
  const Panel parity{kLeft, lo, hi};
  parity.Frame(svg, "observed", "predicted (mean)",
               "Parity: RMSE " + Number(e.raw.rmse, "%.3f") + ", R² " + Number(e.raw.r2, "%.3f") +
                   ", " + std::to_string(e.observed.size()) + " molecules");
  svg << "<line x1='" << parity.X(lo) << "' y1='" << parity.Y(lo) << "' x2='" << parity.X(hi)
      << "' y2='" << parity.Y(hi) << "' stroke='#999' stroke-dasharray='4 3'/>\n";
  for (size_t i = 0; i < e.observed.size() && i < e.predicted.size(); ++i) {
    svg << "<circle cx='" << Number(parity.X(e.observed[i]), "%.1f") << "' cy='"
        << Number(parity.Y(e.predicted[i]), "%.1f")
        << "' r='2.5' fill='#1f77b4' fill-opacity='0.6'/>\n";
  }

  // Calibration: the share of molecules inside each central interval of the calibrated σ.
  const Panel calibration{kLeft + kPanel + kGap, 0, 1};
  calibration.Frame(svg, "expected share inside the interval", "observed share",
                    "Calibration (calibrated σ): miscalibration area " +
                        Number(e.calibrated.miscalibration_area, "%.3f"));
  svg << "<line x1='" << calibration.X(0) << "' y1='" << calibration.Y(0) << "' x2='"
      << calibration.X(1) << "' y2='" << calibration.Y(1)
      << "' stroke='#999' stroke-dasharray='4 3'/>\n";
  const auto& expected = e.curve.expected;
  const auto& observed = e.curve.observed;
  if (!expected.empty() && expected.size() == observed.size()) {
    std::ostringstream curve, gap;
    for (size_t i = 0; i < expected.size(); ++i) {
      curve << Number(calibration.X(expected[i]), "%.1f") << ","
            << Number(calibration.Y(observed[i]), "%.1f") << " ";
    }
    gap << curve.str();
    for (size_t i = expected.size(); i-- > 0;) {
      gap << Number(calibration.X(expected[i]), "%.1f") << ","
          << Number(calibration.Y(expected[i]), "%.1f") << " ";
    }
    svg << "<polygon points='" << gap.str() << "' fill='#ff7f0e' fill-opacity='0.25'/>\n"
        << "<polyline points='" << curve.str()
        << "' fill='none' stroke='#ff7f0e' stroke-width='2'/>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

Status WriteEvaluationSvg(const ModelEvaluation& e, const std::string& title,
                          const std::string& path) {
  std::ofstream out(path);
  out << EvaluationSvg(e, title);
  out.close();
  if (!out) return MakeError(ErrorCode::kFailedPrecondition, "cannot write '" + path + "'");
  return {};
}

}  // namespace labloop::engine
