#pragma once
// Batch selection: which k candidates to evaluate together, from their acquisition scores.
//
// A plain top-k by score tends to fill a batch with near-copies of one promising scaffold; the
// diversity-aware kinds trade a little score for chemical spread, measured by Tanimoto (MinMax)
// similarity on the candidates' fingerprint rows:
//   top_k    the k best scores
//   diverse  sphere exclusion in score order: a candidate is taken only when no candidate taken
//            before it is more similar than `max_similarity`
//   maxmin   MaxMin picking within the `shortlist` × k best scores: the best one first, then
//            each time the candidate farthest from all those taken (ties to the better score)
// When the shortlist runs out before k are taken (a pool of near-copies), the rest of the batch is
// filled with the best-scoring candidates not taken; `Summary` says how many.

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"
#include "learners/sparse_matrix.h"

namespace labloop::learners {

struct BatchOptions {
  std::string kind = "top_k";   // top_k, diverse, maxmin
  double max_similarity = 0.6;  // diverse: the most similar two picks may be, in (0, 1]
  int shortlist = 50;           // diverse, maxmin: look at most at shortlist × k best scores

  Status Validate() const;
};

struct BatchSelection {
  std::vector<int64_t> rows;  // picked rows, in the order taken
  int64_t filled = 0;         // of those, taken by score alone after the diverse picks ran out
};

// `scores` has one entry per row of `features` (higher is better); rows of `features` hold
// sorted indices, as fingerprints give them. k is capped at the number of rows.
Result<BatchSelection> SelectBatch(const std::vector<double>& scores, const SparseMatrix& features,
                                   int64_t k, const BatchOptions& options);

// Σ min / Σ max over the values of rows a and b (equals Tanimoto on bit rows); 0 when both are
// empty. Rows must hold sorted indices.
double TanimotoRows(const SparseMatrix& x, int64_t a, int64_t b);

std::vector<std::string> BatchKinds();

}  // namespace labloop::learners
