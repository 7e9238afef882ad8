#include <catch2/catch.hpp>

#include "core/config.h"

using namespace labloop;

TEST_CASE("Config reads typed values with defaults") {
  auto config = Config::FromString(R"(
[model]
hidden = 64
rate = 0.5
name = "mlp"
on = true
files = ["a.smi", "b.smi"]
)",
                                   "test.toml");
  REQUIRE(config);
  CHECK(*config->GetInt("model.hidden", 1, 1, 100) == 64);
  CHECK(*config->GetInt("model.missing", 7, 1, 100) == 7);
  CHECK(*config->GetDouble("model.rate", 0, 0, 1) == Approx(0.5));
  CHECK(*config->GetDouble("model.hidden", 0, 0, 100) == Approx(64));  // integers are numbers
  CHECK(*config->GetString("model.name", "") == "mlp");
  CHECK(*config->GetBool("model.on", false));
  CHECK(config->GetStringList("model.files")->size() == 2);
  CHECK(config->UnusedKeys().empty());
}

TEST_CASE("Config errors name the key - the value and what is allowed") {
  auto config = Config::FromString("[a]\nn = 500\nkind = \"tree\"\ns = 3\ntypo = 1\n", "c.toml");
  REQUIRE(config);
  auto n = config->GetInt("a.n", 0, 1, 100);
  REQUIRE_FALSE(n);
  CHECK(n.error().message == "c.toml: key 'a.n' has value 500, allowed: 1 to 100");
  auto kind = config->GetEnum("a.kind", {"mlp", "gp"}, "mlp");
  REQUIRE_FALSE(kind);
  CHECK(kind.error().message == "c.toml: key 'a.kind' has value 'tree', allowed: mlp, gp");
  auto s = config->GetString("a.s", "");
  REQUIRE_FALSE(s);
  CHECK(s.error().message == "c.toml: key 'a.s' has value 3, expected a string");
  CHECK(config->UnusedKeys() == std::vector<std::string>{"a.typo"});
}

TEST_CASE("Config reports TOML syntax errors with their position") {
  auto config = Config::FromString("[a]\nx = = 1\n", "broken.toml");
  REQUIRE_FALSE(config);
  CHECK(config.error().message.rfind("broken.toml:2:", 0) == 0);
  auto missing = Config::FromFile("/nonexistent/labloop.toml");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ErrorCode::kNotFound);
}
