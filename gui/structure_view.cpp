#include "gui/structure_view.h"

#include <QPainter>
#include <QSvgRenderer>

#include "gui/campaign_source.h"

namespace labloop::gui {

SourceReply FetchDepiction(CampaignSource& source, qint64 id, int width, int height) {
  return source.Get(QStringLiteral("/api/candidates/%1/depiction.svg").arg(id),
                    {{"width", QString::number(width)}, {"height", QString::number(height)}});
}

void DrawCentred(QSvgRenderer& renderer, QPainter& painter, const QRectF& target) {
  QSizeF size = renderer.defaultSize();
  if (size.isEmpty()) size = QSizeF(4, 3);
  size.scale(target.size(), Qt::KeepAspectRatio);
  QRectF box(QPointF(0, 0), size);
  box.moveCenter(target.center());
  renderer.render(&painter, box);
}

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
  if (renderer_->isValid()) DrawCentred(*renderer_, painter, QRectF(rect()));
}

}  // namespace labloop::gui
