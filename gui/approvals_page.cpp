#include "gui/approvals_page.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QIcon>
#include <QInputDialog>
#include <QJsonObject>
#include <QLabel>
#include <QMessageBox>
#include <QPainter>
#include <QPushButton>
#include <QSvgRenderer>
#include <QTableWidget>
#include <QVBoxLayout>

#include "gui/campaign_source.h"
#include "gui/json_text.h"
#include "gui/structure_view.h"

namespace labloop::gui {

namespace {

QJsonArray IdArray(const QList<qint64>& ids) {
  QJsonArray array;
  for (qint64 id : ids) array.append(id);
  return array;
}

}  // namespace

ApprovalsPage::ApprovalsPage(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  summary_ = new QLabel(this);
  summary_->setWordWrap(true);
  table_ = new QTableWidget(0, 8, this);
  table_->setHorizontalHeaderLabels({tr("Candidate"), tr("Round"), tr("Route"), tr("SMILES"),
                                     tr("Predicted"), tr("Acquisition"), tr("Decision"),
                                     tr("Structure")});
  table_->horizontalHeader()->setSectionResizeMode(3, QHeaderView::Stretch);
  table_->setIconSize(QSize(kPictureWidth, kPictureHeight));
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);

  auto* buttons = new QHBoxLayout;
  auto* approve = new QPushButton(tr("Approve checked"), this);
  auto* approve_all = new QPushButton(tr("Approve all"), this);
  auto* reject = new QPushButton(tr("Reject checked..."), this);
  auto* edit = new QPushButton(tr("Edit batch: run only the checked"), this);
  auto* check_all = new QPushButton(tr("Check all"), this);
  auto* check_none = new QPushButton(tr("Check none"), this);
  for (QPushButton* b : {check_all, check_none}) buttons->addWidget(b);
  buttons->addStretch(1);
  for (QPushButton* b : {approve, approve_all, reject, edit}) buttons->addWidget(b);
  layout->addWidget(summary_);
  layout->addWidget(table_, 1);
  layout->addLayout(buttons);

  connect(check_all, &QPushButton::clicked, this, [this] { SetAllChecked(true); });
  connect(check_none, &QPushButton::clicked, this, [this] { SetAllChecked(false); });
  connect(approve, &QPushButton::clicked, this, [this] { Report(ApproveChecked()); });
  connect(approve_all, &QPushButton::clicked, this, [this] {
    if (QMessageBox::question(this, tr("Approve all"),
                              tr("Approve all %1 pending decisions?").arg(PendingCount())) ==
        QMessageBox::Yes) {
      Report(ApproveAll());
    }
  });
  connect(reject, &QPushButton::clicked, this, [this] { AskReject(); });
  connect(edit, &QPushButton::clicked, this, [this] {
    const int removed = UncheckedCandidates().size();
    if (QMessageBox::question(
            this, tr("Edit batch"),
            tr("Remove %1 unchecked candidates from the batch (rejected) and approve the %2 "
               "checked ones?")
                .arg(removed)
                .arg(CheckedCandidates().size())) == QMessageBox::Yes) {
      Report(EditBatch(UserName()));
    }
  });
}

void ApprovalsPage::SetSource(CampaignSource* source) {
  source_ = source;
  pending_ = {};
  seen_.clear();
  looked_ = false;
  pictures_.clear();
  table_->setRowCount(0);
  Refresh();
}

QString ApprovalsPage::Refresh() {
  if (source_ == nullptr) {
    summary_->setText(tr("No campaign open."));
    return {};
  }
  SourceReply reply = source_->Get("/api/approvals");
  if (!reply.Ok()) {
    summary_->setText(tr("Cannot read the approvals: %1").arg(reply.ErrorMessage()));
    return reply.ErrorMessage();
  }
  QSet<qint64> unchecked;
  for (qint64 id : UncheckedCandidates()) unchecked.insert(id);
  // Decisions that arrive after the first look come unchecked: nobody has seen them yet.
  const bool first_look = !looked_;
  looked_ = true;
  pending_ = reply.Json().value("pending").toArray();
  table_->setRowCount(pending_.size());
  for (int row = 0; row < pending_.size(); ++row) {
    const QJsonObject p = pending_.at(row).toObject();
    const qint64 id = p.value("candidate_id").toInteger();
    auto* check = new QTableWidgetItem(QString::number(id));
    check->setFlags(Qt::ItemIsEnabled | Qt::ItemIsUserCheckable | Qt::ItemIsSelectable);
    const bool unseen = !first_look && !seen_.contains(id);
    check->setCheckState(unchecked.contains(id) || unseen ? Qt::Unchecked : Qt::Checked);
    seen_.insert(id);
    check->setData(Qt::UserRole, id);
    table_->setItem(row, 0, check);
    const QStringList cells = {ValueText(p.value("round")),
                               p.value("route").toString(),
                               p.value("smiles").toString(),
                               MeanSigmaText(p.value("mean"), p.value("sigma")),
                               ValueText(p.value("acquisition_value")),
                               ValueText(p.value("decision_id"))};
    for (int c = 0; c < cells.size(); ++c)
      table_->setItem(row, c + 1, new QTableWidgetItem(cells[c]));
    auto* picture = new QTableWidgetItem;
    picture->setIcon(QIcon(Picture(id)));
    table_->setItem(row, 7, picture);
    table_->setRowHeight(row, kPictureHeight + 4);
  }
  table_->resizeColumnsToContents();
  summary_->setText(pending_.isEmpty()
                        ? tr("Nothing waits for approval.")
                        : tr("%1 decisions wait for a person. Uncheck the ones that should not "
                             "run, then approve or edit the batch.")
                              .arg(pending_.size()));
  return {};
}

