#include "learners/batch.h"

#include <algorithm>
#include <limits>
#include <numeric>

#include "learners/acquisition.h"

namespace labloop::learners {

namespace {

bool SortedRow(const SparseMatrix& x, int64_t row) {
  return std::is_sorted(x.indices.begin() + x.offsets[row], x.indices.begin() + x.offsets[row + 1]);
}

// Fills `picked` up to k with the best-scoring rows not in it.
int64_t FillByScore(const std::vector<double>& scores, int64_t k, std::vector<int64_t>& picked) {
  std::vector<bool> taken(scores.size(), false);
  for (int64_t r : picked) taken[r] = true;
  int64_t filled = 0;
  // Among the best k + |picked| rows at least k - |picked| are not taken.
  for (int64_t r : SelectTopK(scores, k + static_cast<int64_t>(picked.size()))) {
    if (static_cast<int64_t>(picked.size()) >= k) break;
    if (taken[r]) continue;
    picked.push_back(r);
    ++filled;
  }
  return filled;
}

}  // namespace

Status BatchOptions::Validate() const {
  auto bad = [](const std::string& what) {
    return MakeError(ErrorCode::kInvalidArgument, "batch option " + what);
  };
  auto kinds = BatchKinds();
  if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) {
    return bad("kind '" + kind + "' is unknown (known: top_k, diverse, maxmin)");
  }
  if (!(max_similarity > 0 && max_similarity <= 1)) return bad("max_similarity must be in (0, 1]");
  if (shortlist < 1) return bad("shortlist must be at least 1");
  return {};
}

std::vector<std::string> BatchKinds() { return {"top_k", "diverse", "maxmin"}; }

double TanimotoRows(const SparseMatrix& x, int64_t a, int64_t b) {
  int64_t i = x.offsets[a], i_end = x.offsets[a + 1];
  int64_t j = x.offsets[b], j_end = x.offsets[b + 1];
  double both = 0, either = 0;
  while (i < i_end && j < j_end) {
    if (x.indices[i] == x.indices[j]) {
      both += std::min(x.values[i], x.values[j]);
      either += std::max(x.values[i], x.values[j]);
      ++i, ++j;
    } else if (x.indices[i] < x.indices[j]) {
      either += x.values[i++];
    } else {
      either += x.values[j++];
    }
  }
  for (; i < i_end; ++i) either += x.values[i];
  for (; j < j_end; ++j) either += x.values[j];
  return either > 0 ? both / either : 0.0;
}

Result<BatchSelection> SelectBatch(const std::vector<double>& scores, const SparseMatrix& features,
                                   int64_t k, const BatchOptions& options) {
  LABLOOP_TRY(options.Validate());
  const int64_t n = static_cast<int64_t>(scores.size());
  if (features.Rows() != n) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "batch selection got " + std::to_string(n) + " scores for " +
                         std::to_string(features.Rows()) + " feature rows");
  }
  k = std::clamp<int64_t>(k, 0, n);
  BatchSelection out;
  if (options.kind == "top_k") {
    out.rows = SelectTopK(scores, k);
    return out;
  }
  auto shortlist = SelectTopK(scores, std::min<int64_t>(n, k * options.shortlist));
  for (int64_t r : shortlist) {
    if (!SortedRow(features, r)) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          "batch selection needs sorted feature indices (row " + std::to_string(r) + " is not)");
    }
  }
  if (options.kind == "diverse") {
    for (int64_t r : shortlist) {
      if (static_cast<int64_t>(out.rows.size()) >= k) break;
      bool far = std::all_of(out.rows.begin(), out.rows.end(), [&](int64_t taken) {
        return TanimotoRows(features, r, taken) <= options.max_similarity;
      });
      if (far) out.rows.push_back(r);
    }
  } else {  // maxmin
    // nearest[i]: the largest similarity of shortlist[i] to anything taken so far.
    std::vector<double> nearest(shortlist.size(), 0.0);
    std::vector<bool> taken(shortlist.size(), false);
    size_t next = 0;  // the best score goes first
    while (!shortlist.empty() && static_cast<int64_t>(out.rows.size()) < k) {
      taken[next] = true;
      out.rows.push_back(shortlist[next]);
      double farthest = std::numeric_limits<double>::infinity();
      size_t best = shortlist.size();
      for (size_t i = 0; i < shortlist.size(); ++i) {
        if (taken[i]) continue;
        nearest[i] = std::max(nearest[i], TanimotoRows(features, shortlist[i], shortlist[next]));
        // Strictly smaller: among equally far candidates the first (best score) wins.
        if (nearest[i] < farthest) farthest = nearest[i], best = i;
      }
      if (best == shortlist.size()) break;
      next = best;
    }
  }
  if (static_cast<int64_t>(out.rows.size()) < k) out.filled = FillByScore(scores, k, out.rows);
  return out;
}

}  // namespace labloop::learners
