#include "gui/molecule_page.h"

#include <QJsonArray>
#include <QLabel>
#include <QSplitter>
#include <QTextBrowser>
#include <QVBoxLayout>

#include "gui/campaign_source.h"
#include "gui/json_text.h"
#include "gui/structure_view.h"

namespace labloop::gui {

namespace {

// An HTML table of `rows` (objects) with the given keys as columns.
QString Table(const QJsonArray& rows, const QStringList& keys, const QStringList& headers) {
  if (rows.isEmpty()) return QStringLiteral("<p><i>none</i></p>");
  QString html = QStringLiteral("<table border='1' cellspacing='0' cellpadding='3'><tr>");
  for (const auto& h : headers) html += "<th>" + Html(h) + "</th>";
  html += "</tr>";
  for (const auto& row : rows) {
    QJsonObject o = row.toObject();
    html += "<tr>";
    for (const auto& k : keys) html += "<td>" + Html(ValueText(o.value(k))) + "</td>";
    html += "</tr>";
  }
  return html + "</table>";
}

QString Pre(const QJsonValue& value) { return "<pre>" + Html(PrettyJson(value)) + "</pre>"; }

}  // namespace

MoleculePage::MoleculePage(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  title_ = new QLabel(tr("Select a candidate"), this);
  title_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  title_->setWordWrap(true);
  QFont font = title_->font();
  font.setBold(true);
  title_->setFont(font);
  structure_ = new StructureView(this);
  structure_->setMinimumSize(260, 200);
  details_ = new QTextBrowser(this);
  details_->setOpenLinks(false);
  auto* splitter = new QSplitter(Qt::Vertical, this);
  splitter->addWidget(structure_);
  splitter->addWidget(details_);
  splitter->setStretchFactor(0, 2);
  splitter->setStretchFactor(1, 3);
  layout->addWidget(title_);
  layout->addWidget(splitter, 1);
}

void MoleculePage::SetSource(CampaignSource* source) {
  source_ = source;
  Clear();
}

void MoleculePage::Clear() {
  candidate_id_ = -1;
  document_ = {};
  title_->setText(tr("Select a candidate"));
  structure_->Load(QByteArray());
  details_->clear();
}

bool MoleculePage::ShowCandidate(qint64 id) {
  if (source_ == nullptr) return false;
  const QString path = QStringLiteral("/api/candidates/%1").arg(id);
  SourceReply reply = source_->Get(path);
  if (!reply.Ok()) {
    Clear();
    details_->setPlainText(tr("Cannot show candidate %1: %2").arg(id).arg(reply.ErrorMessage()));
    emit ErrorOccurred(reply.ErrorMessage());
    return false;
  }
  candidate_id_ = id;
  document_ = reply.Json();
  title_->setText(QStringLiteral("#%1  %2").arg(id).arg(document_.value("smiles").toString()));
  SourceReply svg = FetchDepiction(*source_, id, 400, 300);
  structure_->Load(svg.Ok() ? svg.body : QByteArray());
  details_->setHtml(BuildHtml(document_));
  if (!svg.Ok()) emit ErrorOccurred(tr("no structure picture: %1").arg(svg.ErrorMessage()));
  return true;
}

bool MoleculePage::HasDepiction() const { return candidate_id_ >= 0 && structure_->IsValid(); }

QString MoleculePage::DetailsHtml() const { return details_->toHtml(); }

QString MoleculePage::BuildHtml(const QJsonObject& c) const {
  const QString property = c.value("property").toString();
  QString html;
  html += "<h3>" + tr("Identity") + "</h3><table>";
  for (const auto& [key, label] : {std::pair<QString, QString>{"inchikey", tr("InChIKey")},
                                   {"source", tr("Source")},
                                   {"location", tr("Location")},
                                   {"round_added", tr("Round added")}}) {
    html += "<tr><td><b>" + label + "</b></td><td>" + Html(ValueText(c.value(key))) + "</td></tr>";
  }
  html += "</table>";

  html += "<h3>" + tr("Predictions of %1 per model version").arg(Html(property)) + "</h3>";
  QJsonArray predictions;
  for (const auto& p : c.value("predictions").toArray()) {
    QJsonObject o = p.toObject();
    o["mean_sigma"] = MeanSigmaText(o.value("mean"), o.value("sigma"));
    predictions.append(o);
  }
  html += Table(
      predictions,
      {"model_id", "round", "kind", "mean_sigma", "sigma_epistemic", "sigma_aleatoric"},
      {tr("Model"), tr("Round"), tr("Kind"), tr("Mean ± σ"), tr("Epistemic σ"), tr("Aleatoric σ")});

  html += "<h3>" + tr("Measurements") + "</h3>";
  html += Table(
      c.value("measurements").toArray(),
      {"property", "value", "uncertainty", "fidelity", "job_id", "created_at"},
      {tr("Property"), tr("Value"), tr("Uncertainty"), tr("Fidelity"), tr("Job"), tr("Time")});

  html += "<h3>" + tr("Provenance") + "</h3>";
  html += "<p><b>" + tr("Parents") + ":</b> " + Html(ValueText(c.value("parents"))) + "</p>";
  html += Pre(c.value("provenance"));

  html += "<h3>" + tr("Decisions") + "</h3>";
  const QJsonArray decisions = c.value("decisions").toArray();
  if (decisions.isEmpty()) html += "<p><i>" + tr("none") + "</i></p>";
  for (const auto& d : decisions) {
    QJsonObject o = d.toObject();
    html += "<p><b>" +
            tr("Round %1: %2").arg(ValueText(o.value("round")), Html(o.value("route").toString()));
    html += "</b> " + tr("by %1 = %2, predicted %3, cost %4")
                          .arg(Html(o.value("acquisition").toString()),
                               ValueText(o.value("acquisition_value")),
                               MeanSigmaText(o.value("mean"), o.value("sigma")),
                               ValueText(o.value("cost")));
    if (o.value("needs_approval").toBool()) {
      if (!o.value("approved_by").toString().isEmpty()) {
        html += "<br>" + tr("approved by %1 at %2")
                             .arg(Html(o.value("approved_by").toString()),
                                  Html(ValueText(o.value("approved_at"))));
      } else if (!o.value("rejected_by").toString().isEmpty()) {
        html += "<br>" + tr("rejected by %1: %2")
                             .arg(Html(o.value("rejected_by").toString()),
                                  Html(o.value("rejected_reason").toString()));
      } else {
        html += "<br><b>" + tr("waiting for approval") + "</b>";
      }
    }
    html += "</p>" + Pre(o.value("reasons"));
  }

  html += "<h3>" + tr("Jobs") + "</h3>";
  html += Table(c.value("jobs").toArray(),
                {"id", "round", "kind", "backend", "state", "attempts", "error", "updated_at"},
                {tr("Job"), tr("Round"), tr("Kind"), tr("Back-end"), tr("State"), tr("Attempts"),
                 tr("Error"), tr("Updated")});
  return html;
}

}  // namespace labloop::gui