int ApprovalsPage::PendingCount() const { return pending_.size(); }

void ApprovalsPage::SetChecked(int row, bool checked) {
  if (QTableWidgetItem* item = table_->item(row, 0)) {
    item->setCheckState(checked ? Qt::Checked : Qt::Unchecked);
  }
}

void ApprovalsPage::SetAllChecked(bool checked) {
  for (int row = 0; row < table_->rowCount(); ++row) SetChecked(row, checked);
}

QList<qint64> ApprovalsPage::CandidatesChecked(bool checked) const {
  QList<qint64> ids;
  for (int row = 0; row < table_->rowCount(); ++row) {
    QTableWidgetItem* item = table_->item(row, 0);
    if (item != nullptr && (item->checkState() == Qt::Checked) == checked) {
      ids << item->data(Qt::UserRole).toLongLong();
    }
  }
  return ids;
}

QList<qint64> ApprovalsPage::CheckedCandidates() const { return CandidatesChecked(true); }
QList<qint64> ApprovalsPage::UncheckedCandidates() const { return CandidatesChecked(false); }

QString ApprovalsPage::Post(const QJsonObject& body) {
  if (source_ == nullptr) return tr("no campaign is open");
  SourceReply reply = source_->Post("/api/approvals", body);
  QString error = reply.Ok() ? QString() : reply.ErrorMessage();
  Refresh();
  emit Changed();
  return error;
}

QString ApprovalsPage::ApproveChecked() {
  const QList<qint64> ids = CheckedCandidates();
  if (ids.isEmpty()) return tr("check the candidates to approve first");
  return Post({{"action", "approve"}, {"candidates", IdArray(ids)}});
}

QString ApprovalsPage::ApproveAll() {
  if (PendingCount() == 0) return tr("nothing waits for approval");
  // The decisions shown, by id: never "all", which would take ones dispatched since the refresh.
  QList<qint64> shown = CheckedCandidates();
  shown += UncheckedCandidates();
  return Post({{"action", "approve"}, {"candidates", IdArray(shown)}});
}

QString ApprovalsPage::RejectChecked(const QString& reason) {
  const QList<qint64> ids = CheckedCandidates();
  if (ids.isEmpty()) return tr("check the candidates to reject first");
  if (reason.trimmed().isEmpty()) return tr("a rejection needs a reason");
  return Post({{"action", "reject"}, {"candidates", IdArray(ids)}, {"reason", reason.trimmed()}});
}

QString ApprovalsPage::EditBatch(const QString& user) {
  const QList<qint64> removed = UncheckedCandidates();
  const QList<qint64> kept = CheckedCandidates();
  if (kept.isEmpty() && removed.isEmpty()) return tr("nothing waits for approval");
  if (!removed.isEmpty()) {
    QString error = Post({{"action", "reject"},
                          {"candidates", IdArray(removed)},
                          {"reason", tr("removed from batch by %1").arg(user)}});
    if (!error.isEmpty()) return error;
  }
  if (kept.isEmpty()) return {};
  return Post({{"action", "approve"}, {"candidates", IdArray(kept)}});
}

QString ApprovalsPage::AddCandidates(const QList<qint64>& ids, const QString& route) {
  if (ids.isEmpty()) return tr("select the candidates to add first");
  return Post({{"action", "add"}, {"candidates", IdArray(ids)}, {"route", route}});
}

QPixmap ApprovalsPage::Picture(qint64 id) {
  auto it = pictures_.find(id);
  if (it != pictures_.end()) return *it;
  QPixmap pixmap(kPictureWidth, kPictureHeight);
  pixmap.fill(Qt::white);
  SourceReply svg = FetchDepiction(*source_, id, kPictureWidth * 2, kPictureHeight * 2);
  if (!svg.Ok()) return pixmap;  // blank, and asked for again next time
  QSvgRenderer renderer(svg.body);
  if (!renderer.isValid()) return pixmap;
  {
    QPainter painter(&pixmap);
    DrawCentred(renderer, painter, QRectF(0, 0, kPictureWidth, kPictureHeight));
  }
  pictures_.insert(id, pixmap);
  return pixmap;
}

int ApprovalsPage::PictureCount() const { return static_cast<int>(pictures_.size()); }

void ApprovalsPage::Report(const QString& error) {
  if (error.isEmpty()) return;
  emit ErrorOccurred(error);
  QMessageBox::warning(this, tr("Approvals"), error);
}

void ApprovalsPage::AskReject() {
  if (CheckedCandidates().isEmpty()) {
    Report(tr("check the candidates to reject first"));
    return;
  }
  bool ok = false;
  QString reason = QInputDialog::getText(
      this, tr("Reject"),
      tr("Why are these %1 candidates rejected? (required, kept in the audit log)")
          .arg(CheckedCandidates().size()),
      QLineEdit::Normal, {}, &ok);
  if (!ok) return;
  Report(RejectChecked(reason));
}

}  // namespace labloop::gui
