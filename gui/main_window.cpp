#include "gui/main_window.h"

#include <QCheckBox>
#include <QCloseEvent>
#include <QComboBox>
#include <QDialog>
#include <QDialogButtonBox>
#include <QEventLoop>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMessageBox>
#include <QProgressDialog>
#include <QRegularExpression>
#include <QSaveFile>
#include <QScrollBar>
#include <QSignalBlocker>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>
#include <QTimer>
#include <QToolBar>
#include <QToolButton>
#include <QVBoxLayout>

#include "app/engine/engine.h"
#include "gui/approvals_page.h"
#include "gui/busy_task.h"
#include "gui/dashboard_page.h"
#include "gui/jobs_page.h"
#include "gui/json_text.h"
#include "gui/molecule_page.h"
#include "gui/new_campaign_wizard.h"
#include "gui/plots_page.h"

namespace labloop::gui {

namespace {

constexpr int kRefreshMs = 2000;

// A CSV field, quoted when it must be.
QString CsvField(const QString& text) {
  if (!text.contains(QRegularExpression("[\",\n]"))) return text;
  QString quoted = text;
  return '"' + quoted.replace('"', "\"\"") + '"';
}

}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
  setWindowTitle("labloop");
  tabs_ = new QTabWidget(this);
  dashboard_ = new DashboardPage(this);
  candidates_ = new CandidateTableModel(this);
  molecule_ = new MoleculePage(this);
  plots_ = new PlotsPage(this);
  approvals_ = new ApprovalsPage(this);
  jobs_ = new JobsPage(this);
  tabs_->addTab(dashboard_, tr("Dashboard"));
  tabs_->addTab(BuildCandidatesTab(), tr("Candidates"));
  tabs_->addTab(plots_, tr("Plots"));
  tabs_->addTab(approvals_, tr("Approvals"));
  tabs_->addTab(jobs_, tr("Jobs && instruments"));
  setCentralWidget(tabs_);

  engine_label_ = new QLabel(tr("no campaign"), this);
  stop_label_ = new QLabel(this);
  stop_label_->setStyleSheet("QLabel { color: white; background: #c62828; padding: 2px 6px; }");
  stop_label_->hide();
  statusBar()->addPermanentWidget(stop_label_);
  statusBar()->addPermanentWidget(engine_label_);
  BuildToolBar();

  connect(candidates_, &CandidateTableModel::ErrorOccurred, this, &MainWindow::ShowMessage);
  connect(molecule_, &MoleculePage::ErrorOccurred, this, &MainWindow::ShowMessage);
  connect(approvals_, &ApprovalsPage::ErrorOccurred, this, &MainWindow::ShowMessage);
  connect(approvals_, &ApprovalsPage::Changed, this, [this] {
    heavy_signature_.clear();
    Refresh();
  });

  timer_ = new QTimer(this);
  timer_->setInterval(kRefreshMs);
  connect(timer_, &QTimer::timeout, this, [this] {
    if (source_ != nullptr) Refresh();
  });
  timer_->start();
  resize(1280, 820);
}

MainWindow::~MainWindow() = default;

void MainWindow::BuildToolBar() {
  QToolBar* bar = addToolBar(tr("Campaign"));
  bar->setMovable(false);
  bar->setToolButtonStyle(Qt::ToolButtonTextOnly);
  bar->addAction(tr("New campaign..."), this, &MainWindow::OnNew);
  bar->addAction(tr("Open..."), this, &MainWindow::OnOpen);
  bar->addAction(tr("Attach to server..."), this, &MainWindow::OnAttach);
  bar->addSeparator();
  bar->addAction(tr("Start engine..."), this, &MainWindow::OnStart);
  bar->addAction(tr("Pause engine"), this, [this] { ShowError(tr("Pause"), PauseEngine()); });
  bar->addAction(tr("Refresh"), this, [this] {
    heavy_signature_.clear();
    ShowError(tr("Refresh"), Refresh());
  });
  bar->addAction(tr("Export..."), this, &MainWindow::OnExport);
  bar->addSeparator();
  bar->addAction(tr("Resume after stop..."), this, &MainWindow::OnResume);
  // Always in sight, whatever tab is open: a toolbar that cannot move or hide.
  auto* spacer = new QWidget(bar);
  spacer->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Preferred);
  bar->addWidget(spacer);
  estop_button_ = new QToolButton(bar);
  estop_button_->setText(tr("EMERGENCY STOP"));
  estop_button_->setToolTip(tr("Halt every instrument and abort running experiments"));
  estop_button_->setStyleSheet(
      "QToolButton { background: #d32f2f; color: white; font-weight: bold; padding: 6px 14px; "
      "border: 2px solid #8e0000; border-radius: 4px; }"
      "QToolButton:pressed { background: #8e0000; }");
  connect(estop_button_, &QToolButton::clicked, this, &MainWindow::OnEmergencyStop);
  bar->addWidget(estop_button_);
  bar->toggleViewAction()->setEnabled(false);
}

