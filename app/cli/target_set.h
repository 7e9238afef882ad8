#pragma once
// A molecule file with a numeric target column, read as everything a property model may take:
// count fingerprints (Morgan radius 2, 2048 bits), molecular graphs and RDKit descriptors. Shared
// by `labloop bench predictors` and `labloop-gpu-check`.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/chem/descriptors.h"
#include "core/chem/graph.h"
#include "core/result.h"
#include "learners/sparse_matrix.h"

namespace labloop::cli {

struct TargetSet {
  learners::SparseMatrix x{2048};
  std::vector<double> y;
  std::vector<std::vector<double>> descriptors;        // per row: the fingerprint side's set
  std::vector<std::vector<double>> graph_descriptors;  // per row: the graph side's set
  std::vector<chem::MolGraph> graphs;                  // per row, for graph models
};

// A CSV of molecules with a numeric target column; MUBen's "[-2.06]" labels are read too. Rows
// whose target is not a number are skipped. With `sets`, every row gets the descriptors of both.
Result<TargetSet> ReadSet(const std::string& path, const std::string& target,
                          std::optional<chem::DescriptorSets> sets = std::nullopt);

// These rows of `all`, in this order.
TargetSet Subset(const TargetSet& all, const std::vector<int64_t>& rows);

// With weight > 0 (and descriptors read): every set's fingerprint rows get their descriptors as
// more columns, scaled by the training set's range times `weight`, and every graph gets its own as
// molecule features.
void AddDescriptors(double weight, TargetSet& train, std::vector<TargetSet*> others);

}  // namespace labloop::cli
