#include "gui/structure_view.h"

#include <QPainter>
#include <QSvgRenderer>

namespace labloop::gui {

StructureView::StructureView(QWidget* parent) : QWidget(parent), renderer_(new QSvgRenderer(this)) {
  setMinimumSize(160, 120);
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
}

bool StructureView::Load(const QByteArray& svg) {
  bool ok = !svg.isEmpty() && renderer_->load(svg);
  if (!ok) renderer_->load(QByteArray());
  update();
  return ok;
}

bool StructureView::IsValid() const { return renderer_->isValid(); }

void StructureView::paintEvent(QPaintEvent*) {
  QPainter painter(this);
  painter.fillRect(rect(), Qt::white);
  if (!renderer_->isValid()) return;
  QSizeF size = renderer_->defaultSize();
  if (size.isEmpty()) size = QSizeF(4, 3);
  size.scale(QSizeF(rect().size()), Qt::KeepAspectRatio);
  QRectF target(QPointF(0, 0), size);
  target.moveCenter(QRectF(rect()).center());
  renderer_->render(&painter, target);
}

}  // namespace labloop::gui
