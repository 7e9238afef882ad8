#include <catch2/catch.hpp>

#include "core/registry.h"

using namespace labloop;

namespace {
struct Shape {
  virtual ~Shape() = default;
  virtual int Sides() const = 0;
};
struct Square : Shape {
  int Sides() const override { return 4; }
};
}  // namespace

TEST_CASE("Registry creates by name and lists known names on a miss") {
  Registry<Shape> registry("shape");
  registry.Register("square",
                    []() -> Result<std::unique_ptr<Shape>> { return std::make_unique<Square>(); });
  auto square = registry.Create("square");
  REQUIRE(square);
  CHECK((*square)->Sides() == 4);
  auto missing = registry.Create("circle");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message == "unknown shape 'circle' (known: square)");
  CHECK(registry.Names() == std::vector<std::string>{"square"});
}
