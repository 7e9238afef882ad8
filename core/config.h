#pragma once
// Config: typed, validated access to a TOML document (toml++ underneath).
//
// Keys are dotted paths ("model.hidden"). Every getter that fails names the key, the value it
// found and what is allowed, so a user can fix the file without reading code. Getters record which
// keys were read; UnusedKeys() then lists the ones nobody asked for, which catches typos.
// Copies share the parsed document. Not thread-safe.

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/result.h"

namespace labloop {

class Config {
 public:
  // `source` names the document in messages (a file name, or "embedded demo config").
  static Result<Config> FromString(const std::string& text, const std::string& source);
  static Result<Config> FromFile(const std::string& path);

  Config();
  ~Config();
  Config(const Config&);
  Config& operator=(const Config&);

  const std::string& Source() const;
  // Whether the document has this key (a dotted path), read or not.
  bool Contains(const std::string& key) const;
  // The keys directly under a table (empty when it is absent or not a table), sorted.
  std::vector<std::string> Keys(const std::string& table) const;

  // Each returns `fallback` when the key is absent, and an error when it has the wrong type or
  // lies outside the allowed range.
  Result<std::string> GetString(const std::string& key, const std::string& fallback) const;
  Result<std::string> GetEnum(const std::string& key, const std::vector<std::string>& allowed,
                              const std::string& fallback) const;
  Result<int64_t> GetInt(const std::string& key, int64_t fallback, int64_t min, int64_t max) const;
  Result<double> GetDouble(const std::string& key, double fallback, double min, double max) const;
  Result<bool> GetBool(const std::string& key, bool fallback) const;
  // nullopt when the key is absent.
  Result<std::optional<double>> GetOptionalDouble(const std::string& key, double min,
                                                  double max) const;
  // Accepts a string or an array of strings.
  Result<std::vector<std::string>> GetStringList(const std::string& key) const;
  // An array of numbers (empty when the key is absent).
  Result<std::vector<double>> GetDoubleList(const std::string& key) const;

  // Leaf keys present in the document that no getter has read, as dotted paths.
  std::vector<std::string> UnusedKeys() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
  mutable std::set<std::string> used_;
};

// `path` made absolute against `base_dir` when relative (empty stays empty).
std::string ResolvePath(const std::string& path, const std::string& base_dir);
// A TOML basic string: quotes, backslashes and control characters escaped.
std::string TomlString(const std::string& s);
// A double that reads back exactly (and always as a TOML float, never an integer).
std::string TomlFloat(double v);
// TOML arrays: ["a", "b"] and [1.0, 2.5].
std::string TomlList(const std::vector<std::string>& items);
std::string TomlList(const std::vector<double>& items);

}  // namespace labloop

// Assigns a Config getter's value to `target`, or returns its error from the enclosing function.
#define LABLOOP_ASSIGN(target, expr)                \
  do {                                              \
    auto labloop_value = (expr);                    \
    if (!labloop_value) {                           \
      return tl::unexpected(labloop_value.error()); \
    }                                               \
    target = *labloop_value;                        \
  } while (false)
