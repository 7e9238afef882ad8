#pragma once
// StructureView: an SVG molecule picture drawn centred at its own aspect ratio (QSvgWidget
// stretches it, and Qt 6.4's QSvgRenderer has no aspect-ratio mode).

#include <QByteArray>
#include <QWidget>

class QPainter;
class QRectF;
class QSvgRenderer;

namespace labloop::gui {

class CampaignSource;
struct SourceReply;

// The picture of candidate `id` (GET /api/candidates/ID/depiction.svg, RDKit), `width` x
// `height` pixels: every page that shows a structure asks for it here.
SourceReply FetchDepiction(CampaignSource& source, qint64 id, int width, int height);
// Draws a loaded picture centred in `target` at its own aspect ratio.
void DrawCentred(QSvgRenderer& renderer, QPainter& painter, const QRectF& target);

class StructureView : public QWidget {
 public:
  explicit StructureView(QWidget* parent = nullptr);

  // Shows `svg`; an empty or broken document shows nothing. Returns whether it parsed.
  bool Load(const QByteArray& svg);
  bool IsValid() const;

 protected:
  void paintEvent(QPaintEvent* event) override;

 private:
  QSvgRenderer* renderer_;
};

}  // namespace labloop::gui