QWidget* MainWindow::BuildCandidatesTab() {
  auto* tab = new QWidget(this);
  auto* layout = new QVBoxLayout(tab);
  auto* filters = new QHBoxLayout;
  search_ = new QLineEdit(tab);
  search_->setPlaceholderText(tr("Search SMILES, source or InChIKey (Enter)"));
  search_->setClearButtonEnabled(true);
  substructure_ = new QCheckBox(tr("substructure (SMARTS)"), tab);
  route_ = new QComboBox(tab);
  route_->addItem(tr("all routes"), QString());
  for (const char* route : {"simulate", "experiment", "trust", "reject"}) {
    route_->addItem(route, QString(route));
  }
  measured_only_ = new QCheckBox(tr("measured only"), tab);
  candidate_count_ = new QLabel(tab);
  auto* add = new QToolButton(tab);
  add->setText(tr("Add to batch"));
  add->setToolTip(tr("The selected candidate joins the waiting round's batch, chosen by you"));
  add->setPopupMode(QToolButton::InstantPopup);
  auto* add_menu = new QMenu(add);
  for (const char* route : {"simulate", "experiment"}) {
    add_menu->addAction(tr("as %1").arg(route), this, [this, route] {
      ShowError(tr("Add to batch"), AddSelectedToBatch(route));
    });
  }
  add->setMenu(add_menu);
  filters->addWidget(search_, 1);
  filters->addWidget(substructure_);
  filters->addWidget(route_);
  filters->addWidget(measured_only_);
  filters->addWidget(candidate_count_);
  filters->addWidget(add);
  layout->addLayout(filters);

  table_ = new QTableView(tab);
  table_->setModel(candidates_);
  table_->setSortingEnabled(true);
  table_->horizontalHeader()->setSortIndicator(CandidateTableModel::kId, Qt::AscendingOrder);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::SingleSelection);
  table_->setAlternatingRowColors(true);
  table_->verticalHeader()->setDefaultSectionSize(22);
  table_->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);  // no row measuring
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
  table_->verticalHeader()->hide();  // the ID column names the row
  for (int column = 0; column < CandidateTableModel::kColumnCount; ++column) {
    table_->setColumnWidth(column, CandidateTableModel::Column(column).width);
  }
  table_->setWordWrap(false);

  auto* splitter = new QSplitter(Qt::Horizontal, tab);
  splitter->addWidget(table_);
  splitter->addWidget(molecule_);
  splitter->setStretchFactor(0, 3);
  splitter->setStretchFactor(1, 2);
  splitter->setSizes({900, 500});
  layout->addWidget(splitter, 1);

  connect(search_, &QLineEdit::returnPressed, this, &MainWindow::ApplyFilterFromWidgets);
  connect(search_, &QLineEdit::textChanged, this, [this](const QString& text) {
    if (text.isEmpty()) ApplyFilterFromWidgets();
  });
  connect(substructure_, &QCheckBox::toggled, this, &MainWindow::ApplyFilterFromWidgets);
  connect(measured_only_, &QCheckBox::toggled, this, &MainWindow::ApplyFilterFromWidgets);
  connect(route_, &QComboBox::currentIndexChanged, this, &MainWindow::ApplyFilterFromWidgets);
  connect(table_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
          [this](const QModelIndex& current) {
            if (current.isValid())
              molecule_->ShowCandidate(candidates_->CandidateId(current.row()));
          });
  connect(candidates_, &QAbstractItemModel::modelReset, this, [this] {
    QString text = tr("%L1 candidates").arg(candidates_->rowCount());
    if (!candidates_->Complete()) {
      text += tr(" (searching: %L1 of %L2 scanned)")
                  .arg(candidates_->Scanned())
                  .arg(candidates_->ToScan());
    }
    candidate_count_->setText(text);
  });
  return tab;
}

