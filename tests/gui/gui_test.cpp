// labloop-gui on real campaign files: the widgets read them through LocalSource (the engine's
// ApiHandler), exactly as they would through a server. Runs on the offscreen platform; the
// [screenshot] test runs under Xvfb (see tests/CMakeLists.txt).
#include <QApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QHostAddress>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QProcess>
#include <QSet>
#include <QTabWidget>
#include <QTableView>
#include <QTest>
#include <QUrlQuery>
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <string>

#include "app/engine/engine.h"
#include "app/server/server.h"
#include "gui/approvals_page.h"
#include "gui/campaign_source.h"
#include "gui/candidate_table_model.h"
#include "gui/dashboard_page.h"
#include "gui/jobs_page.h"
#include "gui/main_window.h"
#include "gui/molecule_page.h"
#include "gui/new_campaign_wizard.h"
#include "gui/plots_page.h"
#include "tests/app/fixtures.h"
#include "tests/instruments/emulator_process.h"
#include "tests/server/serve_process.h"
#include "tests/support/temp_dir.h"

namespace labloop::gui {
namespace {

using labloop::testing::TempDir;

QApplication& App() {
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  static int argc = 1;
  static char name[] = "gui_test";
  static char* argv[] = {name, nullptr};
  // Never destroyed: Qt's thread storage must outlive every static of the test binary.
  static QApplication* app = new QApplication(argc, argv);
  return *app;
}

const std::string kData = LABLOOP_TEST_DATA;

// ESOL solubility looked up from a table, with an exact GP: a round takes well under a second.
std::string Config(int budget, int batch, const std::string& extra = "") {
  return "[campaign]\nname = \"gui-test\"\nseed = 5\n"
         "[library]\nfiles = [\"" +
         kData +
         "/esol150.csv\"]\n"
         "[objective]\nproperty = \"logS\"\ndirection = \"maximize\"\n"
         "[model]\nkind = \"tanimoto_gp\"\n"
         "[acquisition]\nkind = \"ucb\"\nbeta = 1.0\n"
         "[simulator]\nkind = \"lookup\"\ntable = \"" +
         kData +
         "/esol150.csv\"\n"
         "value_column = \"logS\"\nthreads = 1\n"
         "[budget]\ninitial_batch = " +
         std::to_string(batch) + "\nbatch_size = " + std::to_string(batch) +
         "\nmax_evaluations = " + std::to_string(budget) + "\n" + extra;
}

std::string MakeCampaign(const TempDir& dir, const std::string& config, int rounds) {
  const std::string path = dir.File("gui.labloop");
  auto init = engine::InitCampaignFromText(path, config, "test", dir.path());
  REQUIRE(init.has_value());
  if (rounds > 0) {
    engine::RunOptions options;
    options.max_rounds = rounds;
    auto run = engine::RunCampaign(path, options);
    REQUIRE(run.has_value());
  }
  return path;
}

// Three rounds of ten: measurements, predictions per model version, decisions, plots. Shared by
// the tests that only read.
const std::string& RichCampaign() {
  static TempDir dir;
  static std::string path = MakeCampaign(dir, Config(60, 10), 3);
  return path;
}

QString Q(const std::string& s) { return QString::fromStdString(s); }

QJsonObject Get(CampaignSource& source, const QString& path) {
  SourceReply reply = source.Get(path);
  REQUIRE(reply.Ok());
  return reply.Json();
}

// A source serving a million synthetic candidates, counting the rows it hands out.
class MillionSource : public CampaignSource {
 public:
  SourceReply Request(const QString&, const QString& path, const Query& query,
                      const QByteArray&) override {
    SourceReply reply;
    reply.status = path == "/api/candidates" ? 200 : 404;
    const qint64 offset = query.value("offset").toLongLong();
    if (fail_from >= 0 && offset >= fail_from) {
      reply.status = 503;
      reply.body = R"({"error": "database is busy"})";
      return reply;
    }
    const qint64 limit = query.value("limit").toLongLong();
    QJsonArray rows;
    for (qint64 i = offset; i < std::min<qint64>(offset + limit, total); ++i) {
      rows.append(QJsonObject{{"id", i + 1}, {"smiles", "C" + QString::number(i)}});
    }
    rows_served += rows.size();
    reply.body = QJsonDocument(QJsonObject{{"total", total}, {"rows", rows}}).toJson();
    return reply;
  }
  QString Description() const override { return "million"; }
  bool IsFast() const override { return fast; }

  bool fast = true;
  qint64 total = kTotal;
  qint64 fail_from = -1;  // offsets from here answer 503
  static constexpr qint64 kTotal = 1000000;
  qint64 rows_served = 0;
};

// A local file seen as if it were remote: no LocalPath, so the window takes its server paths.
class AsIfRemote : public CampaignSource {
 public:
  explicit AsIfRemote(std::unique_ptr<LocalSource> local) : local_(std::move(local)) {}
  SourceReply Request(const QString& method, const QString& path, const Query& query,
                      const QByteArray& body) override {
    return local_->Request(method, path, query, body);
  }
  QString Description() const override { return "as-if-remote"; }

