#include "core/config.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <toml++/toml.h>

namespace labloop {

struct Config::Impl {
  toml::table table;
  std::string source;
};

namespace {

std::string Describe(const toml::node& node) {
  std::ostringstream out;
  if (node.is_string()) {
    out << "'" << node.value_or(std::string()) << "'";
  } else {
    out << toml::node_view<const toml::node>(node);
  }
  return out.str();
}

void CollectLeaves(const toml::table& table, const std::string& prefix,
                   std::vector<std::string>& out) {
  for (const auto& [key, node] : table) {
    std::string path =
        prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
    if (const auto* sub = node.as_table()) {
      CollectLeaves(*sub, path, out);
    } else {
      out.push_back(path);
    }
  }
}

// The first key (as a dotted path) whose own name holds a dot, or "": labloop reads keys by
// dotted paths, so a quoted name such as [generators."ga.v2"] would be read as three levels.
std::string DottedName(const toml::table& table, const std::string& prefix) {
  for (const auto& [key, node] : table) {
    const std::string name(key.str());
    const std::string path = prefix.empty() ? name : prefix + "." + name;
    if (name.find('.') != std::string::npos)
      return prefix.empty() ? "\"" + name + "\"" : prefix + ".\"" + name + "\"";
    if (const auto* sub = node.as_table()) {
      if (auto found = DottedName(*sub, path); !found.empty()) return found;
    }
  }
  return "";
}

}  // namespace

Config::Config() : impl_(std::make_shared<Impl>()) {}
Config::~Config() = default;
Config::Config(const Config&) = default;
Config& Config::operator=(const Config&) = default;

Result<Config> Config::FromString(const std::string& text, const std::string& source) {
  Config config;
  config.impl_->source = source;
  try {
    config.impl_->table = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << source << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
        << e.description();
    return MakeError(ErrorCode::kInvalidArgument, msg.str());
  }
  if (auto dotted = DottedName(config.impl_->table, ""); !dotted.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     source + ": name " + dotted +
                         " holds a dot; dots separate tables here: rename it (ga_v2, not ga.v2)");
  }
  return config;
}

Result<Config> Config::FromFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return MakeError(ErrorCode::kNotFound, "cannot open config file '" + path + "'");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return FromString(buffer.str(), path);
}

const std::string& Config::Source() const { return impl_->source; }

bool Config::Contains(const std::string& key) const {
  return static_cast<bool>(impl_->table.at_path(key));
}

std::vector<std::string> Config::Keys(const std::string& table) const {
  std::vector<std::string> keys;
  const auto* node = impl_->table.at_path(table).as_table();
  if (node == nullptr) return keys;
  for (const auto& [key, value] : *node) keys.emplace_back(key.str());
  return keys;
}

#define LABLOOP_CONFIG_ERROR(what) \
  MakeError(ErrorCode::kInvalidArgument, impl_->source + ": key '" + key + "' " + what)

Result<std::string> Config::GetString(const std::string& key, const std::string& fallback) const {
  used_.insert(key);
  auto node = impl_->table.at_path(key);
  if (!node) return fallback;
  if (!node.is_string()) {
    return LABLOOP_CONFIG_ERROR("has value " + Describe(*node.node()) + ", expected a string");
  }
  return node.value_or(std::string());
}

Result<std::string> Config::GetEnum(const std::string& key, const std::vector<std::string>& allowed,
                                    const std::string& fallback) const {
  auto value = GetString(key, fallback);
  if (!value) return value;
  for (const auto& a : allowed) {
    if (*value == a) return value;
  }
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  return LABLOOP_CONFIG_ERROR("has value '" + *value + "', allowed: " + list);
}

Result<int64_t> Config::GetInt(const std::string& key, int64_t fallback, int64_t min,
                               int64_t max) const {
  used_.insert(key);
  auto node = impl_->table.at_path(key);
  if (!node) return fallback;
  if (!node.is_integer()) {
    return LABLOOP_CONFIG_ERROR("has value " + Describe(*node.node()) + ", expected an integer");
  }
  int64_t value = node.value_or(int64_t{0});
  if (value < min || value > max) {
    return LABLOOP_CONFIG_ERROR("has value " + std::to_string(value) +
                                ", allowed: " + std::to_string(min) + " to " + std::to_string(max));
  }
  return value;
}

