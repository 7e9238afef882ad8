#pragma once
// StructureView: an SVG molecule picture drawn centred at its own aspect ratio (QSvgWidget
// stretches it, and Qt 6.4's QSvgRenderer has no aspect-ratio mode).

#include <QByteArray>
#include <QWidget>

class QSvgRenderer;

namespace labloop::gui {

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
