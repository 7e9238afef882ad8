#pragma once
// DashboardPage: the campaign at a glance, from GET /api/status and GET /api/plots: round, budget,
// spend per route, the best molecule so far (with its picture), the latest model and its
// calibration, pending approvals, and a banner while an emergency stop is active.

#include <QJsonObject>
#include <QWidget>

class QLabel;
class QProgressBar;

namespace labloop::gui {

class CampaignSource;
class StructureView;

class DashboardPage : public QWidget {
  Q_OBJECT

 public:
  explicit DashboardPage(QWidget* parent = nullptr);

  void SetSource(CampaignSource* source);  // borrowed; fetches the best molecule's picture
  void ShowStatus(const QJsonObject& status, const QJsonObject& plots);

  bool EmergencyBannerVisible() const;
  QString PendingText() const;
  QString BestText() const;
  bool HasBestPicture() const;

 private:
  CampaignSource* source_ = nullptr;
  qint64 best_id_ = -1;
  QLabel* banner_;
  QLabel* name_;
  QLabel* round_;
  QProgressBar* budget_;
  QLabel* routes_;
  QLabel* best_;
  StructureView* best_picture_;
  QLabel* top_;
  QLabel* model_;
  QLabel* calibration_;
  QLabel* pending_;
};

}  // namespace labloop::gui
