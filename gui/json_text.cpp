#include "gui/json_text.h"

#include <QJsonDocument>
#include <cmath>

namespace labloop::gui {

QString ValueText(const QJsonValue& value, int precision) {
  switch (value.type()) {
    case QJsonValue::Double: {
      double v = value.toDouble();
      if (std::floor(v) == v && std::abs(v) < 1e15) return QString::number(qint64(v));
      return QString::number(v, 'g', precision);
    }
    case QJsonValue::String:
      return value.toString();
    case QJsonValue::Bool:
      return value.toBool() ? QStringLiteral("yes") : QStringLiteral("no");
    case QJsonValue::Object:
    case QJsonValue::Array:
      return PrettyJson(value);
    default:
      return {};
  }
}

QString MeanSigmaText(const QJsonValue& mean, const QJsonValue& sigma) {
  if (!mean.isDouble()) return {};
  QString text = QString::number(mean.toDouble(), 'g', 4);
  if (sigma.isDouble())
    text += QString::fromUtf8(" ± ") + QString::number(sigma.toDouble(), 'g', 3);
  return text;
}

QString PrettyJson(const QJsonValue& value) {
  if (value.isObject()) {
    return QString::fromUtf8(QJsonDocument(value.toObject()).toJson(QJsonDocument::Indented))
        .trimmed();
  }
  if (value.isArray()) {
    return QString::fromUtf8(QJsonDocument(value.toArray()).toJson(QJsonDocument::Indented))
        .trimmed();
  }
  return ValueText(value);
}

QString Html(const QString& text) { return text.toHtmlEscaped(); }

}  // namespace labloop::gui
