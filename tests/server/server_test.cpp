// `labloop serve` as a real process on loopback: tokens, roles, bad input, TLS and concurrent
// clients, through Qt's HTTP client.

#include <catch2/catch.hpp>

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QProcess>
#include <QSslConfiguration>
#include <QTcpSocket>
#include <QTimer>

#include <memory>
#include <nlohmann/json.hpp>

#include "app/engine/engine.h"
#include "app/server/server.h"
#include "tests/app/fixtures.h"
#include "tests/server/serve_process.h"
#include "tests/support/temp_dir.h"

using labloop::testing::EsolConfig;
using labloop::testing::QueryCampaign;
using labloop::testing::RunLabloop;
using labloop::testing::RunProgram;
using labloop::testing::TempDir;
using json = nlohmann::json;

namespace {

QCoreApplication& App() {
  static int argc = 1;
  static char name[] = "server_test";
  static char* argv[] = {name, nullptr};
  static QCoreApplication app(argc, argv);
  return app;
}

// The server under test, once the application exists.
class Server : public labloop::testing::ServeProcess {
 public:
  explicit Server(const QStringList& args) : ServeProcess((App(), args)) {}
};

struct Reply {
  int status = 0;
  std::string body;
  std::string error;
};

Reply Send(QNetworkAccessManager& http, const QString& url, const std::string& token,
           const std::string& method = "GET", const std::string& body = "",
           const QSslConfiguration* tls = nullptr) {
  QNetworkRequest request{QUrl(url)};
  if (!token.empty()) {
    request.setRawHeader("Authorization", QByteArray::fromStdString("Bearer " + token));
  }
  request.setHeader(QNetworkRequest::ContentTypeHeader, "application/json");
  if (tls) request.setSslConfiguration(*tls);
  QNetworkReply* reply =
      method == "POST" ? http.post(request, QByteArray::fromStdString(body)) : http.get(request);
  QEventLoop loop;
  QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
  QTimer::singleShot(30000, &loop, &QEventLoop::quit);
  loop.exec();
  Reply r;
  r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
  r.body = reply->readAll().toStdString();
  if (r.status == 0) r.error = reply->errorString().toStdString();
  reply->deleteLater();
  return r;
}

std::string Token(const std::string& campaign, const std::string& name, const std::string& role) {
  auto token = labloop::server::AddToken(campaign, name, role);
  REQUIRE(token);
  return *token;
}

std::string GatedCampaign(const TempDir& dir) {
  std::string config = EsolConfig(20, 5) + "[approval]\nroutes = [\"simulate\"]\n";
  std::string path = dir.File("gate.labloop");
  REQUIRE(labloop::engine::InitCampaignFromText(path, config, "test", dir.path()));
  REQUIRE(labloop::engine::RunCampaign(path));
  return path;
}

}  // namespace

