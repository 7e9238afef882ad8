#include "app/server/server.h"

#include <QAbstractHttpServer>
#include <QCoreApplication>
#include <QCryptographicHash>
#include <QFile>
#include <QHostAddress>
#include <QHttpServerRequest>
#include <QHttpServerResponder>
#include <QRandomGenerator>
#include <QSslCertificate>
#include <QSslKey>
#include <QSslServer>
#include <QSslSocket>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>
#include <QUrlQuery>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "app/engine/api.h"
#include "db/campaign_db.h"

namespace labloop::server {

namespace {

std::atomic<bool> stop_requested{false};
// The first SIGINT or SIGTERM stops politely (a running round finishes); a second one kills.
void OnSignal(int signal) {
  stop_requested = true;
  std::signal(signal, SIG_DFL);
}

// A migration, if the file needs one, before the read-only views open it.
Status Migrate(const std::string& path) {
  auto db = db::CampaignDb::Open(path, db::OpenMode::kOperator);
  if (!db) return tl::unexpected(db.error());
  return {};
}

// Limits on what one client may make the server hold. Qt 6.4's HTTP server reads a whole request
// into memory, reserving what Content-Length declares, before handleRequest sees it.
constexpr qint64 kMaxBody = 1 << 20;                    // the API's largest bodies are a few KiB
constexpr qint64 kMaxBuffered = kMaxBody + (64 << 10);  // a request's headers too
constexpr int kMaxConnections = 128;
constexpr int kIdleSeconds = 30;  // a connection that sends nothing for this long is closed

// Watches one connection from before Qt's parser does (its readyRead slot is connected first):
// a declared body over kMaxBody, or a chunked one (no length to check), gets its answer (413,
// 411) and the connection closes; the socket never buffers more than kMaxBuffered; a connection
// idle for kIdleSeconds is closed.
class ConnectionGuard : public QObject {
 public:
  explicit ConnectionGuard(QTcpSocket* socket) : QObject(socket), socket_(socket) {
    socket->setReadBufferSize(kMaxBuffered);
    idle_.setSingleShot(true);
    idle_.setInterval(kIdleSeconds * 1000);
    connect(&idle_, &QTimer::timeout, socket, &QTcpSocket::abort);
    connect(socket, &QTcpSocket::readyRead, this, &ConnectionGuard::Check);
    connect(socket, &QTcpSocket::bytesWritten, this, [this] { idle_.start(); });
    idle_.start();
  }

 private:
  void Check() {
    idle_.start();
    if (closing_) return;
    // The new bytes (Qt's parser has taken the earlier ones), after the end of the last look:
    // a header split across two reads is seen whole.
    const QByteArray text = (tail_ + socket_->peek(socket_->bytesAvailable())).toLower();
    tail_ = text.right(128);
    qsizetype at = 0;
    while ((at = text.indexOf("content-length:", at)) >= 0) {
      const qsizetype end = text.indexOf('\n', at);
      if (end < 0) break;  // the line is not complete yet: the next look sees it whole
      bool number = false;
      const qint64 length = text.mid(at + 15, end - at - 15).trimmed().toLongLong(&number);
      if (!number || length > kMaxBody) {
        return Refuse("413 Payload Too Large",
                      "request body over " + std::to_string(kMaxBody) + " bytes");
      }
      at = end;
    }
    for (at = text.indexOf("transfer-encoding:"); at >= 0;
         at = text.indexOf("transfer-encoding:", at + 1)) {
      const qsizetype end = text.indexOf('\n', at);
      if (end < 0) break;  // seen whole at the next look
      if (text.mid(at, end - at).contains("chunked")) {
        return Refuse("411 Length Required", "send a Content-Length, not a chunked body");
      }
    }
  }

  void Refuse(const std::string& status, const std::string& why) {
    closing_ = true;
    const std::string body = nlohmann::json{{"error", why}}.dump();
    const std::string reply =
        "HTTP/1.1 " + status +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\nConnection: close\r\n\r\n" + body;
    // Nothing more reaches Qt's parser: its connections to this socket go, and so does the socket
    // once the answer is out (or after a second).
    socket_->disconnect(socket_, &QTcpSocket::readyRead, nullptr, nullptr);
    connect(socket_, &QTcpSocket::readyRead, this,
            [this] { socket_->skip(socket_->bytesAvailable()); });
    socket_->write(QByteArray::fromStdString(reply));
    socket_->flush();
    socket_->disconnectFromHost();
    QTimer::singleShot(1000, socket_, &QTcpSocket::abort);
  }

  QTcpSocket* socket_;
  QTimer idle_;
  QByteArray tail_;
  bool closing_ = false;
};

// A listening socket whose connections get a ConnectionGuard before the HTTP server sees them,
// and no more than kMaxConnections at once (more are closed at once).
template <typename Server>
class GuardedServer : public Server {
 public:
  using Server::Server;
  QTcpSocket* nextPendingConnection() override {
    while (QTcpSocket* socket = Server::nextPendingConnection()) {
      if (open_ >= kMaxConnections) {
        socket->abort();
        socket->deleteLater();
        continue;
      }
      ++open_;
      QObject::connect(socket, &QObject::destroyed, this, [this] { --open_; });
      new ConnectionGuard(socket);
      return socket;
    }
    return nullptr;
  }

