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

TEST_CASE("Config refuses a table or key whose name holds a dot, naming it") {
  auto dotted = Config::FromString("[generators.\"ga.v2\"]\nkind = \"graph_ga\"\n", "gen.toml");
  REQUIRE_FALSE(dotted);
  CHECK(dotted.error().message ==
        "gen.toml: name generators.\"ga.v2\" holds a dot; dots separate tables here: rename it "
        "(ga_v2, not ga.v2)");
  auto key = Config::FromString("[model]\n\"hidden.size\" = 3\n", "m.toml");
  REQUIRE_FALSE(key);
  CHECK(key.error().message.find("model.\"hidden.size\"") != std::string::npos);
  CHECK(Config::FromString("[generators.ga_v2]\nkind = \"graph_ga\"\n", "ok.toml"));
}