 private:
  std::unique_ptr<LocalSource> local_;
};

int CountLines(const QString& path) {
  QFile file(path);
  REQUIRE(file.open(QIODevice::ReadOnly | QIODevice::Text));
  int lines = 0;
  while (!file.readLine().isEmpty()) ++lines;
  return lines;
}

TEST_CASE("the candidates table shows every candidate of an opened campaign", "[gui]") {
  App();
  MainWindow window;
  REQUIRE(window.OpenFile(Q(RichCampaign())).isEmpty());
  const QJsonObject status = window.LastStatus();
  const int candidates = status.value("candidates").toInt();
  REQUIRE(candidates > 100);
  CandidateTableModel* model = window.Candidates();
  CHECK(model->rowCount() == candidates);
  CHECK(model->columnCount() == CandidateTableModel::kColumnCount);
  const QString smiles = model->data(model->index(0, CandidateTableModel::kSmiles)).toString();
  CHECK(!smiles.isEmpty());
  CHECK(smiles != "loading...");
  // The last row comes from another page.
  CHECK(!model->data(model->index(candidates - 1, CandidateTableModel::kSmiles))
             .toString()
             .isEmpty());
  CHECK(model->Property() == "logS");
  CHECK(model->headerData(CandidateTableModel::kMean, Qt::Horizontal).toString().contains("logS"));
}

TEST_CASE("sorting by the predicted mean orders the rows", "[gui]") {
  App();
  MainWindow window;
  REQUIRE(window.OpenFile(Q(RichCampaign())).isEmpty());
  CandidateTableModel* model = window.Candidates();
  const int total = model->rowCount();
  window.CandidateView()->sortByColumn(CandidateTableModel::kMean, Qt::DescendingOrder);
  REQUIRE(model->rowCount() == total);
  std::vector<double> means;
  for (int row = 0; row < 50; ++row) {
    const QJsonValue mean = model->RowObject(row).value("mean");
    if (mean.isDouble()) means.push_back(mean.toDouble());
  }
  REQUIRE(means.size() >= 20);
  CHECK(std::is_sorted(means.rbegin(), means.rend()));

  model->sort(CandidateTableModel::kMean, Qt::AscendingOrder);
  const double first = model->RowObject(0).value("mean").toDouble();
  CHECK(first <= means.back());
  // A column the API cannot sort by changes nothing and says so.
  QString error;
  QObject::connect(model, &CandidateTableModel::ErrorOccurred,
                   [&error](const QString& message) { error = message; });
  model->sort(CandidateTableModel::kJobState, Qt::AscendingOrder);
  CHECK(error.contains("cannot sort"));
  CHECK(model->RowObject(0).value("mean").toDouble() == first);
}

TEST_CASE("search, substructure, route and measured filters narrow the table", "[gui]") {
  App();
  MainWindow window;
  REQUIRE(window.OpenFile(Q(RichCampaign())).isEmpty());
  CandidateTableModel* model = window.Candidates();
  const int total = model->rowCount();

  CandidateFilter filter;
  filter.search = "Cl";
  window.SetCandidateFilter(filter);
  const int with_cl = model->rowCount();
  CHECK(with_cl > 0);
  CHECK(with_cl < total);
  for (int row = 0; row < with_cl; ++row) {
    const QJsonObject o = model->RowObject(row);
    CHECK((o.value("smiles").toString().contains("Cl") ||
           o.value("source").toString().contains("Cl")));
  }

  filter.search = "c1ccccc1";
  filter.substructure = true;
  window.SetCandidateFilter(filter);
  const int aromatic = model->rowCount();
  CHECK(aromatic > 0);
  CHECK(aromatic < total);
  CHECK(model->RowObject(0).value("smiles").toString().contains('c'));

  filter = {};
  filter.measured_only = true;
  window.SetCandidateFilter(filter);
  CHECK(model->rowCount() == window.LastStatus().value("measurements").toInt());
  for (int row = 0; row < model->rowCount(); ++row) {
    CHECK(!model->RowObject(row).value("measured").isNull());
  }

  filter = {};
  filter.route = "simulate";
  window.SetCandidateFilter(filter);
  CHECK(model->rowCount() > 0);
  CHECK(model->RowObject(0).value("route").toString() == "simulate");

  window.SetCandidateFilter({});
  CHECK(model->rowCount() == total);
}

TEST_CASE("selecting a row opens the molecule page with its depiction", "[gui]") {
  App();
  MainWindow window;
  REQUIRE(window.OpenFile(Q(RichCampaign())).isEmpty());
  // A measured candidate has decisions, predictions and a job.
  window.SetCandidateFilter({QString(), false, QString(), true});
  REQUIRE(window.Candidates()->rowCount() > 0);
  REQUIRE(window.ShowCandidateAt(0));
  MoleculePage* page = window.Molecule();
  CHECK(page->HasDepiction());
  const QJsonObject document = page->Document();
  CHECK(!document.value("smiles").toString().isEmpty());
  CHECK(!document.value("decisions").toArray().isEmpty());
  CHECK(!document.value("measurements").toArray().isEmpty());
  CHECK(!document.value("jobs").toArray().isEmpty());
  const QString html = page->DetailsHtml();
  CHECK(html.contains("Predictions of logS"));
  CHECK(html.contains("Provenance"));
  CHECK(
      html.contains(document.value("decisions").toArray()[0].toObject().value("route").toString()));

  CHECK_FALSE(page->ShowCandidate(987654321));  // unknown: an error on the page, no crash
  CHECK_FALSE(page->HasDepiction());
}

TEST_CASE("a million-row table fetches only the pages it shows", "[gui]") {
  App();
  MillionSource source;
  CandidateTableModel model;
  model.SetSource(&source);
  CHECK(model.rowCount() == MillionSource::kTotal);
  CHECK(source.rows_served == CandidateTableModel::kPageSize);
  CHECK(model.data(model.index(999999, CandidateTableModel::kSmiles)).toString() == "C999999");
  CHECK(model.data(model.index(500000, CandidateTableModel::kId)).toString() == "500001");
  for (int page = 0; page < 30; ++page) {
    model.data(model.index(page * CandidateTableModel::kPageSize, 0));
  }
  const int fetches = model.FetchCount();
  // Rows of a recent page come from the cache.
  model.data(model.index(29 * CandidateTableModel::kPageSize + 5, 0));
  CHECK(model.FetchCount() == fetches);
  CHECK(source.rows_served <= 40 * CandidateTableModel::kPageSize);

  QTableView view;
  view.setModel(&model);
  view.resize(800, 600);
  view.show();
  view.scrollToBottom();
  QApplication::processEvents();
  CHECK(model.FetchCount() - fetches <= 2);

  // The campaign grows: the row count never changes under the view, a reset follows.
  source.total += 10;
  model.data(model.index(300000, 0));
  CHECK(model.rowCount() == MillionSource::kTotal);
  QApplication::processEvents();
  CHECK(model.rowCount() == MillionSource::kTotal + 10);
}

TEST_CASE("a page that cannot be read is reported once, not fetched for every cell", "[gui]") {
  App();
  MillionSource source;
  source.fail_from = 1000;
  CandidateTableModel model;
  model.SetSource(&source);
  QStringList errors;
  QObject::connect(&model, &CandidateTableModel::ErrorOccurred,
                   [&errors](const QString& message) { errors << message; });
  CHECK(model.data(model.index(5000, CandidateTableModel::kSmiles)).isNull());
  const int fetches = model.FetchCount();
  for (int column = 0; column < CandidateTableModel::kColumnCount; ++column) {
    CHECK(model.data(model.index(5001, column)).isNull());
  }
  CHECK(model.FetchCount() == fetches);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] == "database is busy (HTTP 503)");
  CHECK(model.data(model.index(10, CandidateTableModel::kSmiles)).toString() == "C10");
}

