#pragma once
// PlotsPage: the campaign's plots from GET /api/plots (QCustomPlot): best so far against
// evaluations, parity of the predictions made when candidates were chosen, the calibration curve,
// the Pareto front and the cost per route. Each can be saved as a PNG.

#include <QJsonObject>
#include <QWidget>
#include <array>

class QCustomPlot;

namespace labloop::gui {

class PlotsPage : public QWidget {
  Q_OBJECT

 public:
  enum Kind { kBestSoFar, kParity, kCalibration, kPareto, kRoutes, kKindCount };

  explicit PlotsPage(QWidget* parent = nullptr);

  // Redraws every plot from a /api/plots document.
  void ShowPlots(const QJsonObject& plots);
  // Writes plot `kind` as a PNG; false when the file cannot be written.
  bool SavePng(Kind kind, const QString& path, int width = 800, int height = 600);
  // The data points drawn in plot `kind` (all graphs and bars together): for tests.
  int PointCount(Kind kind) const;
  static QString Title(Kind kind);

 private:
  void AskSavePng(Kind kind);
  void ShowBestSoFar(const QJsonObject& plots);
  void ShowParity(const QJsonObject& plots);
  void ShowCalibration(const QJsonObject& plots);
  void ShowPareto(const QJsonObject& plots);
  void ShowRoutes(const QJsonObject& plots);

  std::array<QCustomPlot*, kKindCount> plots_{};
};

}  // namespace labloop::gui
