#pragma once
// Registry<T>: a name -> factory table for one family of pluggable back-ends.
//
// Back-ends are registered explicitly (RegisterBuiltinSimulators(registry) and friends: one line
// per back-end, no static self-registration). Create() of an unknown name returns an error that
// lists the names that exist. Not thread-safe for registration; Create() may be called from any
// thread once registration is done.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"

namespace labloop {

template <typename Interface, typename... Args>
class Registry {
 public:
  using Factory = std::function<Result<std::unique_ptr<Interface>>(Args...)>;

  // `family` names the kind of thing registered ("simulator"), for error messages.
  explicit Registry(std::string family) : family_(std::move(family)) {}

  void Register(const std::string& name, Factory factory) { factories_[name] = std::move(factory); }

  bool Contains(const std::string& name) const { return factories_.count(name) > 0; }

  std::vector<std::string> Names() const {
    std::vector<std::string> names;
    for (const auto& [name, factory] : factories_) names.push_back(name);
    return names;
  }

  // The caller owns the returned object.
  Result<std::unique_ptr<Interface>> Create(const std::string& name, Args... args) const {
    auto it = factories_.find(name);
    if (it == factories_.end()) {
      std::string known;
      for (const auto& n : Names()) known += (known.empty() ? "" : ", ") + n;
      return MakeError(ErrorCode::kInvalidArgument,
                       "unknown " + family_ + " '" + name + "' (known: " + known + ")");
    }
    return it->second(std::forward<Args>(args)...);
  }

 private:
  std::string family_;
  std::map<std::string, Factory> factories_;
};

}  // namespace labloop