// A substructure search the server scans over several requests: 10 more matches each time.
class ScanningSource : public CampaignSource {
 public:
  SourceReply Request(const QString&, const QString&, const Query& query,
                      const QByteArray&) override {
    if (query.value("offset") == "0") found = std::min(found + 10, 50);
    QJsonArray rows;
    for (int i = query.value("offset").toInt(); i < found; ++i) {
      rows.append(QJsonObject{{"id", i + 1}, {"smiles", "c1ccccc1"}});
    }
    SourceReply reply;
    reply.status = 200;
    reply.body = QJsonDocument(QJsonObject{{"total", found},
                                           {"complete", found == 50},
                                           {"scanned", found * 1000},
                                           {"to_scan", 50000},
                                           {"rows", rows}})
                     .toJson();
    return reply;
  }
  QString Description() const override { return "scanning"; }
  bool IsFast() const override { return true; }
  int found = 0;
};

TEST_CASE("an incomplete substructure search keeps asking until complete", "[gui]") {
  App();
  ScanningSource source;
  CandidateTableModel model;
  model.SetSource(&source);
  CHECK(model.rowCount() == 10);
  CHECK_FALSE(model.Complete());
  CHECK(model.Scanned() == 10000);
  CHECK(model.ToScan() == 50000);
  for (int i = 0; i < 100 && !model.Complete(); ++i) QTest::qWait(50);
  CHECK(model.Complete());
  CHECK(model.rowCount() == 50);
}

TEST_CASE("a source that waits on the network is never asked while painting", "[gui]") {
  App();
  MillionSource source;
  source.fast = false;
  CandidateTableModel model;
  model.SetSource(&source);
  REQUIRE(model.rowCount() == MillionSource::kTotal);
  int changed = 0;
  QObject::connect(&model, &QAbstractItemModel::dataChanged, [&changed] { ++changed; });
  const QModelIndex far = model.index(700000, CandidateTableModel::kSmiles);
  CHECK(model.data(far).toString() == "loading...");
  model.data(model.index(700001, CandidateTableModel::kSmiles));  // same page: one fetch
  CHECK(model.FetchCount() == 1);
  QApplication::processEvents();
  CHECK(model.FetchCount() == 2);
  CHECK(changed == 1);
  CHECK(model.data(far).toString() == "C700000");
}

TEST_CASE("the plots and the dashboard show the campaign", "[gui]") {
  App();
  MainWindow window;
  REQUIRE(window.OpenFile(Q(RichCampaign())).isEmpty());
  PlotsPage* plots = window.Plots();
  const int measurements = window.LastStatus().value("measurements").toInt();
  CHECK(plots->PointCount(PlotsPage::kBestSoFar) == 2 * measurements);  // values and best line
  CHECK(plots->PointCount(PlotsPage::kParity) > 0);
  CHECK(plots->PointCount(PlotsPage::kCalibration) > 0);
  CHECK(plots->PointCount(PlotsPage::kPareto) > 0);
  CHECK(plots->PointCount(PlotsPage::kRoutes) >= 1);

  TempDir dir;
  const QString png = Q(dir.File("parity.png"));
  REQUIRE(plots->SavePng(PlotsPage::kParity, png, 400, 300));
  QImage image(png);
  CHECK(image.width() == 400);
  CHECK(image.height() == 300);

  DashboardPage* dashboard = window.Dashboard();
  CHECK(dashboard->BestText().contains("logS"));
  CHECK(dashboard->HasBestPicture());
  CHECK(dashboard->PendingText() == "none");
  CHECK_FALSE(dashboard->EmergencyBannerVisible());
}

