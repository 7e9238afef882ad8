#include "gui/busy_task.h"

#include <QEventLoop>
#include <QProgressDialog>
#include <exception>
#include <thread>

namespace labloop::gui {

QString RunBusy(QWidget* parent, const QString& label, const std::function<QString()>& work) {
  QProgressDialog dialog(label, QString(), 0, 0, parent);
  dialog.setWindowModality(Qt::WindowModal);
  dialog.setMinimumDuration(300);
  QEventLoop loop;
  QString result;
  std::thread worker([&] {
    try {
      result = work();
    } catch (const std::exception& e) {
      result = QStringLiteral("internal error: %1").arg(e.what());
    } catch (...) {
      result = QStringLiteral("internal error");
    }
    // Queued: delivered once the loop runs, even when the work finished before exec().
    QMetaObject::invokeMethod(&loop, "quit", Qt::QueuedConnection);
  });
  loop.exec(QEventLoop::ExcludeUserInputEvents);
  worker.join();
  return result;
}

}  // namespace labloop::gui