TEST_CASE("Tokens are stored hashed and compared in constant time") {
  CHECK(labloop::server::HashToken("abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");  // FIPS 180-2
  CHECK(labloop::server::ConstantTimeEqual("abc", "abc"));
  CHECK_FALSE(labloop::server::ConstantTimeEqual("abc", "abd"));
  CHECK_FALSE(labloop::server::ConstantTimeEqual("abc", "abcd"));
}

TEST_CASE("The server answers 401 without a token, 403 for a low role, 400 for bad JSON",
          "[integration]") {
  TempDir dir;
  auto campaign = GatedCampaign(dir);
  auto viewer = Token(campaign, "alice", "viewer");
  auto robot = Token(campaign, "robot1", "operator");
  // Only the hash is in the file.
  auto stored = QueryCampaign(campaign, "SELECT hash FROM api_token WHERE name = 'robot1'");
  REQUIRE(stored.size() == 1);
  CHECK(stored[0][0] == labloop::server::HashToken(robot));
  CHECK(QueryCampaign(campaign, "SELECT COUNT(*) FROM api_token WHERE hash = ?", {robot})[0][0] ==
        "0");
  auto duplicate = labloop::server::AddToken(campaign, "alice", "admin");
  CHECK_FALSE(duplicate);

  Server server({QString::fromStdString(campaign)});
  QNetworkAccessManager http;
  const QString status = server.url() + "/api/status";
  CHECK(Send(http, status, "").status == 401);
  CHECK(Send(http, status, "ll_not-a-token").status == 401);
  auto ok = Send(http, status, viewer);
  REQUIRE(ok.status == 200);
  CHECK(json::parse(ok.body)["candidates"] == 150);
  CHECK(json::parse(ok.body)["pending_approval"].size() == 5);

  const QString approvals = server.url() + "/api/approvals";
  auto low = Send(http, approvals, viewer, "POST", R"({"action":"approve","all":true})");
  CHECK(low.status == 403);
  auto bad = Send(http, approvals, robot, "POST", R"({"action":"approve",)");
  CHECK(bad.status == 400);
  CHECK(json::parse(bad.body)["error"] == "request body is not valid JSON");
  auto approved = Send(http, approvals, robot, "POST", R"({"action":"approve","all":true})");
  CHECK(approved.status == 200);
  CHECK(json::parse(approved.body)["changed"] == 5);
  CHECK(QueryCampaign(campaign,
                      "SELECT COUNT(*) FROM decision WHERE approved_by = "
                      "'token:robot1'")[0][0] == "5");

  // Revoked: refused at the next request, without restarting the server.
  REQUIRE(RunLabloop({"token", "revoke", campaign, "--name", "alice"}).exit_code == 0);
  CHECK(Send(http, status, viewer).status == 401);
  auto listed = RunLabloop({"token", "list", campaign});
  CHECK(listed.output.find("alice\tviewer") != std::string::npos);
  CHECK(listed.output.find("revoked") != std::string::npos);
}

TEST_CASE("The server takes an emergency stop and many clients at once", "[integration]") {
  TempDir dir;
  auto campaign = GatedCampaign(dir);
  auto viewer = Token(campaign, "alice", "viewer");
  auto robot = Token(campaign, "robot1", "operator");
  Server server({QString::fromStdString(campaign)});

  // 8 clients, each with its own connections, 25 requests each, all in flight together.
  const QStringList paths = {"/api/status", "/api/candidates?limit=50&sort=mean&desc=1",
                             "/api/approvals", "/api/jobs", "/api/plots"};
  std::vector<std::unique_ptr<QNetworkAccessManager>> clients;
  std::vector<QNetworkReply*> replies;
  for (int c = 0; c < 8; ++c) {
    clients.push_back(std::make_unique<QNetworkAccessManager>());
    for (int i = 0; i < 25; ++i) {
      QNetworkRequest request{QUrl(server.url() + paths[(c + i) % paths.size()])};
      request.setRawHeader("Authorization", QByteArray::fromStdString("Bearer " + viewer));
      replies.push_back(clients.back()->get(request));
    }
  }
  QEventLoop loop;
  int finished = 0;
  for (auto* reply : replies) {
    QObject::connect(reply, &QNetworkReply::finished, [&] {
      if (++finished == static_cast<int>(replies.size())) loop.quit();
    });
  }
  QTimer::singleShot(60000, &loop, &QEventLoop::quit);
  loop.exec();
  CHECK(finished == 200);
  int ok = 0;
  for (auto* reply : replies) {
    const int code = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    auto body = json::parse(reply->readAll().toStdString(), nullptr, false);
    ok += code == 200 && body.is_object() && !body.contains("error");
    reply->deleteLater();
  }
  CHECK(ok == 200);

  QNetworkAccessManager http;
  auto stop = Send(http, server.url() + "/api/estop", robot, "POST", R"({"reason":"drill"})");
  CHECK(stop.status == 200);
  auto status = json::parse(Send(http, server.url() + "/api/status", viewer).body);
  CHECK(status["emergency_stop"]["active"] == true);
  CHECK(status["emergency_stop"]["by"] == "token:robot1");
  // Only an admin resumes.
  CHECK(Send(http, server.url() + "/api/resume", robot, "POST", R"({"ack":true})").status == 403);
}

namespace {
// One raw HTTP exchange on a fresh connection: what the server sent before closing (or within
// 10 s), and whether it closed.
std::pair<std::string, bool> RawExchange(const QString& url, const QByteArray& request) {
  QTcpSocket socket;
  const QUrl parsed(url);
  socket.connectToHost(parsed.host(), static_cast<quint16>(parsed.port()));
  REQUIRE(socket.waitForConnected(5000));
  socket.write(request);
  socket.flush();
  QByteArray answer;
  QElapsedTimer clock;
  clock.start();
  while (socket.state() == QAbstractSocket::ConnectedState && clock.elapsed() < 10000) {
    if (socket.waitForReadyRead(200)) answer += socket.readAll();
  }
  answer += socket.readAll();
  return {answer.toStdString(), socket.state() != QAbstractSocket::ConnectedState};
}
}  // namespace

TEST_CASE("The server refuses huge and chunked bodies before reading them", "[integration]") {
  TempDir dir;
  auto campaign = GatedCampaign(dir);
  auto robot = Token(campaign, "robot1", "operator");
  Server server({QString::fromStdString(campaign)});
  const QByteArray auth = QByteArray::fromStdString("Authorization: Bearer " + robot + "\r\n");
  // A declared 2 GB body (none sent): refused at once, without a token even, and closed.
  auto [huge, huge_closed] = RawExchange(server.url(),
                                         "POST /api/estop HTTP/1.1\r\nHost: x\r\n"
                                         "Content-Length: 2000000000\r\n\r\n{");
  CHECK(huge.rfind("HTTP/1.1 413", 0) == 0);
  CHECK(huge_closed);
  // A length too big for any integer.
  auto [absurd, absurd_closed] =
      RawExchange(server.url(), "POST /api/estop HTTP/1.1\r\nHost: x\r\n" + auth +
                                    "Content-Length: 99999999999999999999999\r\n\r\n{");
  CHECK(absurd.rfind("HTTP/1.1 413", 0) == 0);
  CHECK(absurd_closed);
  auto [chunked, chunked_closed] =
      RawExchange(server.url(), "POST /api/estop HTTP/1.1\r\nHost: x\r\n" + auth +
                                    "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
  CHECK(chunked.rfind("HTTP/1.1 411", 0) == 0);
  CHECK(chunked_closed);
  // Nothing of those was acted on, and the server still answers a proper request.
  QNetworkAccessManager http;
  auto status = Send(http, server.url() + "/api/status", robot);
  REQUIRE(status.status == 200);
  CHECK(json::parse(status.body)["emergency_stop"]["active"] == false);
  auto events = QueryCampaign(campaign, "SELECT count(*) FROM event WHERE kind = 'emergency_stop'");
  CHECK(events[0][0] == "0");
}

TEST_CASE("The server speaks HTTPS with a configured certificate", "[integration]") {
  TempDir dir;
  auto campaign = GatedCampaign(dir);
  auto viewer = Token(campaign, "alice", "viewer");
  auto made =
      RunProgram("openssl", {"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                             "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                             dir.File("key.pem"), "-out", dir.File("cert.pem")});
  REQUIRE(made.exit_code == 0);
  Server server({QString::fromStdString(campaign), "--tls-cert",
                 QString::fromStdString(dir.File("cert.pem")), "--tls-key",
                 QString::fromStdString(dir.File("key.pem"))});
  REQUIRE(server.url().startsWith("https://"));

  QFile cert_file(QString::fromStdString(dir.File("cert.pem")));
  REQUIRE(cert_file.open(QIODevice::ReadOnly));
  QSslConfiguration tls = QSslConfiguration::defaultConfiguration();
  tls.setCaCertificates({QSslCertificate(&cert_file, QSsl::Pem)});
  QNetworkAccessManager http;
  auto ok = Send(http, server.url() + "/api/status", viewer, "GET", "", &tls);
  INFO(ok.error);
  CHECK(ok.status == 200);
  CHECK(json::parse(ok.body)["candidates"] == 150);
  // Without trusting the certificate, a new client refuses the connection.
  QNetworkAccessManager stranger;
  auto untrusted = Send(stranger, server.url() + "/api/status", viewer);
  CHECK(untrusted.status == 0);
  // Plain HTTP to the TLS port gets nothing.
  QString plain = server.url();
  plain.replace("https://", "http://");
  CHECK(Send(stranger, plain + "/api/status", viewer).status == 0);
}

TEST_CASE("labloop serve refuses a half TLS configuration and a missing file", "[integration]") {
  TempDir dir;
  auto missing = RunLabloop({"serve", dir.File("none.labloop"), "--port", "0"});
  CHECK(missing.exit_code != 0);
  CHECK(missing.output.find("none.labloop") != std::string::npos);
  auto half = RunLabloop({"serve", dir.File("none.labloop"), "--tls-cert", "c.pem"});
  CHECK(half.exit_code != 0);
  CHECK(half.output.find("TLS needs both --tls-cert and --tls-key") != std::string::npos);
}
