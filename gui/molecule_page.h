#pragma once
// MoleculePage: one candidate in full: its structure (GET /api/candidates/ID/depiction.svg),
// predictions per model version, measurements, provenance, the router's decisions with their
// reasons, and its jobs (GET /api/candidates/ID).

#include <QJsonObject>
#include <QWidget>

class QLabel;
class QTextBrowser;

namespace labloop::gui {

class CampaignSource;
class StructureView;

class MoleculePage : public QWidget {
  Q_OBJECT

 public:
  explicit MoleculePage(QWidget* parent = nullptr);

  void SetSource(CampaignSource* source);  // borrowed
  // Shows candidate `id`; false (and the error on the page) when it cannot be read.
  bool ShowCandidate(qint64 id);
  void Clear();

  qint64 CandidateId() const { return candidate_id_; }
  const QJsonObject& Document() const { return document_; }
  // True when the structure picture parsed as SVG.
  bool HasDepiction() const;
  QString DetailsHtml() const;

 signals:
  void ErrorOccurred(const QString& message);

 private:
  QString BuildHtml(const QJsonObject& c) const;

  CampaignSource* source_ = nullptr;
  qint64 candidate_id_ = -1;
  QJsonObject document_;
  QLabel* title_;
  StructureView* structure_;
  QTextBrowser* details_;
};

}  // namespace labloop::gui
