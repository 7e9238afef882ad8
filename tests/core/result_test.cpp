#include <catch2/catch.hpp>

#include "core/result.h"

using namespace labloop;

namespace {
Result<int> Half(int x) {
  if (x % 2 != 0) return MakeError(ErrorCode::kInvalidArgument, "odd value " + std::to_string(x));
  return x / 2;
}
}  // namespace

TEST_CASE("Result carries a value or an error with its code") {
  auto ok = Half(4);
  REQUIRE(ok);
  CHECK(*ok == 2);
  auto bad = Half(3);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == ErrorCode::kInvalidArgument);
  CHECK(bad.error().ToString() == "invalid argument: odd value 3");
  CHECK(WithContext(bad.error(), "reading x").message == "reading x: odd value 3");
}
