#include "gui/candidate_table_model.h"

#include <array>

#include <QColor>
#include <QTimer>
#include <algorithm>
#include <climits>

#include "gui/campaign_source.h"
#include "gui/json_text.h"

namespace labloop::gui {

namespace {

// The columns, in Column order: the API's field, the API's sort key ("" where it cannot sort),
// the header (the property's unit follows "Predicted" and "Measured"), and a starting width.
const std::array<CandidateTableModel::ColumnInfo, CandidateTableModel::kColumnCount> kColumns = {{
    {"id", "id", "ID", 45},
    {"smiles", "smiles", "SMILES", 200},
    {"source", "source", "Source", 90},
    {"round_added", "round", "Round", 50},
    {"mean", "mean", "Predicted", 120},
    {"sigma", "sigma", "\xcf\x83", 50},  // σ
    {"route", "", "Route", 65},
    {"acquisition_value", "acquisition", "Acquisition", 80},
    {"measured", "measured", "Measured", 120},
    {"job_state", "", "Job", 50},
}};

const char* SortKey(int column) {
  return column >= 0 && column < CandidateTableModel::kColumnCount ? kColumns[column].sort_key : "";
}
const char* JsonKey(int column) {
  return column >= 0 && column < CandidateTableModel::kColumnCount ? kColumns[column].json_key : "";
}

}  // namespace

const CandidateTableModel::ColumnInfo& CandidateTableModel::Column(int column) {
  return kColumns[column];
}

CandidateTableModel::CandidateTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void CandidateTableModel::SetSource(CampaignSource* source) {
  source_ = source;
  Reload();
}

void CandidateTableModel::SetFilter(const CandidateFilter& filter) {
  filter_ = filter;
  Reload();
}

void CandidateTableModel::Reload() {
  // A remote page is read in an event loop, where timers may ask for another reload: it waits.
  if (resetting_) {
    ReloadLater();
    return;
  }
  beginResetModel();
  pages_.clear();
  recent_.clear();
  pending_.clear();
  failed_.clear();
  total_ = 0;
  complete_ = true;  // until page 0 says a scan goes on
  last_error_.clear();
  // Page 0 brings the total with it.
  resetting_ = true;
  const bool ok = source_ == nullptr || FetchPage(0);
  resetting_ = false;
  if (!ok) {
    total_ = 0;
    complete_ = true;
  }
  endResetModel();
  if (!ok) emit ErrorOccurred(last_error_);
  // The next request goes on scanning where this one stopped.
  // (A local file: again soon, its slices being short; a server paces itself.)
  if (!complete_) ReloadLater(source_ != nullptr && source_->IsFast() ? 20 : kScanPollMs);
}

bool CandidateTableModel::FetchPage(int page) {
  if (source_ == nullptr) return false;
  Query query{{"offset", QString::number(qint64(page) * kPageSize)},
              {"limit", QString::number(kPageSize)},
              {"sort", sort_key_}};
  if (descending_) query["desc"] = "1";
  if (!filter_.search.isEmpty())
    query[filter_.substructure ? "substructure" : "search"] = filter_.search;
  if (!filter_.route.isEmpty()) query["route"] = filter_.route;
  if (filter_.measured_only) query["measured"] = "1";
  // A local file is searched on this (the UI) thread: short slices keep the window answering
  // while a substructure search goes through a large campaign (the model asks again until done).
  if (source_->IsFast()) query["scan_ms"] = "50";
  ++fetch_count_;
  SourceReply reply = source_->Get("/api/candidates", query);
  if (!reply.Ok()) {
    last_error_ = reply.ErrorMessage();
    failed_.insert(page);
    return false;
  }
  QJsonObject json = reply.Json();
  last_error_.clear();
  property_ = json.value("property").toString();
  const int total = int(std::clamp<qint64>(json.value("total").toInteger(), 0, INT_MAX));
  if (resetting_) {
    total_ = total;
    complete_ = json.value("complete").toBool(true);
    scanned_ = json.value("scanned").toInteger();
    to_scan_ = json.value("to_scan").toInteger();
    model_id_ = json.value("model_id").toInteger();
  } else if (total != total_ || json.value("model_id").toInteger() != model_id_) {
    // The campaign grew (a generator added molecules) or a new model reordered it: the pages
    // no longer line up.
    ReloadLater();
    return false;
  }
  pages_[page] = json.value("rows").toArray();
  Touch(page);
  while (int(recent_.size()) > kCachedPages) {
    pages_.erase(recent_.back());
    recent_.pop_back();
  }
  return true;
}

void CandidateTableModel::ReloadLater(int delay_ms) {
  if (reload_pending_) return;
  reload_pending_ = true;
  QTimer::singleShot(delay_ms, this, [this] {
    reload_pending_ = false;
    Reload();
  });
}

void CandidateTableModel::Touch(int page) const {
  recent_.remove(page);
  recent_.push_front(page);
}

bool CandidateTableModel::CachedRow(int row, QJsonObject* out) const {
  auto it = pages_.find(row / kPageSize);
  if (it == pages_.end()) return false;
  int at = row % kPageSize;
  if (at >= it->second.size()) return false;
  Touch(it->first);
  *out = it->second.at(at).toObject();
  return true;
}

void CandidateTableModel::FetchLater(int page) const {
  if (pending_.contains(page)) return;
  pending_.insert(page);
  auto* self = const_cast<CandidateTableModel*>(this);
  QTimer::singleShot(0, self, [self, page] {
    if (self->resetting_) return;  // the reset clears pending_; the view asks again after it
    if (!self->pending_.remove(page) || self->pages_.count(page) != 0) return;
    if (!self->FetchPage(page)) {
      if (!self->reload_pending_) emit self->ErrorOccurred(self->last_error_);
      return;
    }
    int first = page * kPageSize;
    int last = std::min(first + kPageSize, self->total_) - 1;
    if (last >= first) {
      emit self->dataChanged(self->index(first, 0), self->index(last, kColumnCount - 1));
    }
  });
}

QJsonObject CandidateTableModel::RowObject(int row) {
  if (row < 0 || row >= total_) return {};
  QJsonObject object;
  if (CachedRow(row, &object)) return object;
  if (FetchPage(row / kPageSize)) CachedRow(row, &object);
  return object;
}

qint64 CandidateTableModel::CandidateId(int row) {
  return RowObject(row).value("id").toInteger(-1);
}

int CandidateTableModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : total_;
}

int CandidateTableModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : kColumnCount;
}

QVariant CandidateTableModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= total_) return {};
  if (role != Qt::DisplayRole && role != Qt::ToolTipRole && role != Qt::TextAlignmentRole &&
      role != Qt::UserRole && role != Qt::ForegroundRole) {
    return {};
  }
  QJsonObject object;
  const int page = index.row() / kPageSize;
  bool found = CachedRow(index.row(), &object);
  if (!found && failed_.contains(page)) return {};  // the error was reported once
  if (!found && source_ != nullptr && source_->IsFast()) {
    // A local file answers in well under a millisecond: fetch the page now, as the view scrolls.
    auto* self = const_cast<CandidateTableModel*>(this);
    if (self->FetchPage(page)) {
      found = CachedRow(index.row(), &object);
    } else {
      if (!reload_pending_) emit self->ErrorOccurred(last_error_);
      return {};
    }
  } else if (!found) {
    FetchLater(page);
  }
  if (!found) {
    if (role == Qt::DisplayRole && index.column() == kSmiles) return tr("loading...");
    return {};
  }
  const QJsonObject* row = &object;
  const QJsonValue value = row->value(JsonKey(index.column()));
  switch (role) {
    case Qt::DisplayRole:
      return ValueText(value);
    case Qt::ToolTipRole:
      return index.column() == kSmiles ? value.toString() : QVariant();
    case Qt::UserRole:
      return row->value("id").toInteger();
    case Qt::ForegroundRole:
      if (index.column() == kMeasured && !value.isNull() && !value.isUndefined()) {
        return QColor(0, 110, 0);
      }
      return {};
    case Qt::TextAlignmentRole:
      if (value.isDouble()) return int(Qt::AlignRight | Qt::AlignVCenter);
      return int(Qt::AlignLeft | Qt::AlignVCenter);
  }
  return {};
}

QVariant CandidateTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (role != Qt::DisplayRole) return {};
  if (orientation == Qt::Vertical) return section + 1;
  const QString unit = property_.isEmpty() ? QString() : QStringLiteral(" (%1)").arg(property_);
  if (section < 0 || section >= kColumnCount) return {};
  QString header = QString::fromUtf8(kColumns[section].header);
  if (section == kMean || section == kMeasured) header += unit;
  return header;
}

void CandidateTableModel::sort(int column, Qt::SortOrder order) {
  const QString key = SortKey(column);
  if (key.isEmpty()) {
    emit ErrorOccurred(tr("the server cannot sort by %1")
                           .arg(headerData(column, Qt::Horizontal).toString().toLower()));
    return;
  }
  sort_key_ = key;
  descending_ = order == Qt::DescendingOrder;
  Reload();
}

}  // namespace labloop::gui
