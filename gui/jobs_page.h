#pragma once
// JobsPage: the jobs (GET /api/jobs), the instruments and their steps out and waiting
// (GET /api/instruments; "Check instruments" asks each who it is), the experiment steps on them
// (GET /api/experiments), and the audit log (GET /api/events?after=N), which grows by appending
// only the events newer than the last one shown.

#include <QWidget>

class QTableWidget;

namespace labloop::gui {

class CampaignSource;

class JobsPage : public QWidget {
  Q_OBJECT

 public:
  explicit JobsPage(QWidget* parent = nullptr);

  void SetSource(CampaignSource* source);  // borrowed; clears the log
  // Reads the jobs and experiments again and appends new events; returns an error or "".
  QString Refresh();
  // The tables only (whole lists: when the campaign changed) or the new events only (cheap).
  QString RefreshTables();
  QString RefreshEvents();

  // Asks every instrument who it is (GET /api/instruments?probe=1) and shows the answers.
  QString CheckInstruments();

  int JobCount() const;
  int InstrumentCount() const;
  // The instruments table's text at (row, column key), e.g. "steps_out", "reachable".
  QString InstrumentCell(int row, const QString& key) const;
  int ExperimentCount() const;
  int EventCount() const;  // rows shown: the newest 5,000 at most
  qint64 LastEventId() const { return last_event_id_; }

 private:
  CampaignSource* source_ = nullptr;
  qint64 last_event_id_ = 0;
  QTableWidget* jobs_;
  QTableWidget* instruments_;
  QTableWidget* experiments_;
  QTableWidget* events_;
};

}  // namespace labloop::gui