void MainWindow::ApplyFilterFromWidgets() {
  CandidateFilter filter;
  filter.search = search_->text().trimmed();
  filter.substructure = substructure_->isChecked();
  filter.route = route_->currentData().toString();
  filter.measured_only = measured_only_->isChecked();
  candidates_->SetFilter(filter);
  if (!candidates_->LastError().isEmpty()) ShowMessage(candidates_->LastError());
}

void MainWindow::SetCandidateFilter(const CandidateFilter& filter) {
  // Without signals: one reload for the whole filter, not one per widget.
  {
    const QSignalBlocker b1(search_), b2(substructure_), b3(route_), b4(measured_only_);
    search_->setText(filter.search);
    substructure_->setChecked(filter.substructure);
    route_->setCurrentIndex(std::max(0, route_->findData(filter.route)));
    measured_only_->setChecked(filter.measured_only);
  }
  ApplyFilterFromWidgets();
}

bool MainWindow::ShowCandidateAt(int row) {
  if (row < 0 || row >= candidates_->rowCount()) return false;
  table_->selectRow(row);
  table_->setCurrentIndex(candidates_->index(row, 0));
  return molecule_->CandidateId() == candidates_->CandidateId(row);
}

QString MainWindow::AddSelectedToBatch(const QString& route) {
  const QModelIndex current = table_->currentIndex();
  if (!current.isValid()) return tr("select a candidate in the table first");
  const qint64 id = candidates_->CandidateId(current.row());
  QString error = approvals_->AddCandidates({id}, route);
  if (error.isEmpty()) ShowMessage(tr("Candidate %1 joined the batch (%2)").arg(id).arg(route));
  return error;
}

void MainWindow::ReleaseSource() {
  // A local engine that runs stops at its next safe point when its source goes, which can be
  // minutes away (a model fit, simulations): wait for it behind a busy dialog, the window
  // painting, instead of in a destructor on the UI thread. A server's engine is not ours to stop.
  if (source_ == nullptr || source_->LocalPath().isEmpty()) return;
  const QString state = source_->Get("/api/engine").Json().value("state").toString();
  if (state != "running" && state != "pausing") return;
  source_->Post("/api/engine", {{"action", "pause"}});
  // Watched from the UI thread (the source is not shared with another thread), in a local
  // event loop that keeps the window painting.
  QProgressDialog dialog(tr("Pausing the engine at its next safe point..."), QString(), 0, 0, this);
  dialog.setWindowModality(Qt::WindowModal);
  dialog.setMinimumDuration(0);
  dialog.show();
  QEventLoop loop;
  QTimer poll;
  connect(&poll, &QTimer::timeout, &loop, [&] {
    const QString now = source_->Get("/api/engine").Json().value("state").toString();
    if (now != "running" && now != "pausing") loop.quit();
  });
  poll.start(200);
  loop.exec();
}

void MainWindow::closeEvent(QCloseEvent* event) {
  ReleaseSource();
  QMainWindow::closeEvent(event);
}

void MainWindow::SetSource(std::unique_ptr<CampaignSource> source) {
  ReleaseSource();
  // The pages borrow the source: detach them before the old one goes.
  candidates_->SetSource(nullptr);
  molecule_->SetSource(nullptr);
  dashboard_->SetSource(nullptr);
  approvals_->SetSource(nullptr);
  jobs_->SetSource(nullptr);
  source_ = std::move(source);
  status_ = {};
  engine_ = {};
  plots_json_ = {};
  heavy_signature_.clear();
  setWindowTitle(source_ ? QStringLiteral("labloop — %1").arg(source_->Description())
                         : QStringLiteral("labloop"));
  molecule_->SetSource(source_.get());
  dashboard_->SetSource(source_.get());
  approvals_->SetSource(source_.get());
  jobs_->SetSource(source_.get());
  QString error = Refresh();
  if (!error.isEmpty()) ShowMessage(error);
}

