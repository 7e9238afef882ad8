#include "gui/plots_page.h"

#include <qcustomplot.h>
#include <QFileDialog>
#include <QGridLayout>
#include <QJsonArray>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QVBoxLayout>
#include <algorithm>
#include <limits>

namespace labloop::gui {

namespace {

const QColor kBlue(31, 119, 180);
const QColor kOrange(255, 127, 14);
const QColor kRed(214, 39, 40);
const QColor kGray(150, 150, 150);

QCPGraph* AddScatter(QCustomPlot* plot, const QColor& color, double size, const QString& name) {
  QCPGraph* graph = plot->addGraph();
  graph->setLineStyle(QCPGraph::lsNone);
  graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, color, color, size));
  graph->setName(name);
  return graph;
}

QCPGraph* AddLine(QCustomPlot* plot, const QColor& color, Qt::PenStyle style, const QString& name) {
  QCPGraph* graph = plot->addGraph();
  graph->setPen(QPen(color, 2, style));
  graph->setName(name);
  return graph;
}

// A dashed y = x over the range both axes need.
void AddDiagonal(QCustomPlot* plot, double low, double high, const QString& name) {
  QCPGraph* diagonal = AddLine(plot, kGray, Qt::DashLine, name);
  diagonal->setData({low, high}, {low, high});
}

void Finish(QCustomPlot* plot, bool legend) {
  plot->rescaleAxes();
  for (QCPAxis* axis : {plot->xAxis, plot->yAxis}) {
    QCPRange range = axis->range();
    double pad = range.size() > 0 ? range.size() * 0.05 : 0.5;
    axis->setRange(range.lower - pad, range.upper + pad);
  }
  plot->legend->setVisible(legend);
  plot->replot();
}

}  // namespace

QString PlotsPage::Title(Kind kind) {
  switch (kind) {
    case kBestSoFar:
      return tr("Best so far");
    case kParity:
      return tr("Parity (out of sample)");
    case kCalibration:
      return tr("Calibration");
    case kPareto:
      return tr("Pareto front");
    case kRoutes:
      return tr("Cost per route");
    default:
      return {};
  }
}

PlotsPage::PlotsPage(QWidget* parent) : QWidget(parent) {
  auto* grid = new QGridLayout(this);
  for (int k = 0; k < kKindCount; ++k) {
    auto* box = new QWidget(this);
    auto* layout = new QVBoxLayout(box);
    layout->setContentsMargins(2, 2, 2, 2);
    auto* header = new QHBoxLayout;
    auto* title = new QLabel("<b>" + Title(Kind(k)) + "</b>", box);
    auto* save = new QPushButton(tr("Save PNG..."), box);
    header->addWidget(title, 1);
    header->addWidget(save);
    plots_[k] = new QCustomPlot(box);
    plots_[k]->setMinimumSize(240, 180);
    plots_[k]->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    QFont small = plots_[k]->font();
    small.setPointSizeF(small.pointSizeF() * 0.85);
    plots_[k]->legend->setFont(small);
    plots_[k]->legend->setBrush(QColor(255, 255, 255, 190));  // the data shows through
    layout->addLayout(header);
    layout->addWidget(plots_[k], 1);
    grid->addWidget(box, k / 3, k % 3);
    connect(save, &QPushButton::clicked, this, [this, k] { AskSavePng(Kind(k)); });
  }
}

void PlotsPage::ShowPlots(const QJsonObject& plots) {
  for (QCustomPlot* plot : plots_) {
    plot->clearGraphs();
    plot->clearPlottables();
    plot->clearItems();
    plot->xAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
  }
  ShowBestSoFar(plots);
  ShowParity(plots);
  ShowCalibration(plots);
  ShowPareto(plots);
  ShowRoutes(plots);
}

void PlotsPage::ShowBestSoFar(const QJsonObject& plots) {
  QCustomPlot* plot = plots_[kBestSoFar];
  QVector<double> x, value, best;
  for (const auto& p : plots.value("best_so_far").toArray()) {
    QJsonObject o = p.toObject();
    x << o.value("evaluation").toDouble();
    value << o.value("value").toDouble();
    best << o.value("best").toDouble();
  }
  AddScatter(plot, kGray, 4, tr("measured"))->setData(x, value, true);
  QCPGraph* line = AddLine(plot, kBlue, Qt::SolidLine, tr("best so far"));
  line->setLineStyle(QCPGraph::lsStepLeft);
  line->setData(x, best, true);
  plot->xAxis->setLabel(tr("evaluations"));
  plot->yAxis->setLabel(plots.value("property").toString() + " (" +
                        plots.value("direction").toString() + ")");
  Finish(plot, true);
}