TEST_CASE("the jobs page lists jobs and appends only new events", "[gui]") {
  App();
  MainWindow window;
  REQUIRE(window.OpenFile(Q(RichCampaign())).isEmpty());
  JobsPage* jobs = window.Jobs();
  CHECK(jobs->JobCount() == window.LastStatus().value("measurements").toInt());
  const int events = jobs->EventCount();
  CHECK(events > 0);
  CHECK(jobs->LastEventId() > 0);
  CHECK(jobs->Refresh().isEmpty());
  CHECK(jobs->EventCount() == events);  // nothing new: nothing appended
  // One new event (a token added is in the audit log): exactly one row more.
  REQUIRE(server::AddToken(RichCampaign(), "jobs-page-test", "viewer").has_value());
  CHECK(jobs->Refresh().isEmpty());
  CHECK(jobs->EventCount() == events + 1);
}

TEST_CASE("approving and editing a batch empties the approval gate", "[gui]") {
  App();
  TempDir dir;
  const std::string path =
      MakeCampaign(dir, Config(40, 8, "[approval]\nroutes = [\"simulate\"]\n"), 1);
  MainWindow window;
  REQUIRE(window.OpenFile(Q(path)).isEmpty());
  ApprovalsPage* approvals = window.Approvals();
  REQUIRE(approvals->PendingCount() == 8);
  CHECK(window.LastStatus().value("pending_approval").toArray().size() == 8);
  CHECK(window.Dashboard()->PendingText().contains("8"));

  approvals->SetAllChecked(false);
  CHECK(!approvals->ApproveChecked().isEmpty());  // nothing checked
  approvals->SetChecked(0, true);
  approvals->SetChecked(1, true);
  CHECK(!approvals->RejectChecked("  ").isEmpty());  // a reason is required
  CHECK(approvals->PendingCount() == 8);
  CHECK(approvals->RejectChecked("too similar to a known hit").isEmpty());
  CHECK(approvals->PendingCount() == 6);

  // Edit the batch: keep two, remove the rest.
  approvals->SetAllChecked(false);
  approvals->SetChecked(0, true);
  approvals->SetChecked(1, true);
  const QList<qint64> removed = approvals->UncheckedCandidates();
  REQUIRE(removed.size() == 4);
  CHECK(approvals->EditBatch("tester").isEmpty());
  CHECK(approvals->PendingCount() == 0);
  CHECK(window.LastStatus().value("pending_approval").toArray().isEmpty());
  CHECK(window.Dashboard()->PendingText() == "none");

  const QJsonObject candidate =
      Get(*window.Source(), QStringLiteral("/api/candidates/%1").arg(removed[0]));
  bool found = false;
  for (const auto& d : candidate.value("decisions").toArray()) {
    if (d.toObject().value("rejected_reason").toString() == "removed from batch by tester")
      found = true;
  }
  CHECK(found);
}

TEST_CASE("a batch that arrives after a look at an empty gate comes unchecked", "[gui]") {
  App();
  TempDir dir;
  const std::string path =
      MakeCampaign(dir, Config(40, 8, "[approval]\nroutes = [\"simulate\"]\n"), 0);
  MainWindow window;
  REQUIRE(window.OpenFile(Q(path)).isEmpty());
  REQUIRE(window.Approvals()->PendingCount() == 0);  // looked at, empty
  engine::RunOptions one;
  one.max_rounds = 1;
  REQUIRE(engine::RunCampaign(path, one));
  CHECK(window.Approvals()->Refresh().isEmpty());
  REQUIRE(window.Approvals()->PendingCount() == 8);
  // Nobody has seen these yet: "Approve checked" must not approve them unseen.
  CHECK(window.Approvals()->CheckedCandidates().isEmpty());
  CHECK(window.Approvals()->UncheckedCandidates().size() == 8);
}

TEST_CASE("a person adds a candidate to the waiting batch", "[gui]") {
  App();
  TempDir dir;
  const std::string path =
      MakeCampaign(dir, Config(40, 4, "[approval]\nroutes = [\"simulate\"]\n"), 1);
  MainWindow window;
  REQUIRE(window.OpenFile(Q(path)).isEmpty());
  REQUIRE(window.Approvals()->PendingCount() == 4);
  CHECK(window.Approvals()->PictureCount() == 4);           // each decision shows its structure
  CHECK(!window.AddSelectedToBatch("simulate").isEmpty());  // nothing selected
  // A candidate the round did not pick: no route yet.
  int row = 0;
  while (row < 150 && !window.Candidates()->RowObject(row).value("route").toString().isEmpty()) {
    ++row;
  }
  REQUIRE(window.ShowCandidateAt(row));
  const qint64 id = window.Candidates()->CandidateId(row);
  const int jobs = window.Jobs()->JobCount();
  REQUIRE(window.AddSelectedToBatch("simulate").isEmpty());
  CHECK(window.Jobs()->JobCount() == jobs + 1);
  // The gate holds for a person's pick as for the engine's; it comes unchecked (unseen).
  CHECK(window.Approvals()->PendingCount() == 5);
  CHECK(window.Approvals()->CheckedCandidates().size() == 4);
  CHECK(window.Approvals()->UncheckedCandidates() == QList<qint64>{id});
  const QJsonObject candidate = Get(*window.Source(), QStringLiteral("/api/candidates/%1").arg(id));
  REQUIRE(candidate.value("decisions").toArray().size() == 1);
  CHECK(candidate.value("decisions").toArray()[0].toObject().value("route").toString() ==
        "simulate");
  CHECK(!window.AddSelectedToBatch("simulate").isEmpty());  // already in the batch
}