QString MainWindow::OpenFile(const QString& campaign_path) {
  QString error;
  auto source = LocalSource::Open(campaign_path, &error);
  if (source == nullptr) return error;
  SetSource(std::move(source));
  return {};
}

QString MainWindow::AttachServer(const RemoteOptions& options) {
  auto source = std::make_unique<RemoteSource>(options);
  // One request first: a wrong URL or token is reported instead of an empty window.
  SourceReply probe = source->Get("/api/status");
  if (!probe.Ok()) return probe.ErrorMessage();
  SetSource(std::move(source));
  return {};
}

QString MainWindow::Refresh() {
  if (source_ == nullptr || refreshing_) return {};
  // A remote request waits in an event loop where the timer may fire again.
  refreshing_ = true;
  QString first_error;
  auto note = [&first_error](const QString& error) {
    if (first_error.isEmpty() && !error.isEmpty()) first_error = error;
  };

  SourceReply status = source_->Get("/api/status");
  if (status.Ok()) {
    status_ = status.Json();
  } else if (status.status == 0) {
    // No answer (a server down or hung): no more requests this time, so the window waits one
    // timeout, not one per page and table.
    refreshing_ = false;
    const QString error = tr("status: %1").arg(status.ErrorMessage());
    ShowMessage(error);
    return error;
  } else {
    note(tr("status: %1").arg(status.ErrorMessage()));
  }
  SourceReply engine = source_->Get("/api/engine");
  if (engine.Ok()) engine_ = engine.Json();
  UpdateEngineLabel();

  // The table and the plots change only when the campaign does: read them again then.
  const QJsonObject sig{{"round", status_.value("round")},
                        {"candidates", status_.value("candidates")},
                        {"measurements", status_.value("measurements")},
                        {"jobs", status_.value("jobs")},
                        {"experiments", status_.value("experiments")},
                        {"pending", status_.value("pending_approval").toArray().size()}};
  const QString signature = QString::fromUtf8(QJsonDocument(sig).toJson(QJsonDocument::Compact));
  if (signature != heavy_signature_) {
    heavy_signature_ = signature;
    SourceReply reply = source_->Get("/api/plots");
    if (reply.Ok()) {
      plots_json_ = reply.Json();
      plots_->ShowPlots(plots_json_);
    } else {
      note(tr("plots: %1").arg(reply.ErrorMessage()));
    }
    if (candidates_->Source() != source_.get()) {
      candidates_->SetSource(source_.get());
    } else {
      // Keep the chemist's place in the table while rounds come in.
      const int scroll = table_->verticalScrollBar()->value();
      candidates_->Reload();
      table_->verticalScrollBar()->setValue(scroll);
    }
    note(approvals_->Refresh());
    note(jobs_->RefreshTables());
  }
  if (status.Ok()) dashboard_->ShowStatus(status_, plots_json_);
  note(jobs_->RefreshEvents());
  refreshing_ = false;
  if (!first_error.isEmpty()) ShowMessage(first_error);
  return first_error;
}

void MainWindow::UpdateEngineLabel() {
  const QJsonObject stop = status_.value("emergency_stop").toObject();
  const bool stopped = stop.value("active").toBool();
  stop_label_->setText(tr("EMERGENCY STOP by %1: %2")
                           .arg(stop.value("by").toString(), stop.value("reason").toString()));
  stop_label_->setVisible(stopped);
  QString text = tr("engine: %1").arg(engine_.value("state").toString("unknown"));
  if (engine_.contains("rounds_run")) {
    text +=
        tr(", %1 rounds, %2 evaluations this run")
            .arg(ValueText(engine_.value("rounds_run")), ValueText(engine_.value("evaluations")));
  }
  if (!engine_.value("stop_reason").toString().isEmpty()) {
    text += tr(" (%1)").arg(engine_.value("stop_reason").toString());
  }
  if (!engine_.value("error").toString().isEmpty()) {
    text += tr(" — error: %1").arg(engine_.value("error").toString());
  }
  engine_label_->setText(text);
}

