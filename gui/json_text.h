#pragma once
// Small helpers that turn the API's JSON values into text for tables and labels.

#include <QJsonArray>
#include <QJsonObject>
#include <QJsonValue>
#include <QString>

namespace labloop::gui {

// A number with `precision` significant digits, an integer as is, a string as is, null as "".
QString ValueText(const QJsonValue& value, int precision = 4);
// "mean ± sigma", or "" when the mean is null.
QString MeanSigmaText(const QJsonValue& mean, const QJsonValue& sigma);
// Indented JSON for a value that may itself be an object, an array or a scalar.
QString PrettyJson(const QJsonValue& value);
// HTML-escaped text.
QString Html(const QString& text);

}  // namespace labloop::gui
