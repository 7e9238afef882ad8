#pragma once
// MainWindow: labloop-gui's window. A toolbar (new campaign, open, attach to a server, start and
// pause the engine, export, resume, and an EMERGENCY STOP that is always visible), tabs for the
// dashboard, candidates (with the molecule page beside the table), plots, approvals, and jobs
// and instruments, and a status bar with the engine's state. A timer refreshes it every 2 s.
//
// Each action is a public method that returns an error message ("" on success) and shows no
// dialog, so tests and scripts can drive the window; the toolbar's slots add the dialogs.

#include <QJsonObject>
#include <QMainWindow>
#include <memory>

#include "gui/campaign_source.h"
#include "gui/candidate_table_model.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QTabWidget;
class QTableView;
class QTimer;
class QToolButton;

namespace labloop::gui {

class ApprovalsPage;
class DashboardPage;
class JobsPage;
class MoleculePage;
class PlotsPage;

class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  // Shows `source`'s campaign (owned from now on) and refreshes everything.
  void SetSource(std::unique_ptr<CampaignSource> source);
  QString OpenFile(const QString& campaign_path);
  QString AttachServer(const RemoteOptions& options);

  // Reads status, engine state, plots, approvals, jobs and new events; returns the first error.
  QString Refresh();

  QString EmergencyStop(const QString& reason);
  QString Resume();
  // max_rounds 0: until the budget is spent.
  QString StartEngine(int max_rounds);
  QString PauseEngine();
  // CSV (or SDF for a local file) of every candidate.
  QString Export(const QString& path, bool sdf);

  // Sets the filter widgets and reloads the table.
  void SetCandidateFilter(const CandidateFilter& filter);
  // Selects a table row and shows its molecule page.
  bool ShowCandidateAt(int row);
  // The selected candidate joins the open round's batch on `route` (simulate or experiment).
  QString AddSelectedToBatch(const QString& route);

  CampaignSource* Source() const { return source_.get(); }
  CandidateTableModel* Candidates() const { return candidates_; }
  QTableView* CandidateView() const { return table_; }
  MoleculePage* Molecule() const { return molecule_; }
  DashboardPage* Dashboard() const { return dashboard_; }
  PlotsPage* Plots() const { return plots_; }
  ApprovalsPage* Approvals() const { return approvals_; }
  JobsPage* Jobs() const { return jobs_; }
  QTabWidget* Tabs() const { return tabs_; }
  const QJsonObject& LastStatus() const { return status_; }
  const QJsonObject& LastEngine() const { return engine_; }
  QString StatusBarText() const;
  // Shown in the status bar; dialogs are left to the callers that face the user.
  void ShowMessage(const QString& message);

 protected:
  void closeEvent(QCloseEvent* event) override;

 private:
  // Before the source goes: a local engine that runs is paused, and waited for behind a busy
  // dialog (never in a destructor on the UI thread).
  void ReleaseSource();
  QString PostEngine(const QJsonObject& body);
  void BuildToolBar();
  QWidget* BuildCandidatesTab();
  void ApplyFilterFromWidgets();
  void UpdateEngineLabel();
  void ShowError(const QString& title, const QString& error);

  // The toolbar's slots: ask, act, report.
  void OnNew();
  void OnOpen();
  void OnAttach();
  void OnStart();
  void OnExport();
  void OnEmergencyStop();
  void OnResume();

  std::unique_ptr<CampaignSource> source_;
  QJsonObject status_;
  QJsonObject engine_;
  QJsonObject plots_json_;
  QString heavy_signature_;  // what the plots and the table were last read for
  bool refreshing_ = false;

  QTabWidget* tabs_;
  DashboardPage* dashboard_;
  CandidateTableModel* candidates_;
  QTableView* table_ = nullptr;
  QLineEdit* search_ = nullptr;
  QCheckBox* substructure_ = nullptr;
  QComboBox* route_ = nullptr;
  QCheckBox* measured_only_ = nullptr;
  QLabel* candidate_count_ = nullptr;
  MoleculePage* molecule_;
  PlotsPage* plots_;
  ApprovalsPage* approvals_;
  JobsPage* jobs_;
  QLabel* engine_label_;
  QLabel* stop_label_;
  QToolButton* estop_button_ = nullptr;
  QTimer* timer_;
};

}  // namespace labloop::gui