TEST_CASE("approve all clears the gate", "[gui]") {
  App();
  TempDir dir;
  const std::string path =
      MakeCampaign(dir, Config(40, 5, "[approval]\nroutes = [\"simulate\"]\n"), 1);
  MainWindow window;
  REQUIRE(window.OpenFile(Q(path)).isEmpty());
  REQUIRE(window.Approvals()->PendingCount() == 5);
  CHECK(window.Approvals()->ApproveAll().isEmpty());
  CHECK(window.Approvals()->PendingCount() == 0);
  CHECK(window.LastStatus().value("pending_approval").toArray().isEmpty());
  CHECK(!window.Approvals()->ApproveAll().isEmpty());  // nothing left
}

TEST_CASE("the emergency stop shows everywhere until resumed", "[gui]") {
  App();
  TempDir dir;
  const std::string path = MakeCampaign(dir, Config(20, 5), 0);
  MainWindow window;
  REQUIRE(window.OpenFile(Q(path)).isEmpty());
  CHECK_FALSE(window.LastStatus().value("emergency_stop").toObject().value("active").toBool());
  REQUIRE(window.EmergencyStop("smoke in the fume hood").isEmpty());
  const QJsonObject stop = window.LastStatus().value("emergency_stop").toObject();
  CHECK(stop.value("active").toBool());
  CHECK(stop.value("reason").toString() == "smoke in the fume hood");
  CHECK(window.Dashboard()->EmergencyBannerVisible());
  CHECK(window.StatusBarText().contains("EMERGENCY STOP"));
  // The engine does not run a round while the stop holds.
  if (window.StartEngine(1).isEmpty()) {
    for (int i = 0; i < 100 && window.LastEngine().value("state").toString() == "running"; ++i) {
      QTest::qWait(50);
      window.Refresh();
    }
  }
  CHECK(window.LastEngine().value("state").toString() == "failed");
  CHECK(window.LastEngine().value("error").toString().contains("emergency stop"));
  CHECK(window.LastStatus().value("measurements").toInt() == 0);

  REQUIRE(window.Resume().isEmpty());
  CHECK_FALSE(window.LastStatus().value("emergency_stop").toObject().value("active").toBool());
  CHECK_FALSE(window.Dashboard()->EmergencyBannerVisible());
  CHECK(!window.Resume().isEmpty());  // no stop to resume: 409
}

TEST_CASE("start and pause run the engine in the background", "[gui]") {
  App();
  TempDir dir;
  const std::string path = MakeCampaign(dir, Config(20, 5), 0);
  MainWindow window;
  REQUIRE(window.OpenFile(Q(path)).isEmpty());
  REQUIRE(window.StartEngine(2).isEmpty());
  for (int i = 0; i < 600; ++i) {
    window.Refresh();
    const QString state = window.LastEngine().value("state").toString();
    if (state != "running" && state != "pausing") break;
    QTest::qWait(100);
  }
  CHECK(window.LastEngine().value("rounds_run").toInt() == 2);
  CHECK(window.LastStatus().value("measurements").toInt() == 10);
  CHECK(window.Candidates()->rowCount() == window.LastStatus().value("candidates").toInt());
  CHECK(window.PauseEngine().isEmpty());  // on an engine that has stopped: answered, no change
  CHECK(window.LastEngine().value("state").toString() == "stopped");
  CHECK(window.StatusBarText().contains("engine:"));
}

TEST_CASE("export writes every candidate, locally and through the API", "[gui]") {
  App();
  TempDir dir;
  MainWindow window;
  REQUIRE(window.OpenFile(Q(RichCampaign())).isEmpty());
  const int candidates = window.LastStatus().value("candidates").toInt();
  const QString csv = Q(dir.File("local.csv"));
  REQUIRE(window.Export(csv, false).isEmpty());
  CHECK(CountLines(csv) == candidates + 1);
  const QString sdf = Q(dir.File("local.sdf"));
  REQUIRE(window.Export(sdf, true).isEmpty());
  CHECK(QFile(sdf).size() > 0);

  QString error;
  auto local = LocalSource::Open(Q(RichCampaign()), &error);
  REQUIRE(local != nullptr);
  window.SetSource(std::make_unique<AsIfRemote>(std::move(local)));
  const QString paged = Q(dir.File("paged.csv"));
  REQUIRE(window.Export(paged, false).isEmpty());
  CHECK(CountLines(paged) == candidates + 1);
  CHECK(!window.Export(Q(dir.File("remote.sdf")), true).isEmpty());
}

TEST_CASE("errors come back as messages, not crashes", "[gui]") {
  App();
  MainWindow window;
  CHECK(!window.OpenFile("/nonexistent/folder/none.labloop").isEmpty());
  CHECK(!window.EmergencyStop("no campaign").isEmpty());
  RemoteOptions options;
  options.server = QUrl("http://127.0.0.1:1");
  options.token = "x";
  options.timeout_ms = 3000;
  const QString remote = window.AttachServer(options);
  CHECK(remote.contains("127.0.0.1"));
  CHECK(window.Source() == nullptr);

  SourceReply reply;
  reply.status = 404;
  reply.body = R"({"error": "no candidate 7"})";
  CHECK(reply.ErrorMessage() == "no candidate 7 (HTTP 404)");
}