QString MainWindow::StatusBarText() const {
  QString text = engine_label_->text();
  if (!stop_label_->isHidden()) text = stop_label_->text() + " | " + text;
  return text + " | " + statusBar()->currentMessage();
}

void MainWindow::ShowMessage(const QString& message) { statusBar()->showMessage(message, 15000); }

void MainWindow::ShowError(const QString& title, const QString& error) {
  if (error.isEmpty()) return;
  ShowMessage(error);
  QMessageBox::warning(this, title, error);
}

QString MainWindow::EmergencyStop(const QString& reason) {
  if (source_ == nullptr) return tr("no campaign is open");
  SourceReply reply = source_->Post("/api/estop", {{"reason", reason}});
  heavy_signature_.clear();
  Refresh();
  if (!reply.Ok()) return reply.ErrorMessage();
  const QJsonObject r = reply.Json();
  ShowMessage(tr("Emergency stop: %1 instruments stopped, %2 experiments aborted")
                  .arg(ValueText(r.value("instruments_stopped")),
                       ValueText(r.value("experiments_aborted"))));
  // The stop is recorded either way; an instrument that did not confirm it is the operator's to
  // check by hand, so it is an error (a warning dialog), never a status-bar line.
  QStringList unconfirmed;
  for (const auto& f : r.value("failures").toArray()) unconfirmed << f.toString();
  const int running = r.value("experiments_unconfirmed").toInt();
  if (unconfirmed.isEmpty() && running == 0) return {};
  QString text = tr("NOT STOPPED: %1").arg(unconfirmed.join("; "));
  if (running > 0) {
    text += tr(". %1 experiments on those instruments may still be running: check them by hand.")
                .arg(running);
  }
  return text;
}

QString MainWindow::Resume() {
  if (source_ == nullptr) return tr("no campaign is open");
  SourceReply reply = source_->Post("/api/resume", {{"ack", true}});
  Refresh();
  return reply.Ok() ? QString() : reply.ErrorMessage();
}

QString MainWindow::StartEngine(int max_rounds) {
  QJsonObject body{{"action", "start"}};
  if (max_rounds > 0) body["max_rounds"] = max_rounds;
  return PostEngine(body);
}

QString MainWindow::PauseEngine() { return PostEngine({{"action", "pause"}}); }

QString MainWindow::PostEngine(const QJsonObject& body) {
  if (source_ == nullptr) return tr("no campaign is open");
  SourceReply reply = source_->Post("/api/engine", body);
  if (reply.Ok()) engine_ = reply.Json();
  UpdateEngineLabel();
  return reply.Ok() ? QString() : reply.ErrorMessage();
}

QString MainWindow::Export(const QString& path, bool sdf) {
  if (source_ == nullptr) return tr("no campaign is open");
  const QString local = source_->LocalPath();
  if (!local.isEmpty()) {
    return RunBusy(this, tr("Exporting..."), [local, path, sdf]() -> QString {
      auto written = engine::ExportCampaign(
          local.toStdString(), sdf ? engine::ExportFormat::kSdf : engine::ExportFormat::kCsv,
          path.toStdString());
      return written ? QString() : QString::fromStdString(written.error().ToString());
    });
  }
  if (sdf) return tr("SDF export needs the campaign file; export CSV from a server");
  // From a server: every candidate, a page at a time, in id order.
  QSaveFile file(path);
  if (!file.open(QIODevice::WriteOnly | QIODevice::Text)) {
    return tr("cannot write '%1': %2").arg(path, file.errorString());
  }
  QStringList keys;  // the table's columns, by their API names
  for (int column = 0; column < CandidateTableModel::kColumnCount; ++column) {
    keys << CandidateTableModel::Column(column).json_key;
  }
  file.write(keys.join(',').toUtf8() + "\n");
  for (qint64 offset = 0;;) {
    SourceReply reply =
        source_->Get("/api/candidates",
                     {{"offset", QString::number(offset)}, {"limit", "1000"}, {"sort", "id"}});
    if (!reply.Ok()) return reply.ErrorMessage();
    const QJsonObject page = reply.Json();
    if (!page.value("total").isDouble()) return tr("the server's candidates page has no total");
    const QJsonArray rows = page.value("rows").toArray();
    for (const auto& row : rows) {
      QStringList fields;
      for (const QString& key : keys) fields << CsvField(ValueText(row.toObject().value(key), 10));
      file.write(fields.join(',').toUtf8() + "\n");
    }
    offset += rows.size();  // what came, not what was asked for: nothing is skipped
    if (rows.isEmpty() || offset >= page.value("total").toInteger()) break;
  }
  if (!file.commit()) return tr("cannot write '%1': %2").arg(path, file.errorString());
  return {};
}

