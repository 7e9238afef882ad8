// labloop-gui: the chemist's desktop app. `labloop-gui [FILE.labloop]` opens a campaign file;
// `labloop-gui --server URL --token TOKEN` attaches to `labloop serve`.
#include <QApplication>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QMessageBox>
#include <cstdio>
#include <cstring>

#include "gui/main_window.h"

namespace {

struct Options {
  QCommandLineOption server{"server", "attach to a labloop server", "URL"};
  QCommandLineOption token{"token", "the server token (default: $LABLOOP_TOKEN)", "TOKEN"};
  QCommandLineOption insecure{"insecure", "accept a self-signed TLS certificate (test servers)"};
  QCommandLineOption time_open{"time-open",
                               "open FILE, show the window with the table's first rows, print the "
                               "seconds it took and quit (BENCHMARKS.md 5)"};
};

void Describe(QCommandLineParser& parser, const Options& options) {
  parser.setApplicationDescription("The labloop desktop app: watch and steer a campaign.");
  parser.addHelpOption();
  parser.addPositionalArgument("file", "the campaign file to open", "[FILE.labloop]");
  parser.addOptions({options.server, options.token, options.insecure, options.time_open});
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  // --help needs no display: answered before the GUI application (and its platform) starts.
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      QCoreApplication core(argc, argv);
      QCoreApplication::setApplicationName("labloop-gui");
      QCommandLineParser parser;
      Describe(parser, options);
      parser.process(core);  // prints the help and exits
    }
  }
  QApplication app(argc, argv);
  QApplication::setApplicationName("labloop-gui");
  QCommandLineParser parser;
  Describe(parser, options);
  parser.process(app);

  QElapsedTimer clock;
  clock.start();
  labloop::gui::MainWindow window;
  window.show();
  QString error;
  if (parser.isSet(options.server)) {
    labloop::gui::RemoteOptions remote;
    remote.server = QUrl::fromUserInput(parser.value(options.server));
    remote.token = parser.isSet(options.token) ? parser.value(options.token)
                                               : qEnvironmentVariable("LABLOOP_TOKEN");
    remote.ignore_tls_errors = parser.isSet(options.insecure);
    error = window.AttachServer(remote);
  } else if (!parser.positionalArguments().isEmpty()) {
    error = window.OpenFile(parser.positionalArguments().first());
  }
  if (parser.isSet(options.time_open)) {
    if (!error.isEmpty()) {
      std::fprintf(stderr, "labloop-gui: %s\n", qPrintable(error));
      return 1;
    }
    // The window is drawn once its table holds its first rows.
    auto* model = window.Candidates();
    const QString first =
        model->data(model->index(0, labloop::gui::CandidateTableModel::kSmiles)).toString();
    window.repaint();
    QApplication::processEvents();
    std::printf("opened %s: %d candidates, first row %s, window shown in %.3f s\n",
                qPrintable(parser.positionalArguments().value(0)), model->rowCount(),
                qPrintable(first), clock.nsecsElapsed() / 1e9);
    return 0;
  }
  if (!error.isEmpty()) QMessageBox::critical(&window, "labloop-gui", error);
  return app.exec();
}