TEST_CASE("the wizard writes a config that InitCampaign accepts", "[gui]") {
  App();
  TempDir dir;
  NewCampaignWizard wizard;
  WizardSettings settings;
  settings.name = "wizard-test";
  settings.library = Q(kData + "/esol150.csv");
  settings.smiles_column = "smiles";
  settings.property = "logS";
  settings.direction = "maximize";
  settings.simulator = "lookup";
  settings.value_column = "logS";
  settings.max_evaluations = 30;
  settings.batch_size = 5;
  settings.initial_batch = 5;
  settings.model = "tanimoto_gp";
  settings.approve_simulations = true;
  settings.campaign_path = Q(dir.File("wizard.labloop"));
  wizard.SetSettings(settings);
  CHECK(CsvColumns(settings.library) == QStringList{"smiles", "logS"});

  const WizardSettings read_back = wizard.Settings();
  CHECK(read_back.library == settings.library);
  CHECK(read_back.property == "logS");
  CHECK(read_back.approve_simulations);
  const QString toml = wizard.TomlText();
  CHECK(toml.contains("[objective]"));
  CHECK(toml.contains("property = \"logS\""));
  CHECK(toml.contains("routes = [\"simulate\"]"));

  REQUIRE(wizard.Create().isEmpty());
  CHECK(wizard.CreatedPath() == settings.campaign_path);
  CHECK(QFile::exists(TomlPathFor(settings.campaign_path)));
  // The written TOML is the one shown, less the header line naming its file.
  QFile written(TomlPathFor(settings.campaign_path));
  REQUIRE(written.open(QIODevice::ReadOnly | QIODevice::Text));
  CHECK(toml.endsWith(QString::fromUtf8(written.readAll())));

  MainWindow window;
  REQUIRE(window.OpenFile(settings.campaign_path).isEmpty());
  CHECK(window.LastStatus().value("name").toString() == "wizard-test");
  CHECK(window.LastStatus().value("candidates").toInt() > 100);
  CHECK(window.LastStatus().value("budget").toObject().value("total").toInt() == 30);

  // A second campaign over the same file is refused before anything is written.
  CHECK(CreateCampaign(settings).contains("exists"));
  WizardSettings broken = settings;
  broken.campaign_path = Q(dir.File("broken.labloop"));
  broken.property = "not_a_column";
  broken.value_column = "not_a_column";
  CHECK(!CreateCampaign(broken).isEmpty());
}

TEST_CASE("the wizard's xtb campaign over a SMILES file initializes", "[gui]") {
  App();
  TempDir dir;
  QFile pool(QStringLiteral(LABLOOP_SOURCE_DIR) + "/examples/qm9-gap/pool.smi");
  REQUIRE(pool.open(QIODevice::ReadOnly | QIODevice::Text));
  QByteArray head;
  for (int i = 0; i < 40; ++i) head += pool.readLine();
  WizardSettings settings;
  settings.name = "wizard-xtb";
  settings.library = Q(dir.Write("pool.smi", head.toStdString()));
  settings.property = "gap";
  settings.direction = "minimize";
  settings.simulator = "xtb";
  settings.model = "deep_ensemble";
  settings.acquisition = "ei";
  settings.max_evaluations = 20;
  settings.campaign_path = Q(dir.File("xtb.labloop"));
  const QString toml = CampaignToml(settings);
  CHECK(toml.contains("kind = \"xtb\""));
  CHECK_FALSE(toml.contains("table ="));
  CHECK_FALSE(toml.contains("smiles_column"));
  REQUIRE(CreateCampaign(settings).isEmpty());
  auto status = engine::GetStatus(settings.campaign_path.toStdString());
  REQUIRE(status.has_value());
  CHECK(status->summary.candidates > 30);
  CHECK(status->property == "gap");
}