void PlotsPage::ShowParity(const QJsonObject& plots) {
  QCustomPlot* plot = plots_[kParity];
  QVector<double> measured, predicted, sigma;
  double low = std::numeric_limits<double>::max(), high = std::numeric_limits<double>::lowest();
  for (const auto& p : plots.value("parity").toArray()) {
    QJsonObject o = p.toObject();
    measured << o.value("measured").toDouble();
    predicted << o.value("predicted").toDouble();
    sigma << o.value("sigma").toDouble();
    low = std::min({low, measured.back(), predicted.back() - sigma.back()});
    high = std::max({high, measured.back(), predicted.back() + sigma.back()});
  }
  if (!measured.isEmpty()) AddDiagonal(plot, low, high, tr("ideal"));
  QCPGraph* points = AddScatter(plot, kBlue, 5, tr("predicted ± σ"));
  points->setData(measured, predicted);
  auto* bars = new QCPErrorBars(plot->xAxis, plot->yAxis);
  bars->removeFromLegend();
  bars->setDataPlottable(points);
  bars->setData(sigma);
  bars->setPen(QPen(kBlue.lighter(140)));
  const QString property = plots.value("property").toString();
  plot->xAxis->setLabel(tr("measured %1").arg(property));
  plot->yAxis->setLabel(tr("predicted %1").arg(property));
  Finish(plot, true);
}

void PlotsPage::ShowCalibration(const QJsonObject& plots) {
  QCustomPlot* plot = plots_[kCalibration];
  QJsonObject calibration = plots.value("calibration").toObject();
  QVector<double> expected, observed;
  for (const auto& v : calibration.value("expected").toArray()) expected << v.toDouble();
  for (const auto& v : calibration.value("observed").toArray()) observed << v.toDouble();
  const int points = std::min(expected.size(), observed.size());  // no made-up points
  expected.resize(points);
  observed.resize(points);
  AddDiagonal(plot, 0, 1, tr("ideal"));
  QCPGraph* curve = AddLine(plot, kOrange, Qt::SolidLine,
                            tr("model (n = %1)").arg(calibration.value("n").toInt()));
  curve->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 4));
  curve->setData(expected, observed, true);
  plot->xAxis->setLabel(tr("expected proportion in interval"));
  plot->yAxis->setLabel(tr("observed proportion"));
  Finish(plot, true);
}

void PlotsPage::ShowPareto(const QJsonObject& plots) {
  QCustomPlot* plot = plots_[kPareto];
  QJsonObject pareto = plots.value("pareto").toObject();
  QVector<double> x, y, front_x, front_y;
  for (const auto& p : pareto.value("points").toArray()) {
    QJsonObject o = p.toObject();
    bool front = o.value("rank").toInt() == 0;
    (front ? front_x : x) << o.value("x").toDouble();
    (front ? front_y : y) << o.value("y").toDouble();
  }
  AddScatter(plot, kGray, 4, tr("dominated"))->setData(x, y);
  AddScatter(plot, kRed, 7, tr("front (rank 0)"))->setData(front_x, front_y);
  plot->xAxis->setLabel(pareto.value("x").toString());
  plot->yAxis->setLabel(pareto.value("y").toString());
  Finish(plot, true);
}

void PlotsPage::ShowRoutes(const QJsonObject& plots) {
  QCustomPlot* plot = plots_[kRoutes];
  QVector<double> ticks, cost;
  QVector<QString> labels;
  for (const auto& r : plots.value("routes").toArray()) {
    QJsonObject o = r.toObject();
    ticks << ticks.size() + 1;
    cost << o.value("cost").toDouble();
    labels << QStringLiteral("%1 (%2)")
                  .arg(o.value("route").toString())
                  .arg(o.value("decisions").toInteger());
  }
  auto* bars = new QCPBars(plot->xAxis, plot->yAxis);
  bars->setName(tr("cost"));
  bars->setBrush(kBlue);
  bars->setPen(QPen(kBlue.darker(130)));
  bars->setData(ticks, cost, true);
  auto ticker = QSharedPointer<QCPAxisTickerText>::create();
  ticker->addTicks(ticks, labels);
  plot->xAxis->setTicker(ticker);
  plot->xAxis->setLabel(tr("route (decisions)"));
  plot->yAxis->setLabel(tr("cost"));
  plot->rescaleAxes();
  plot->xAxis->setRange(0.3, ticks.size() + 0.7);
  double top = 1.0;
  for (double c : cost) top = std::max(top, c * 1.1);
  plot->yAxis->setRange(0, top);
  plot->replot();
}

int PlotsPage::PointCount(Kind kind) const {
  QCustomPlot* plot = plots_[kind];
  int count = 0;
  for (int i = 0; i < plot->graphCount(); ++i) {
    // The dashed diagonal is decoration, not data.
    if (plot->graph(i)->pen().style() == Qt::DashLine) continue;
    count += plot->graph(i)->dataCount();
  }
  for (int i = 0; i < plot->plottableCount(); ++i) {
    if (auto* bars = qobject_cast<QCPBars*>(plot->plottable(i))) count += bars->dataCount();
  }
  return count;
}

bool PlotsPage::SavePng(Kind kind, const QString& path, int width, int height) {
  return plots_[kind]->savePng(path, width, height);
}

void PlotsPage::AskSavePng(Kind kind) {
  QString path = QFileDialog::getSaveFileName(this, tr("Save %1").arg(Title(kind)),
                                              Title(kind).toLower().replace(' ', '_') + ".png",
                                              tr("PNG images (*.png)"));
  if (path.isEmpty()) return;
  if (!SavePng(kind, path)) {
    QMessageBox::warning(this, tr("Save plot"), tr("Cannot write %1.").arg(path));
  }
}

}  // namespace labloop::gui
