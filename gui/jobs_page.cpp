#include "gui/jobs_page.h"

#include <QGroupBox>
#include <QHeaderView>
#include <QJsonArray>
#include <QJsonObject>
#include <QMessageBox>
#include <QPushButton>
#include <QRegularExpression>
#include <QScrollBar>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>
#include <algorithm>

#include "gui/campaign_source.h"
#include "gui/json_text.h"

namespace labloop::gui {

namespace {

QTableWidget* MakeTable(const QStringList& headers, QWidget* parent) {
  auto* table = new QTableWidget(0, headers.size(), parent);
  table->setHorizontalHeaderLabels(headers);
  table->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table->setSelectionBehavior(QAbstractItemView::SelectRows);
  table->horizontalHeader()->setStretchLastSection(true);
  table->verticalHeader()->hide();
  table->verticalHeader()->setDefaultSectionSize(22);
  table->setWordWrap(false);
  return table;
}

QWidget* Titled(const QString& title, QWidget* content, QWidget* parent) {
  auto* box = new QGroupBox(title, parent);
  auto* layout = new QVBoxLayout(box);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addWidget(content);
  return box;
}

// Fills `table` with one row per object of `rows`, one column per key.
void Fill(QTableWidget* table, const QJsonArray& rows, const QStringList& keys) {
  const bool was_empty = table->rowCount() == 0;
  table->setRowCount(rows.size());
  for (int r = 0; r < rows.size(); ++r) {
    const QJsonObject o = rows.at(r).toObject();
    for (int c = 0; c < keys.size(); ++c) {
      QString text = ValueText(o.value(keys[c]));
      text.replace('\n', ' ');
      table->setItem(r, c, new QTableWidgetItem(text));
    }
  }
  if (was_empty && !rows.isEmpty()) table->resizeColumnsToContents();
}

const QStringList kJobKeys = {"id",       "candidate_id",      "round",  "kind", "backend", "state",
                              "attempts", "awaiting_approval", "smiles", "error"};
const QStringList kExperimentKeys = {"id",    "job_id", "candidate_id", "round",
                                     "step",  "kind",   "instrument",   "state",
                                     "sends", "result", "error",        "updated_at"};
const QStringList kInstrumentKeys = {"name",      "driver",        "address",    "roles",
                                     "steps_out", "steps_waiting", "steps_done", "steps_failed",
                                     "reachable", "identity",      "error",      "last_update"};
constexpr int kMaxEvents = 5000;  // rows of the audit log kept in the table
const QStringList kEventKeys = {"id", "time", "actor", "kind", "detail"};

}  // namespace

JobsPage::JobsPage(QWidget* parent) : QWidget(parent) {
  jobs_ =
      MakeTable({tr("Job"), tr("Candidate"), tr("Round"), tr("Kind"), tr("Back-end"), tr("State"),
                 tr("Attempts"), tr("Awaiting approval"), tr("SMILES"), tr("Error")},
                this);
  experiments_ = MakeTable(
      {tr("Step"), tr("Job"), tr("Candidate"), tr("Round"), tr("Step no."), tr("Kind"),
       tr("Instrument"), tr("State"), tr("Sends"), tr("Result"), tr("Error"), tr("Updated")},
      this);
  instruments_ = MakeTable(
      {tr("Instrument"), tr("Driver"), tr("Address"), tr("Roles"), tr("Steps out"), tr("Waiting"),
       tr("Done"), tr("Failed"), tr("Reachable"), tr("Identity"), tr("Error"), tr("Last update")},
      this);
  auto* check = new QPushButton(tr("Check instruments"), this);
  check->setToolTip(tr("Ask every instrument who it is (at most a second)"));
  connect(check, &QPushButton::clicked, this, [this] {
    const QString error = CheckInstruments();
    if (!error.isEmpty()) QMessageBox::warning(this, tr("Instruments"), error);
  });
  auto* instruments_box = new QWidget(this);
  auto* instruments_layout = new QVBoxLayout(instruments_box);
  instruments_layout->setContentsMargins(0, 0, 0, 0);
  instruments_layout->addWidget(instruments_);
  instruments_layout->addWidget(check, 0, Qt::AlignLeft);
  events_ = MakeTable({tr("Event"), tr("Time"), tr("Actor"), tr("Kind"), tr("Detail")}, this);
  auto* splitter = new QSplitter(Qt::Vertical, this);
  splitter->addWidget(Titled(tr("Jobs"), jobs_, splitter));
  splitter->addWidget(Titled(tr("Instruments"), instruments_box, splitter));
  splitter->addWidget(Titled(tr("Experiment steps on instruments"), experiments_, splitter));
  splitter->addWidget(Titled(tr("Audit log"), events_, splitter));
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(splitter);
}

void JobsPage::SetSource(CampaignSource* source) {
  source_ = source;
  last_event_id_ = 0;
  for (QTableWidget* table : {jobs_, instruments_, experiments_, events_}) table->setRowCount(0);
}

QString JobsPage::Refresh() {
  QString error = RefreshTables();
  QString events_error = RefreshEvents();
  return error.isEmpty() ? events_error : error;
}

QString JobsPage::RefreshTables() {
  if (source_ == nullptr) return {};
  SourceReply jobs = source_->Get("/api/jobs");
  if (!jobs.Ok()) return jobs.ErrorMessage();
  Fill(jobs_, jobs.Json().value("jobs").toArray(), kJobKeys);

  // Without asking the instruments (that is CheckInstruments): the reachability shown stays as
  // last checked.
  SourceReply instruments = source_->Get("/api/instruments");
  if (!instruments.Ok()) return instruments.ErrorMessage();
  QJsonArray rows = instruments.Json().value("instruments").toArray();
  for (int r = 0; r < rows.size() && r < instruments_->rowCount(); ++r) {
    QJsonObject o = rows.at(r).toObject();
    for (const QString key : {"reachable", "identity", "error"}) {
      const int c = static_cast<int>(kInstrumentKeys.indexOf(key));
      auto* item = instruments_->item(r, c);
      if (item != nullptr && !item->text().isEmpty() && !o.contains(key)) o[key] = item->text();
    }
    rows[r] = o;
  }
  Fill(instruments_, rows, kInstrumentKeys);

  SourceReply experiments = source_->Get("/api/experiments");
  if (!experiments.Ok()) return experiments.ErrorMessage();
  Fill(experiments_, experiments.Json().value("experiments").toArray(), kExperimentKeys);
  return {};
}

QString JobsPage::CheckInstruments() {
  if (source_ == nullptr) return tr("no campaign is open");
  SourceReply instruments = source_->Get("/api/instruments", {{"probe", "1"}});
  if (!instruments.Ok()) return instruments.ErrorMessage();
  Fill(instruments_, instruments.Json().value("instruments").toArray(), kInstrumentKeys);
  return {};
}

int JobsPage::InstrumentCount() const { return instruments_->rowCount(); }

QString JobsPage::InstrumentCell(int row, const QString& key) const {
  const int column = static_cast<int>(kInstrumentKeys.indexOf(key));
  const auto* item = column >= 0 ? instruments_->item(row, column) : nullptr;
  return item != nullptr ? item->text() : QString();
}

QString JobsPage::RefreshEvents() {
  if (source_ == nullptr) return {};

  // The log only grows: ask for what came after the last event shown, a page at a time.
  for (int pages = 0; pages < 20; ++pages) {
    SourceReply events =
        source_->Get("/api/events", {{"after", QString::number(last_event_id_)}, {"limit", "500"}});
    if (!events.Ok()) return events.ErrorMessage();
    const QJsonArray rows = events.Json().value("events").toArray();
    if (rows.isEmpty()) break;
    const qint64 before = last_event_id_;
    const bool at_bottom =
        events_->verticalScrollBar()->value() == events_->verticalScrollBar()->maximum();
    const int first = events_->rowCount();
    const bool was_empty = first == 0;
    events_->setRowCount(first + rows.size());
    for (int r = 0; r < rows.size(); ++r) {
      const QJsonObject o = rows.at(r).toObject();
      for (int c = 0; c < kEventKeys.size(); ++c) {
        QString text = ValueText(o.value(kEventKeys[c]));
        if (kEventKeys[c] == "detail") text.replace(QRegularExpression("\\s+"), " ");
        events_->setItem(first + r, c, new QTableWidgetItem(text));
      }
      last_event_id_ = std::max(last_event_id_, o.value("id").toInteger());
    }
    // The newest events stay; the file keeps them all (GET /api/events?after=0).
    if (events_->rowCount() > kMaxEvents) {
      events_->model()->removeRows(0, events_->rowCount() - kMaxEvents);
    }
    if (was_empty) events_->resizeColumnsToContents();
    if (at_bottom) events_->scrollToBottom();
    // A short page is the end; an answer without newer ids would only repeat itself.
    if (rows.size() < 500 || last_event_id_ == before) break;
  }
  return {};
}

int JobsPage::JobCount() const { return jobs_->rowCount(); }
int JobsPage::ExperimentCount() const { return experiments_->rowCount(); }
int JobsPage::EventCount() const { return events_->rowCount(); }

}  // namespace labloop::gui
