#pragma once
// ApprovalsPage: the batch waiting at the approval gate (GET /api/approvals) as a checkable
// table. Approve the checked rows, approve all, reject the checked rows with a reason, or edit
// the batch: the unchecked rows are rejected as "removed from batch by <user>" and the rest
// approved, or candidates picked in the table are added to it (POST /api/approvals).
//
// The actions are plain methods returning an error message ("" on success) so tests and
// scripts can call them; the buttons wrap them with the dialogs.

#include <QHash>
#include <QJsonArray>
#include <QPixmap>
#include <QSet>
#include <QWidget>

class QLabel;
class QTableWidget;

namespace labloop::gui {

class CampaignSource;

class ApprovalsPage : public QWidget {
  Q_OBJECT

 public:
  explicit ApprovalsPage(QWidget* parent = nullptr);

  void SetSource(CampaignSource* source);  // borrowed
  // Reads the pending batch again, keeping the checks of rows still pending.
  QString Refresh();

  int PendingCount() const;
  void SetChecked(int row, bool checked);
  void SetAllChecked(bool checked);
  QList<qint64> CheckedCandidates() const;
  QList<qint64> UncheckedCandidates() const;
  int PictureCount() const;  // structures drawn so far (from valid pictures)

  QString ApproveChecked();
  QString ApproveAll();
  // `reason` is required: an empty one is refused.
  QString RejectChecked(const QString& reason);
  // Rejects the unchecked rows as removed from the batch by `user`, then approves the checked.
  QString EditBatch(const QString& user);
  // The other edit: these candidates join the open round's batch on `route` (simulate or
  // experiment), chosen by a person, so they run without waiting for approval.
  QString AddCandidates(const QList<qint64>& ids, const QString& route);

 signals:
  // Decisions changed: the main window refreshes everything.
  void Changed();
  void ErrorOccurred(const QString& message);

 private:
  QString Post(const QJsonObject& body);
  void Report(const QString& error);
  void AskReject();

  CampaignSource* source_ = nullptr;
  QLabel* summary_;
  QTableWidget* table_;
  // The structure of a candidate (RDKit's picture, through the API), drawn once and kept.
  QPixmap Picture(qint64 id);
  QList<qint64> CandidatesChecked(bool checked) const;

  static constexpr int kPictureWidth = 120, kPictureHeight = 90;
  QJsonArray pending_;
  QSet<qint64> seen_;    // candidates whose pending decision was shown
  bool looked_ = false;  // the gate was shown once (even empty) since this campaign was opened
  QHash<qint64, QPixmap> pictures_;
};

}  // namespace labloop::gui