void MainWindow::OnNew() {
  NewCampaignWizard wizard(this);
  if (wizard.exec() != QDialog::Accepted) return;
  ShowError(tr("Open"), OpenFile(wizard.CreatedPath()));
}

void MainWindow::OnOpen() {
  QString path = QFileDialog::getOpenFileName(this, tr("Open campaign"), {},
                                              tr("Campaigns (*.labloop);;All files (*)"));
  if (!path.isEmpty()) ShowError(tr("Open"), OpenFile(path));
}

void MainWindow::OnAttach() {
  QDialog dialog(this);
  dialog.setWindowTitle(tr("Attach to a labloop server"));
  auto* form = new QFormLayout(&dialog);
  auto* url = new QLineEdit("https://localhost:8443", &dialog);
  auto* token = new QLineEdit(qEnvironmentVariable("LABLOOP_TOKEN"), &dialog);
  token->setEchoMode(QLineEdit::Password);
  auto* insecure =
      new QCheckBox(tr("Accept a self-signed certificate (test servers only)"), &dialog);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, &dialog);
  form->addRow(tr("Server URL:"), url);
  form->addRow(tr("Token:"), token);
  form->addRow(insecure);
  form->addRow(buttons);
  connect(buttons, &QDialogButtonBox::accepted, &dialog, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
  if (dialog.exec() != QDialog::Accepted) return;
  RemoteOptions options;
  options.server = QUrl::fromUserInput(url->text().trimmed());
  options.token = token->text().trimmed();
  options.ignore_tls_errors = insecure->isChecked();
  ShowError(tr("Attach to server"), AttachServer(options));
}

void MainWindow::OnStart() {
  bool ok = false;
  int rounds = QInputDialog::getInt(this, tr("Start engine"),
                                    tr("Rounds to run (0: until the budget is spent):"), 0, 0,
                                    1000000, 1, &ok);
  if (ok) ShowError(tr("Start engine"), StartEngine(rounds));
}

void MainWindow::OnExport() {
  QString filter;
  QString path = QFileDialog::getSaveFileName(this, tr("Export candidates"), "candidates.csv",
                                              tr("CSV (*.csv);;SDF (*.sdf)"), &filter);
  if (path.isEmpty()) return;
  const bool sdf = filter.startsWith("SDF") || path.endsWith(".sdf", Qt::CaseInsensitive);
  QString error = Export(path, sdf);
  if (error.isEmpty()) {
    ShowMessage(tr("Exported to %1").arg(path));
  } else {
    ShowError(tr("Export"), error);
  }
}

void MainWindow::OnEmergencyStop() {
  // Pre-filled, so one Enter stops everything; the reason goes into the audit log.
  bool ok = false;
  QString reason = QInputDialog::getText(
      this, tr("EMERGENCY STOP"), tr("Halt every instrument now. Reason (for the audit log):"),
      QLineEdit::Normal, tr("emergency stop from labloop-gui by %1").arg(UserName()), &ok);
  if (!ok) return;
  if (reason.trimmed().isEmpty()) reason = tr("emergency stop from labloop-gui");
  ShowError(tr("EMERGENCY STOP"), EmergencyStop(reason));
}

void MainWindow::OnResume() {
  if (QMessageBox::question(this, tr("Resume"),
                            tr("Resume after the emergency stop? Confirm that the lab has been "
                               "checked and the instruments are safe to run.")) !=
      QMessageBox::Yes) {
    return;
  }
  ShowError(tr("Resume"), Resume());
}

}  // namespace labloop::gui
