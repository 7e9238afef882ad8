#include <catch2/catch.hpp>

#include "learners/batch.h"

using namespace labloop::learners;

namespace {
// Rows of on-bits (value 1) over 16 columns.
SparseMatrix Rows(const std::vector<std::vector<int>>& rows) {
  SparseMatrix x(16);
  for (const auto& r : rows) x.AddRow(r, std::vector<float>(r.size(), 1.0f));
  return x;
}
}  // namespace

TEST_CASE("Tanimoto on sparse rows - bits and counts") {
  auto x = Rows({{1, 2, 3, 4}, {3, 4, 5, 6}, {}, {}});
  CHECK(TanimotoRows(x, 0, 1) == Approx(2.0 / 6.0));
  CHECK(TanimotoRows(x, 0, 0) == 1.0);
  CHECK(TanimotoRows(x, 2, 3) == 0.0);
  SparseMatrix counts(16);
  counts.AddRow(std::vector<int>{1, 2}, {2.0f, 1.0f});
  counts.AddRow(std::vector<int>{1, 3}, {1.0f, 1.0f});
  // min: 1 (bit 1); max: 2 + 1 + 1.
  CHECK(TanimotoRows(counts, 0, 1) == Approx(1.0 / 4.0));
}

TEST_CASE("A diverse batch skips near-copies of what it already took") {
  // Rows 0-2 are near-copies with the best scores; row 3 is different; row 4 copies row 3.
  auto x = Rows({{1, 2, 3, 4, 5}, {1, 2, 3, 4, 6}, {1, 2, 3, 4, 7}, {9, 10, 11}, {9, 10, 12}});
  std::vector<double> scores{10, 9, 8, 5, 4};
  BatchOptions top;
  CHECK(SelectBatch(scores, x, 2, top)->rows == std::vector<int64_t>{0, 1});
  BatchOptions diverse;
  diverse.kind = "diverse";
  diverse.max_similarity = 0.4;  // row 4 is 0.5 from row 3, row 1 0.67 from row 0
  auto picked = SelectBatch(scores, x, 2, diverse);
  REQUIRE(picked);
  CHECK(picked->rows == std::vector<int64_t>{0, 3});
  CHECK(picked->filled == 0);
  // Only two clusters: a third pick must come from the best scores left.
  auto three = SelectBatch(scores, x, 3, diverse);
  CHECK(three->rows == std::vector<int64_t>{0, 3, 1});
  CHECK(three->filled == 1);
}

TEST_CASE("MaxMin takes the best score then the farthest candidates") {
  auto x = Rows({{1, 2, 3, 4}, {1, 2, 3, 5}, {1, 2, 8, 9}, {12, 13, 14}});
  std::vector<double> scores{4, 3, 2, 1};
  BatchOptions maxmin;
  maxmin.kind = "maxmin";
  auto picked = SelectBatch(scores, x, 3, maxmin);
  REQUIRE(picked);
  // Row 3 shares nothing with row 0; then row 2 (similarity 2/6 to row 0) beats row 1 (3/5).
  CHECK(picked->rows == std::vector<int64_t>{0, 3, 2});
  // A shortlist of 1 x k keeps MaxMin among the k best scores.
  maxmin.shortlist = 1;
  CHECK(SelectBatch(scores, x, 2, maxmin)->rows == std::vector<int64_t>{0, 1});
}

TEST_CASE("Batch options and inputs are checked") {
  auto x = Rows({{1}, {2}});
  BatchOptions bad;
  bad.kind = "clusters";
  CHECK(SelectBatch({1, 2}, x, 1, bad).error().message ==
        "batch option kind 'clusters' is unknown (known: top_k, diverse, maxmin)");
  BatchOptions diverse;
  diverse.kind = "diverse";
  CHECK_FALSE(SelectBatch({1, 2, 3}, x, 1, diverse));  // 3 scores, 2 rows
  SparseMatrix unsorted(16);
  unsorted.AddRow(std::vector<int>{5, 1}, {1.0f, 1.0f});
  CHECK_FALSE(SelectBatch({1}, unsorted, 1, diverse));
  CHECK(SelectBatch({1, 2}, x, 10, diverse)->rows.size() == 2);  // k capped
}
