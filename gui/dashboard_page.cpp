#include "gui/dashboard_page.h"

#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QJsonArray>
#include <QLabel>
#include <QProgressBar>
#include <QVBoxLayout>
#include <algorithm>
#include <climits>

#include "gui/campaign_source.h"
#include "gui/json_text.h"
#include "gui/structure_view.h"

namespace labloop::gui {

namespace {

QLabel* ValueLabel(QWidget* parent) {
  auto* label = new QLabel(parent);
  label->setTextInteractionFlags(Qt::TextSelectableByMouse);
  label->setWordWrap(true);
  return label;
}

// "rmse 0.41, r2 0.83, ..." for a flat object of metrics.
QString MetricsText(const QJsonValue& metrics) {
  if (!metrics.isObject()) return QObject::tr("none yet");
  QStringList parts;
  const QJsonObject o = metrics.toObject();
  for (auto it = o.begin(); it != o.end(); ++it) {
    if (it.value().isDouble()) parts << it.key() + " " + ValueText(it.value(), 3);
  }
  return parts.isEmpty() ? QObject::tr("none yet") : parts.join(", ");
}

}  // namespace

DashboardPage::DashboardPage(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  banner_ = new QLabel(this);
  banner_->setStyleSheet(
      "QLabel { background: #c62828; color: white; font-weight: bold; padding: 8px; }");
  banner_->setWordWrap(true);
  banner_->hide();
  layout->addWidget(banner_);

  auto* columns = new QHBoxLayout;
  auto* facts = new QGroupBox(tr("Campaign"), this);
  auto* form = new QFormLayout(facts);
  name_ = ValueLabel(facts);
  round_ = ValueLabel(facts);
  budget_ = new QProgressBar(facts);
  budget_->setFormat(tr("%v of %m evaluations"));
  routes_ = ValueLabel(facts);
  model_ = ValueLabel(facts);
  calibration_ = ValueLabel(facts);
  pending_ = ValueLabel(facts);
  form->addRow(tr("Name:"), name_);
  form->addRow(tr("Round:"), round_);
  form->addRow(tr("Budget:"), budget_);
  form->addRow(tr("Spent per route:"), routes_);
  form->addRow(tr("Latest model:"), model_);
  form->addRow(tr("Calibration:"), calibration_);
  form->addRow(tr("Pending approvals:"), pending_);
  columns->addWidget(facts, 3);

  auto* best_box = new QGroupBox(tr("Best so far"), this);
  auto* best_layout = new QVBoxLayout(best_box);
  best_ = ValueLabel(best_box);
  best_picture_ = new StructureView(best_box);
  best_picture_->setMinimumSize(260, 200);
  best_layout->addWidget(best_);
  best_layout->addWidget(best_picture_, 1);
  top_ = ValueLabel(best_box);
  best_layout->addWidget(top_);
  columns->addWidget(best_box, 2);
  layout->addLayout(columns, 1);
}

void DashboardPage::SetSource(CampaignSource* source) {
  source_ = source;
  best_id_ = -1;
  best_picture_->Load(QByteArray());
}

void DashboardPage::ShowStatus(const QJsonObject& status, const QJsonObject& plots) {
  const QJsonObject stop = status.value("emergency_stop").toObject();
  if (stop.value("active").toBool()) {
    banner_->setText(tr("EMERGENCY STOP active since %1 by %2: %3. Every instrument was told "
                        "to stop (the audit log names any that did not confirm); resume needs an "
                        "admin's acknowledgement.")
                         .arg(ValueText(stop.value("since")), stop.value("by").toString(),
                              stop.value("reason").toString()));
    banner_->show();
  } else {
    banner_->hide();
  }

  const QJsonObject objective = status.value("objective").toObject();
  name_->setText(QStringLiteral("%1 — %2 %3")
                     .arg(status.value("name").toString(), objective.value("direction").toString(),
                          objective.value("property").toString()));
  round_->setText(tr("%1 (%2 candidates, %3 measurements)")
                      .arg(ValueText(status.value("round")), ValueText(status.value("candidates")),
                           ValueText(status.value("measurements"))));
  const QJsonObject budget = status.value("budget").toObject();
  const qint64 total = budget.value("total").toInteger();
  budget_->setRange(0, int(std::max<qint64>(1, std::min<qint64>(total, INT_MAX))));
  budget_->setValue(int(std::min<qint64>(budget.value("spent").toInteger(), budget_->maximum())));

  QStringList routes;
  for (const auto& r : status.value("routes").toArray()) {
    QJsonObject o = r.toObject();
    routes << tr("%1: %2 decisions, cost %3")
                  .arg(o.value("route").toString(), ValueText(o.value("decisions")),
                       ValueText(o.value("cost")));
  }
  routes_->setText(routes.isEmpty() ? tr("nothing yet") : routes.join("\n"));

  const QJsonValue model = status.value("model");
  if (model.isObject()) {
    QJsonObject m = model.toObject();
    model_->setText(tr("%1 (round %2, %3 training points)\n%4")
                        .arg(m.value("kind").toString(), ValueText(m.value("round")),
                             ValueText(m.value("training_size")), MetricsText(m.value("metrics"))));
  } else {
    model_->setText(tr("none yet"));
  }
  calibration_->setText(MetricsText(plots.value("calibration").toObject().value("metrics")));

  const int pending = status.value("pending_approval").toArray().size();
  pending_->setText(pending == 0
                        ? tr("none")
                        : tr("%1 decisions wait for a person (Approvals tab)").arg(pending));
  pending_->setStyleSheet(pending == 0 ? QString()
                                       : "QLabel { color: #b35900; font-weight: bold; }");

  QString top = "<b>" + tr("Top measured") + "</b><table>";
  int rank = 0;
  for (const auto& t : status.value("top").toArray()) {
    const QJsonObject o = t.toObject();
    top += QStringLiteral("<tr><td>%1.</td><td align='right'>%2</td><td>&nbsp;%3</td></tr>")
               .arg(++rank)
               .arg(ValueText(o.value("value")), Html(o.value("smiles").toString()));
  }
  top_->setText(rank == 0 ? QString() : top + "</table>");

  const QJsonValue best = status.value("best");
  if (!best.isObject()) {
    best_->setText(tr("nothing measured yet"));
    best_id_ = -1;
    best_picture_->Load(QByteArray());
    return;
  }
  const QJsonObject b = best.toObject();
  best_->setText(tr("%1 = %2 (candidate #%3, round %4)\n%5")
                     .arg(objective.value("property").toString(), ValueText(b.value("value")),
                          ValueText(b.value("candidate_id")), ValueText(b.value("round")),
                          b.value("smiles").toString()));
  const qint64 id = b.value("candidate_id").toInteger(-1);
  if (id != best_id_ && source_ != nullptr) {
    best_id_ = id;
    SourceReply svg = FetchDepiction(*source_, id, 360, 270);
    best_picture_->Load(svg.Ok() ? svg.body : QByteArray());
  }
}

bool DashboardPage::EmergencyBannerVisible() const { return !banner_->isHidden(); }
QString DashboardPage::PendingText() const { return pending_->text(); }
QString DashboardPage::BestText() const { return best_->text(); }
bool DashboardPage::HasBestPicture() const { return best_picture_->IsValid(); }

}  // namespace labloop::gui
