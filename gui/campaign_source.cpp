#include "gui/campaign_source.h"

#include <QEventLoop>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QTimer>
#include <QUrlQuery>
#include <exception>

#include "app/engine/api.h"

namespace labloop::gui {

namespace {

SourceReply ErrorReply(int status, const QString& message) {
  SourceReply reply;
  reply.status = status;
  reply.content_type = "application/json";
  reply.body = QJsonDocument(QJsonObject{{"error", message}}).toJson(QJsonDocument::Compact);
  return reply;
}

}  // namespace

QJsonObject SourceReply::Json() const {
  QJsonParseError error;
  auto document = QJsonDocument::fromJson(body, &error);
  return document.isObject() ? document.object() : QJsonObject{};
}

QString SourceReply::ErrorMessage() const {
  QString message = Json().value("error").toString();
  if (message.isEmpty()) message = QString::fromUtf8(body.left(300)).trimmed();
  if (status == 0) return message.isEmpty() ? QStringLiteral("no answer") : message;
  return QStringLiteral("%1 (HTTP %2)").arg(message).arg(status);
}

SourceReply CampaignSource::Post(const QString& path, const QJsonObject& body) {
  return Request("POST", path, {}, QJsonDocument(body).toJson(QJsonDocument::Compact));
}

QString UserName() {
  for (const char* name : {"USER", "USERNAME"}) {
    QString value = qEnvironmentVariable(name);
    if (!value.isEmpty()) return value;
  }
  return QStringLiteral("unknown");
}

std::unique_ptr<LocalSource> LocalSource::Open(const QString& campaign_path, QString* error) {
  auto handler = engine::ApiHandler::Create(campaign_path.toStdString());
  if (!handler) {
    if (error != nullptr) *error = QString::fromStdString(handler.error().ToString());
    return nullptr;
  }
  return std::unique_ptr<LocalSource>(new LocalSource(campaign_path, std::move(*handler)));
}

LocalSource::LocalSource(QString path, std::unique_ptr<engine::ApiHandler> handler)
    : path_(std::move(path)), actor_("gui:" + UserName()), handler_(std::move(handler)) {}

LocalSource::~LocalSource() = default;

SourceReply LocalSource::Request(const QString& method, const QString& path, const Query& query,
                                 const QByteArray& body) {
  engine::ApiRequest request;
  request.method = method.toStdString();
  request.path = path.toStdString();
  for (auto it = query.begin(); it != query.end(); ++it) {
    request.query[it.key().toStdString()] = it.value().toStdString();
  }
  request.body = body.toStdString();
  // The person at this desk owns the file: the same rights as `labloop` on the command line.
  request.role = engine::Role::kAdmin;
  request.actor = actor_.toStdString();
  try {
    engine::ApiResponse response = handler_->Handle(request);
    SourceReply reply;
    reply.status = response.status;
    reply.content_type = QByteArray::fromStdString(response.content_type);
    reply.body = QByteArray::fromStdString(response.body);
    return reply;
  } catch (const std::exception& e) {
    return ErrorReply(500, QStringLiteral("internal error: %1").arg(e.what()));
  }
}

RemoteSource::RemoteSource(RemoteOptions options)
    : options_(std::move(options)), network_(std::make_unique<QNetworkAccessManager>()) {}

RemoteSource::~RemoteSource() = default;

SourceReply RemoteSource::Request(const QString& method, const QString& path, const Query& query,
                                  const QByteArray& body) {
  QUrl url = options_.server;
  url.setPath(url.path().chopped(url.path().endsWith('/') ? 1 : 0) + path);
  QUrlQuery url_query;
  for (auto it = query.begin(); it != query.end(); ++it)
    url_query.addQueryItem(it.key(), it.value());
  url.setQuery(url_query);

  QNetworkRequest request(url);
  request.setRawHeader("Authorization", "Bearer " + options_.token.toUtf8());
  request.setHeader(QNetworkRequest::ContentTypeHeader, "application/json");
  request.setTransferTimeout(options_.timeout_ms);

  QNetworkReply* raw = method == "POST" ? network_->post(request, body) : network_->get(request);
  std::unique_ptr<QNetworkReply> reply(raw);
  if (options_.ignore_tls_errors) reply->ignoreSslErrors();

  QEventLoop loop;
  QTimer timer;
  timer.setSingleShot(true);
  QObject::connect(reply.get(), &QNetworkReply::finished, &loop, &QEventLoop::quit);
  QObject::connect(&timer, &QTimer::timeout, &loop, &QEventLoop::quit);
  timer.start(options_.timeout_ms + 1000);
  loop.exec(QEventLoop::ExcludeUserInputEvents);
  if (!reply->isFinished()) {
    reply->abort();
    return ErrorReply(0, QStringLiteral("%1 did not answer within %2 s")
                             .arg(options_.server.toString())
                             .arg(options_.timeout_ms / 1000));
  }

  SourceReply result;
  result.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
  result.content_type = reply->header(QNetworkRequest::ContentTypeHeader).toByteArray();
  result.body = reply->readAll();
  if (result.status == 0) {
    return ErrorReply(0, QStringLiteral("cannot reach %1: %2")
                             .arg(options_.server.toString(), reply->errorString()));
  }
  return result;
}

}  // namespace labloop::gui
