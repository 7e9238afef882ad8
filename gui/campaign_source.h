#pragma once
// CampaignSource: the one way the GUI reads and changes a campaign, through the JSON API of
// docs/api.md. LocalSource calls the engine's ApiHandler on a campaign file in this process;
// RemoteSource sends the same requests to `labloop serve` over HTTP(S). Every window parses the
// same documents, so opening a file and attaching to a server behave the same.
//
// Requests are synchronous and made from the GUI thread. RemoteSource waits in a local event loop
// (with a timeout), so callers must tolerate re-entry from timers while a request is in flight.

#include <QByteArray>
#include <QJsonObject>
#include <QMap>
#include <QString>
#include <QUrl>
#include <memory>

class QNetworkAccessManager;

namespace labloop::engine {
class ApiHandler;
}

namespace labloop::gui {

using Query = QMap<QString, QString>;

struct SourceReply {
  int status = 0;  // HTTP status; 0 when no answer came (network error, timeout)
  QByteArray content_type;
  QByteArray body;

  bool Ok() const { return status >= 200 && status < 300; }
  // The body as a JSON object; empty when it is not one.
  QJsonObject Json() const;
  // A message for the user: the API's {"error"} text with the status, or the transport error.
  QString ErrorMessage() const;
};

class CampaignSource {
 public:
  virtual ~CampaignSource() = default;

  virtual SourceReply Request(const QString& method, const QString& path, const Query& query = {},
                              const QByteArray& body = {}) = 0;
  // "gap.labloop" or "https://host:8443": shown in the title bar.
  virtual QString Description() const = 0;
  // The campaign file when it is on this machine (exports use the engine directly), else empty.
  virtual QString LocalPath() const { return {}; }
  // True when a request never waits on the network, so it may be made while painting.
  virtual bool IsFast() const { return false; }

  SourceReply Get(const QString& path, const Query& query = {}) {
    return Request("GET", path, query);
  }
  SourceReply Post(const QString& path, const QJsonObject& body);
};

// A campaign file opened in this process, as an admin acting as "gui:$USER".
class LocalSource : public CampaignSource {
 public:
  // Returns null and sets `error` when the file cannot be opened.
  static std::unique_ptr<LocalSource> Open(const QString& campaign_path, QString* error);
  ~LocalSource() override;

  SourceReply Request(const QString& method, const QString& path, const Query& query,
                      const QByteArray& body) override;
  QString Description() const override { return path_; }
  QString LocalPath() const override { return path_; }
  bool IsFast() const override { return true; }

 private:
  LocalSource(QString path, std::unique_ptr<engine::ApiHandler> handler);
  QString path_;
  QString actor_;
  std::unique_ptr<engine::ApiHandler> handler_;
};

struct RemoteOptions {
  QUrl server;  // "https://lab-host:8443"
  QString token;
  bool ignore_tls_errors = false;  // only when asked: a self-signed test certificate
  int timeout_ms = 15000;
};

// A campaign served by `labloop serve`, with `Authorization: Bearer TOKEN` on every request.
class RemoteSource : public CampaignSource {
 public:
  explicit RemoteSource(RemoteOptions options);
  ~RemoteSource() override;

  SourceReply Request(const QString& method, const QString& path, const Query& query,
                      const QByteArray& body) override;
  QString Description() const override { return options_.server.toString(); }

 private:
  RemoteOptions options_;
  std::unique_ptr<QNetworkAccessManager> network_;
};

// The user name for the audit log: $USER, else $USERNAME, else "unknown".
QString UserName();

}  // namespace labloop::gui