TEST_CASE("attaching to a server shows the same campaign over HTTP", "[gui]") {
  App();
  TempDir dir;
  const std::string path =
      MakeCampaign(dir, Config(40, 6, "[approval]\nroutes = [\"simulate\"]\n"), 1);
  auto token = server::AddToken(path, "curie", "operator");
  REQUIRE(token.has_value());
  auto admin = server::AddToken(path, "pi", "admin");
  REQUIRE(admin.has_value());
  auto server = std::make_unique<testing::ServeProcess>(QStringList{Q(path)});
  MainWindow window;
  RemoteOptions options;
  options.server = QUrl(server->url());
  options.token = "wrong";
  CHECK(window.AttachServer(options).contains("HTTP 401"));
  CHECK(window.Source() == nullptr);

  options.token = Q(*token);
  REQUIRE(window.AttachServer(options).isEmpty());
  CHECK(window.Source()->LocalPath().isEmpty());
  CHECK(window.LastStatus().value("candidates").toInt() == 150);
  CandidateTableModel* model = window.Candidates();
  CHECK(model->rowCount() == 150);
  CHECK(!model->data(model->index(149, CandidateTableModel::kSmiles)).toString().isEmpty());

  window.SetCandidateFilter({"c1ccccc1", true, QString(), false});
  CHECK(model->rowCount() > 0);
  CHECK(model->rowCount() < 150);
  REQUIRE(window.ShowCandidateAt(0));
  CHECK(window.Molecule()->HasDepiction());

  REQUIRE(window.Approvals()->PendingCount() == 6);
  CHECK(window.Approvals()->ApproveAll().isEmpty());
  CHECK(window.LastStatus().value("pending_approval").toArray().isEmpty());
  REQUIRE(window.EmergencyStop("remote drill").isEmpty());
  CHECK(window.LastStatus().value("emergency_stop").toObject().value("active").toBool());
  // An operator may stop but not resume; the window says so.
  CHECK(window.Resume().contains("403"));
  // The actions went through the server under the token's name.
  CHECK(testing::QueryCampaign(path,
                               "SELECT COUNT(*) FROM decision WHERE approved_by = "
                               "'token:curie'")[0][0] == "6");

  // Attached again as an admin, the window resumes.
  options.token = Q(*admin);
  REQUIRE(window.AttachServer(options).isEmpty());
  CHECK(window.Resume().isEmpty());
  CHECK_FALSE(window.LastStatus().value("emergency_stop").toObject().value("active").toBool());

  // The server goes away: the next refresh says so after one request, not one per table.
  server.reset();
  QElapsedTimer clock;
  clock.start();
  CHECK(window.Refresh().startsWith("status:"));
  CHECK(clock.elapsed() < 5000);
}

// Under Xvfb (ctest gui_screenshot): the window on a campaign, grabbed from the screen.
TEST_CASE("screenshot of the main window", "[.screenshot]") {
  App();
  MainWindow window;
  REQUIRE(window.OpenFile(Q(RichCampaign())).isEmpty());
  window.resize(1440, 880);
  window.show();
  REQUIRE(QTest::qWaitForWindowExposed(&window));
  window.Tabs()->setCurrentIndex(1);
  window.CandidateView()->sortByColumn(CandidateTableModel::kMeasured, Qt::DescendingOrder);
  REQUIRE(window.ShowCandidateAt(0));
  QTest::qWait(300);
  const QImage image = window.grab().toImage().convertToFormat(QImage::Format_RGB32);
  REQUIRE(!image.isNull());
  QSet<QRgb> colors;
  double sum = 0, sum2 = 0;
  const int n = image.width() * image.height();
  for (int y = 0; y < image.height(); ++y) {
    const QRgb* line = reinterpret_cast<const QRgb*>(image.constScanLine(y));
    for (int x = 0; x < image.width(); ++x) {
      colors.insert(line[x]);
      const double gray = qGray(line[x]);
      sum += gray;
      sum2 += gray * gray;
    }
  }
  const double variance = sum2 / n - (sum / n) * (sum / n);
  CHECK(colors.size() > 50);
  CHECK(variance > 100);
  if (qEnvironmentVariable("LABLOOP_WRITE_SCREENSHOT") == "1") {
    const QString out = QStringLiteral(LABLOOP_SOURCE_DIR) + "/docs/screenshot.png";
    REQUIRE(image.save(out));
  }
}

}  // namespace
}  // namespace labloop::gui

