#pragma once
// RunBusy: runs slow work (creating or exporting a campaign) on a worker thread while the GUI
// shows a busy progress dialog and keeps painting.

#include <QString>
#include <functional>

class QWidget;

namespace labloop::gui {

// Runs `work` on a new thread and waits in a local event loop; returns what `work` returned (an
// error message, "" on success). An exception from `work` becomes its message.
QString RunBusy(QWidget* parent, const QString& label, const std::function<QString()>& work);

}  // namespace labloop::gui
