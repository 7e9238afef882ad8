#include <catch2/catch.hpp>

#include <atomic>
#include <vector>

#include "core/parallel.h"

TEST_CASE("ParallelFor visits every index exactly once") {
  for (int threads : {1, 2, 4}) {
    std::vector<std::atomic<int>> hits(1000);
    labloop::ParallelFor(1000, threads, [&](int64_t i) { hits[i]++; });
    for (auto& h : hits) CHECK(h.load() == 1);
  }
  int calls = 0;
  labloop::ParallelFor(0, 2, [&](int64_t) { ++calls; });
  CHECK(calls == 0);
}
