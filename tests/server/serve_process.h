#pragma once
// The real `labloop serve` (LABLOOP_BINARY) on a free port of loopback, for the server and GUI
// tests; stopped (SIGTERM) at scope end. Needs a QCoreApplication.

#include <QProcess>
#include <QString>
#include <QStringList>
#include <catch2/catch.hpp>

namespace labloop::testing {

class ServeProcess {
 public:
  // `args`: the campaign file, then any flags (the port is chosen by the server).
  explicit ServeProcess(const QStringList& args) {
    process_.setProgram(LABLOOP_BINARY);
    process_.setArguments(QStringList{"serve"} + args + QStringList{"--port", "0"});
    process_.setProcessChannelMode(QProcess::MergedChannels);
    process_.start();
    REQUIRE(process_.waitForStarted(10000));
    QByteArray out;
    while (!out.contains("listening on") && process_.waitForReadyRead(20000)) {
      out += process_.readAll();
    }
    INFO(out.toStdString());
    REQUIRE(out.contains("listening on"));
    const int at = out.indexOf("listening on ") + 13;
    url_ = QString::fromUtf8(out.mid(at, out.indexOf('\n', at) - at)).trimmed();
    url_.chop(5);  // "/api/"
  }
  ~ServeProcess() {
    process_.terminate();
    process_.waitForFinished(10000);
  }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  const QString& url() const { return url_; }  // "http://127.0.0.1:PORT"

 private:
  QProcess process_;
  QString url_;
};

}  // namespace labloop::testing
