#pragma once
// CandidateTableModel: the candidates of a campaign as a table that pages through
// GET /api/candidates, so a pool of a million molecules never sits in memory.
//
// rowCount() is the query's "total"; data() fetches the page holding a row on demand and keeps
// the last few pages in a small LRU cache. A source that waits on the network is never asked
// while painting: its pages are fetched from the event loop and the rows update when they come.
// A substructure search scans the pool a second per request on the server; while it is
// incomplete the model asks again every kScanPollMs and resets with the matches found so far.

#include <QAbstractTableModel>
#include <QJsonArray>
#include <QJsonObject>
#include <QSet>
#include <QString>
#include <list>
#include <map>

namespace labloop::gui {

class CampaignSource;

struct CandidateFilter {
  QString search;             // a substring of the SMILES or source, or an InChIKey
  bool substructure = false;  // `search` is a SMARTS pattern instead
  QString route;              // "" for all, else trust, simulate, experiment, reject
  bool measured_only = false;
};

class CandidateTableModel : public QAbstractTableModel {
  Q_OBJECT

 public:
  enum Column {
    kId,
    kSmiles,
    kSource,
    kRound,
    kMean,
    kSigma,
    kRoute,
    kAcquisition,
    kMeasured,
    kJobState,
    kColumnCount
  };
  struct ColumnInfo {
    const char* json_key;  // the field of GET /api/candidates rows
    const char* sort_key;  // its sort=..., "" where the API cannot sort by it
    const char* header;
    int width;  // a starting width, pixels
  };
  static const ColumnInfo& Column(int column);  // 0 <= column < kColumnCount

  static constexpr int kPageSize = 200;
  static constexpr int kCachedPages = 8;
  static constexpr int kScanPollMs = 200;

  explicit CandidateTableModel(QObject* parent = nullptr);

  // Borrowed; null shows an empty table. Resets the model.
  void SetSource(CampaignSource* source);
  CampaignSource* Source() const { return source_; }
  void SetFilter(const CandidateFilter& filter);
  // Forgets every page and asks for the total again (after a round, an import).
  void Reload();

  // The row's JSON (fetched now if needed); empty when out of range or the fetch failed.
  QJsonObject RowObject(int row);
  qint64 CandidateId(int row);
  // The last error of a page fetch, "" when the last fetch succeeded.
  QString LastError() const { return last_error_; }
  // The property the mean and sigma columns are in.
  QString Property() const { return property_; }
  int FetchCount() const { return fetch_count_; }  // requests made: for tests and the status bar
  // False while a substructure search is still scanning; then Scanned() of ToScan() are done.
  bool Complete() const { return complete_; }
  qint64 Scanned() const { return scanned_; }
  qint64 ToScan() const { return to_scan_; }

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation,
                      int role = Qt::DisplayRole) const override;
  void sort(int column, Qt::SortOrder order = Qt::AscendingOrder) override;

 signals:
  void ErrorOccurred(const QString& message);

 private:
  // Fetches page `page` now; false (with last_error_) on failure. Outside Reload a changed total
  // is not taken over (rowCount must not change under a view) but schedules a reload.
  bool FetchPage(int page);
  void ReloadLater(int delay_ms = 0);
  bool CachedRow(int row, QJsonObject* out) const;
  void Touch(int page) const;
  void FetchLater(int page) const;

  CampaignSource* source_ = nullptr;
  CandidateFilter filter_;
  QString sort_key_ = "id";
  bool descending_ = false;
  int total_ = 0;
  qint64 model_id_ = 0;  // the model whose predictions order the rows
  QString property_;
  QString last_error_;
  int fetch_count_ = 0;
  bool resetting_ = false;
  bool complete_ = true;
  qint64 scanned_ = 0;
  qint64 to_scan_ = 0;
  bool reload_pending_ = false;
  std::map<int, QJsonArray> pages_;
  mutable std::list<int> recent_;  // most recent first
  mutable QSet<int> pending_;      // pages queued for fetching
  QSet<int> failed_;               // not asked again, cell after cell, until the next reload
};

}  // namespace labloop::gui