Result<double> Config::GetDouble(const std::string& key, double fallback, double min,
                                 double max) const {
  used_.insert(key);
  auto node = impl_->table.at_path(key);
  if (!node) return fallback;
  if (!node.is_number()) {
    return LABLOOP_CONFIG_ERROR("has value " + Describe(*node.node()) + ", expected a number");
  }
  double value = node.value_or(0.0);
  if (!(value >= min && value <= max)) {
    std::ostringstream msg;
    msg << "has value " << value << ", allowed: " << min << " to " << max;
    return LABLOOP_CONFIG_ERROR(msg.str());
  }
  return value;
}

Result<std::optional<double>> Config::GetOptionalDouble(const std::string& key, double min,
                                                        double max) const {
  if (!impl_->table.at_path(key)) {
    used_.insert(key);
    return std::nullopt;
  }
  auto value = GetDouble(key, 0.0, min, max);
  if (!value) return tl::unexpected(value.error());
  return *value;
}

Result<bool> Config::GetBool(const std::string& key, bool fallback) const {
  used_.insert(key);
  auto node = impl_->table.at_path(key);
  if (!node) return fallback;
  if (!node.is_boolean()) {
    return LABLOOP_CONFIG_ERROR("has value " + Describe(*node.node()) + ", expected true or false");
  }
  return node.value_or(false);
}

Result<std::vector<double>> Config::GetDoubleList(const std::string& key) const {
  used_.insert(key);
  auto node = impl_->table.at_path(key);
  std::vector<double> out;
  if (!node) return out;
  const auto* array = node.as_array();
  if (array == nullptr) {
    return LABLOOP_CONFIG_ERROR("has value " + Describe(*node.node()) +
                                ", expected an array of numbers");
  }
  for (const auto& element : *array) {
    if (!element.is_number() || !std::isfinite(element.value_or(0.0))) {
      return LABLOOP_CONFIG_ERROR("has element " + Describe(element) + ", expected finite numbers");
    }
    out.push_back(element.value_or(0.0));
  }
  return out;
}

Result<std::vector<std::string>> Config::GetStringList(const std::string& key) const {
  used_.insert(key);
  auto node = impl_->table.at_path(key);
  std::vector<std::string> out;
  if (!node) return out;
  if (node.is_string()) {
    out.push_back(node.value_or(std::string()));
    return out;
  }
  const auto* array = node.as_array();
  if (array == nullptr) {
    return LABLOOP_CONFIG_ERROR("has value " + Describe(*node.node()) +
                                ", expected a string or an array of strings");
  }
  for (const auto& element : *array) {
    if (!element.is_string()) {
      return LABLOOP_CONFIG_ERROR("has element " + Describe(element) + ", expected strings");
    }
    out.push_back(element.value_or(std::string()));
  }
  return out;
}

#undef LABLOOP_CONFIG_ERROR

std::vector<std::string> Config::UnusedKeys() const {
  std::vector<std::string> leaves;
  CollectLeaves(impl_->table, "", leaves);
  std::vector<std::string> unused;
  for (const auto& leaf : leaves) {
    if (!used_.count(leaf)) unused.push_back(leaf);
  }
  return unused;
}

std::string ResolvePath(const std::string& path, const std::string& base_dir) {
  if (path.empty()) return path;
  std::filesystem::path p(path);
  if (p.is_relative()) p = std::filesystem::path(base_dir) / p;
  return std::filesystem::absolute(p).lexically_normal().string();
}

std::string TomlString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\u%04x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string TomlFloat(double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.17g", v);
  std::string out = buffer;
  if (out.find_first_of(".eEn") == std::string::npos) out += ".0";
  return out;
}

std::string TomlList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + TomlString(items[i]);
  return out + "]";
}

std::string TomlList(const std::vector<double>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + TomlFloat(items[i]);
  return out + "]";
}

}  // namespace labloop