 private:
  int open_ = 0;
};

// Requests are answered one at a time on the event loop (Qt 6.4's asynchronous responses lose
// track of clients that hang up); CampaignView bounds the slow ones (a substructure search scans
// for at most a second a request) so an emergency stop never waits long behind a read.
class CampaignServer : public QAbstractHttpServer {
 public:
  CampaignServer(std::unique_ptr<engine::ApiHandler> api, std::unique_ptr<db::CampaignDb> tokens)
      : api_(std::move(api)), tokens_(std::move(tokens)) {}

 protected:
  bool handleRequest(const QHttpServerRequest& request, QTcpSocket* socket) override {
    auto responder = makeResponder(request, socket);
    auto reply = Answer(request);
    const auto status = static_cast<QHttpServerResponder::StatusCode>(reply.status);
    const QByteArray type = QByteArray::fromStdString(reply.content_type);
    if (reply.status == 401) {
      responder.write(QByteArray::fromStdString(reply.body),
                      {{"Content-Type", type}, {"WWW-Authenticate", "Bearer"}}, status);
    } else {
      responder.write(QByteArray::fromStdString(reply.body), type, status);
    }
    return true;
  }

  void missingHandler(const QHttpServerRequest&, QTcpSocket*) override {}  // every request handled

 private:
  engine::ApiResponse Answer(const QHttpServerRequest& request) {
    QByteArray authorization;
    for (const auto& [key, value] : request.headers()) {
      if (key.compare("authorization", Qt::CaseInsensitive) == 0) authorization = value;
    }
    const QByteArray prefix = "Bearer ";
    if (!authorization.startsWith(prefix)) {
      return {401, "application/json",
              R"({"error":"missing token: send the header Authorization: Bearer TOKEN"})"};
    }
    auto token = Authenticate(authorization.mid(prefix.size()).trimmed().toStdString());
    if (!token) {
      return {503, "application/json",
              nlohmann::json{{"error", "cannot read the tokens: " + token.error().message}}.dump()};
    }
    if (!*token) return {401, "application/json", R"({"error":"unknown or revoked token"})"};

    engine::ApiRequest api_request;
    switch (request.method()) {
      case QHttpServerRequest::Method::Get:
        api_request.method = "GET";
        break;
      case QHttpServerRequest::Method::Post:
        api_request.method = "POST";
        break;
      default:
        api_request.method = "OTHER";
    }
    api_request.path = request.url().path().toStdString();
    for (const auto& [key, value] : request.query().queryItems(QUrl::FullyDecoded)) {
      api_request.query[key.toStdString()] = value.toStdString();
    }
    api_request.body = request.body().toStdString();
    api_request.role = *engine::ParseRole((*token)->role);
    api_request.actor = "token:" + (*token)->name;
    return api_->Handle(api_request);
  }

  // The active token whose hash matches, looked up on every request (revocation is immediate).
  Result<std::optional<db::ApiToken>> Authenticate(const std::string& presented) {
    if (presented.empty()) return std::nullopt;
    auto tokens = tokens_->ListApiTokens();
    if (!tokens) return tl::unexpected(tokens.error());
    const std::string hash = HashToken(presented);
    std::optional<db::ApiToken> found;
    for (const auto& t : *tokens) {  // no early exit: the time does not tell which one matched
      const bool match = ConstantTimeEqual(hash, t.hash);
      if (match && t.revoked_at.empty()) found = t;
    }
    return found;
  }

  std::unique_ptr<engine::ApiHandler> api_;
  std::unique_ptr<db::CampaignDb> tokens_;
};

Result<QSslConfiguration> TlsConfiguration(const ServeOptions& options) {
  QFile cert_file(QString::fromStdString(options.tls_cert));
  QFile key_file(QString::fromStdString(options.tls_key));
  if (!cert_file.open(QIODevice::ReadOnly)) {
    return MakeError(ErrorCode::kNotFound,
                     "cannot read TLS certificate '" + options.tls_cert + "'");
  }
  if (!key_file.open(QIODevice::ReadOnly)) {
    return MakeError(ErrorCode::kNotFound, "cannot read TLS key '" + options.tls_key + "'");
  }
  // The whole chain of the file (a fullchain.pem: the server's certificate, then intermediates).
  const QList<QSslCertificate> chain = QSslCertificate::fromDevice(&cert_file, QSsl::Pem);
  const QSslCertificate certificate = chain.isEmpty() ? QSslCertificate() : chain.first();
  QSslKey key(&key_file, QSsl::Rsa, QSsl::Pem);
  if (key.isNull()) {
    key_file.seek(0);
    key = QSslKey(&key_file, QSsl::Ec, QSsl::Pem);
  }
  if (certificate.isNull()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'" + options.tls_cert + "' is not a PEM certificate");
  }
  if (key.isNull()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'" + options.tls_key + "' is not an unencrypted PEM RSA or EC key");
  }
  QSslConfiguration config = QSslConfiguration::defaultConfiguration();
  config.setLocalCertificateChain(chain);
  config.setPrivateKey(key);
  config.setProtocol(QSsl::TlsV1_2OrLater);
  return config;
}

}  // namespace

std::string HashToken(const std::string& token) {
  return QCryptographicHash::hash(QByteArray::fromStdString(token), QCryptographicHash::Sha256)
      .toHex()
      .toStdString();
}

bool ConstantTimeEqual(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char differ = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    differ |= static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i]);
  }
  return differ == 0;
}