namespace labloop::gui {
namespace {

QJsonObject WaitForEngine(MainWindow& window, double seconds) {
  QJsonObject state;
  for (int i = 0; i < seconds * 10; ++i) {
    state = Get(*window.Source(), "/api/engine");
    if (state.value("state").toString() != "running" &&
        state.value("state").toString() != "pausing") {
      break;
    }
    QTest::qWait(100);
  }
  return state;
}

TEST_CASE("an emergency stop that an instrument does not confirm is an error in the window",
          "[gui][integration]") {
  App();
  testing::Emulator synth(
      {"--kind", "synthesizer", "--fault", "refuse", "--fault-on", "STOP", "--fault-count", "0"});
  testing::Emulator reader({"--kind", "plate_reader"});
  TempDir dir;
  const std::string path = dir.File("lab.labloop");
  REQUIRE(engine::InitCampaignFromText(
      path, testing::LabConfig(dir, synth.Address(), reader.Address(), "scpi"), "lab.toml",
      dir.path()));
  MainWindow window;
  REQUIRE(window.OpenFile(Q(path)).isEmpty());
  const QString error = window.EmergencyStop("drill");
  INFO(error.toStdString());
  CHECK(error.startsWith("NOT STOPPED: synth"));
  // Recorded all the same.
  CHECK(Get(*window.Source(), "/api/status")
            .value("emergency_stop")
            .toObject()
            .value("active")
            .toBool());
}

TEST_CASE("experiments on emulated instruments: approved, run and followed in the window",
          "[gui][integration]") {
  App();
  testing::Emulator synth({"--kind", "synthesizer", "--duration", "0.2", "--seed", "4"});
  testing::Emulator reader({"--kind", "plate_reader", "--duration", "0.3", "--seed", "5"});
  TempDir dir;
  // The lab of examples/lab on emulated instruments, approved and followed in the window.
  const std::string path = dir.File("lab.labloop");
  REQUIRE(engine::InitCampaignFromText(
      path, testing::LabConfig(dir, synth.Address(), reader.Address(), "scpi"), "lab.toml",
      dir.path()));
  MainWindow window;
  REQUIRE(window.OpenFile(Q(path)).isEmpty());
  // The engine runs until the experiments wait at the gate (the simulations need no approval).
  int experiments_pending = 0;
  for (int attempt = 0; attempt < 4 && experiments_pending == 0; ++attempt) {
    REQUIRE(window.StartEngine(0).isEmpty());
    auto state = WaitForEngine(window, 120);
    INFO(QJsonDocument(state).toJson().toStdString());
    REQUIRE(state.value("state").toString() == "stopped");
    window.Refresh();
    for (const auto& p : Get(*window.Source(), "/api/approvals").value("pending").toArray()) {
      experiments_pending += p.toObject().value("route").toString() == "experiment";
    }
  }
  REQUIRE(experiments_pending > 0);
  CHECK(window.Jobs()->ExperimentCount() >= 2 * experiments_pending);  // synthesis + assay each

  // Approved in the window, run by the engine: the steps end done, measured in the lab.
  CHECK(window.Approvals()->ApproveAll().isEmpty());
  REQUIRE(window.StartEngine(1).isEmpty());
  WaitForEngine(window, 120);
  window.Refresh();
  int done = 0;
  for (const auto& e : Get(*window.Source(), "/api/experiments").value("experiments").toArray()) {
    done += e.toObject().value("state").toString() == "done";
  }
  CHECK(done >= 2);
  CHECK(testing::QueryCampaign(path,
                               "SELECT COUNT(*) FROM measurement WHERE fidelity = "
                               "'experiment'")[0][0] != "0");
  // The instruments, with their steps, and who they say they are when asked.
  REQUIRE(window.Jobs()->InstrumentCount() == 2);
  CHECK(window.Jobs()->InstrumentCell(0, "name") == "reader");
  CHECK(window.Jobs()->InstrumentCell(0, "roles").contains("reader"));
  CHECK(window.Jobs()->InstrumentCell(0, "steps_done").toInt() >= 1);
  CHECK(window.Jobs()->InstrumentCell(0, "reachable").isEmpty());  // not asked yet
  CHECK(window.Jobs()->CheckInstruments().isEmpty());
  CHECK(window.Jobs()->InstrumentCell(0, "reachable") == "yes");
  CHECK(window.Jobs()->InstrumentCell(1, "identity").contains("SYNTHESIZER"));
  CHECK(window.Jobs()->RefreshTables().isEmpty());  // kept until checked again
  CHECK(window.Jobs()->InstrumentCell(0, "reachable") == "yes");

  // The stop from the window reaches both instruments, in the audit log the window shows.
  REQUIRE(window.EmergencyStop("drill from the window").isEmpty());
  CHECK(window.LastStatus().value("emergency_stop").toObject().value("active").toBool());
  auto stops = testing::QueryCampaign(
      path,
      "SELECT json_extract(detail, '$.instruments_stopped') FROM event WHERE kind = "
      "'emergency_stop_done'");
  REQUIRE(stops.size() == 1);
  CHECK(stops[0][0] == "2");
  CHECK(window.Jobs()->EventCount() > 0);
}

}  // namespace
}  // namespace labloop::gui

namespace labloop::gui {
namespace {

TEST_CASE("pausing stops the engine while a synthesis runs, starting again finishes it once",
          "[gui][integration]") {
  App();
  testing::Emulator synth({"--kind", "synthesizer", "--duration", "6", "--seed", "4"});
  testing::Emulator reader({"--kind", "plate_reader", "--duration", "0.2", "--seed", "5"});
  TempDir dir;
  const std::string path = dir.File("lab.labloop");
  REQUIRE(engine::InitCampaignFromText(
      path, testing::LabConfig(dir, synth.Address(), reader.Address(), "scpi"), "lab.toml",
      dir.path()));
  // Up to the experiments' approval gate, without the window.
  bool experiments_wait = false;
  for (int i = 0; i < 4 && !experiments_wait; ++i) {
    auto run = engine::RunCampaign(path);
    REQUIRE(run.has_value());
    experiments_wait = run->awaiting_approval > 0;
  }
  REQUIRE(experiments_wait);
  REQUIRE(engine::ApproveCandidates(path, {}, true, "tester"));

  MainWindow window;
  REQUIRE(window.OpenFile(Q(path)).isEmpty());
  REQUIRE(window.StartEngine(0).isEmpty());
  auto steps_in = [&](const char* state) {
    return std::stoi(testing::QueryCampaign(path, "SELECT COUNT(*) FROM experiment WHERE state = ?",
                                            {state})[0][0]);
  };
  for (int i = 0; i < 100 && steps_in("running") + steps_in("sent") == 0; ++i) QTest::qWait(50);
  REQUIRE(steps_in("running") + steps_in("sent") > 0);  // a synthesis of 6 s is under way

  QElapsedTimer clock;
  clock.start();
  CHECK(window.PauseEngine().isEmpty());
  auto paused = WaitForEngine(window, 30);
  CHECK(paused.value("state").toString() == "paused");
  CHECK(clock.elapsed() < 3000);                      // not the 6 s the synthesis takes
  CHECK(steps_in("running") + steps_in("sent") > 0);  // left on the instrument

  // Started again, the run polls the same steps: each request is sent once, the job ends.
  REQUIRE(window.StartEngine(1).isEmpty());
  WaitForEngine(window, 120);
  CHECK(steps_in("running") + steps_in("sent") == 0);
  CHECK(testing::QueryCampaign(path, "SELECT MAX(sends) FROM experiment")[0][0] == "1");
  CHECK(steps_in("done") >= 2);
}

}  // namespace
}  // namespace labloop::gui