Result<std::string> AddToken(const std::string& campaign_path, const std::string& name,
                             const std::string& role) {
  auto db = db::CampaignDb::Open(campaign_path, db::OpenMode::kOperator);
  if (!db) return tl::unexpected(db.error());
  QByteArray secret(32, Qt::Uninitialized);
  QRandomGenerator::system()->generate(secret.begin(), secret.end());
  const std::string token =
      "ll_" +
      secret.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals).toStdString();
  LABLOOP_TRY((*db)->AddApiToken(name, role, HashToken(token)));
  return token;
}

Result<std::vector<db::ApiToken>> ListTokens(const std::string& campaign_path) {
  LABLOOP_TRY(Migrate(campaign_path));
  auto db = db::CampaignDb::Open(campaign_path, db::OpenMode::kReadOnly);
  if (!db) return tl::unexpected(db.error());
  return (*db)->ListApiTokens();
}

Status RevokeToken(const std::string& campaign_path, const std::string& name) {
  auto db = db::CampaignDb::Open(campaign_path, db::OpenMode::kOperator);
  if (!db) return tl::unexpected(db.error());
  return (*db)->RevokeApiToken(name, "labloop");
}

int Serve(const ServeOptions& options) {
  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "labloop serve: %s\n", message.c_str());
    return 1;
  };
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return fail("TLS needs both --tls-cert and --tls-key");
  }
  auto api = engine::ApiHandler::Create(options.campaign_path);
  if (!api) return fail(api.error().ToString());
  auto tokens = db::CampaignDb::Open(options.campaign_path, db::OpenMode::kReadOnly);
  if (!tokens) return fail(tokens.error().ToString());
  auto listed = (*tokens)->ListApiTokens();
  if (listed && listed->empty()) {
    std::fprintf(stderr,
                 "labloop serve: warning: the campaign has no API token yet; every request will "
                 "get 401 until one is made (labloop token add %s --name NAME --role ROLE)\n",
                 options.campaign_path.c_str());
  }

  int argc = 1;
  char name[] = "labloop-serve";
  char* argv[] = {name, nullptr};
  QCoreApplication app(argc, argv);
  CampaignServer server(std::move(*api), std::move(*tokens));
  const bool tls = !options.tls_cert.empty();
  QTcpServer* listener = nullptr;  // owned by `server` once bound
  if (tls) {
    if (!QSslSocket::supportsSsl()) return fail("this Qt has no TLS back-end (install openssl)");
    auto config = TlsConfiguration(options);
    if (!config) return fail(config.error().ToString());
    auto* ssl = new GuardedServer<QSslServer>(&server);
    ssl->setSslConfiguration(*config);
    listener = ssl;
  } else {
    listener = new GuardedServer<QTcpServer>(&server);
  }
  QHostAddress address;
  if (!address.setAddress(QString::fromStdString(options.bind))) {
    return fail("--bind '" + options.bind + "' is not an IP address");
  }
  if (options.port < 0 || options.port > 65535) return fail("--port must be within 0..65535");
  quint16 port = 0;
  if (listener->listen(address, static_cast<quint16>(options.port))) {
    server.bind(listener);
    port = listener->serverPort();
  }
  if (port == 0) {
    return fail("cannot listen on " + options.bind + ":" + std::to_string(options.port) +
                " (in use?)");
  }
  if (!tls && !address.isLoopback()) {
    std::fprintf(stderr,
                 "labloop serve: warning: serving %s without TLS: tokens cross the network in "
                 "clear text (give --tls-cert and --tls-key)\n",
                 options.bind.c_str());
  }
  std::printf("labloop serve: listening on %s://%s:%u/api/\n", tls ? "https" : "http",
              options.bind.c_str(), port);
  std::fflush(stdout);

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  QTimer poll;
  QObject::connect(&poll, &QTimer::timeout, [&] {
    if (stop_requested) app.quit();
  });
  poll.start(100);
  app.exec();
  std::printf("labloop serve: stopped\n");
  return 0;
}

}  // namespace labloop::server
