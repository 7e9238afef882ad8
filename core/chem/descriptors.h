#pragma once
// A fixed set of RDKit 2D descriptors: physico-chemical properties a chemist recognizes and models
// can use beside fingerprints. Names and values come in the same order.

#include <string>
#include <vector>

#include "core/chem/molecule.h"
#include "core/result.h"

namespace labloop::chem {

enum class DescriptorSet {
  // 16 physico-chemical properties a chemist names ("mol_wt", "clogp", "tpsa", ...): what
  // campaign constraints and the instruments' ground truth refer to.
  kBasic,
  // RDKit's 2D descriptors for models (as Chemprop's "rdkit_2d" features): RDKit's 43
  // registered properties (RDKit::Descriptors::Properties), the SlogP, SMR and PEOE VSA bins, the
  // 42 MQNs, and the 85 functional-group counts of rdkit-data's FragmentDescriptors.csv (RDKit's
  // fr_* descriptors; set LABLOOP_FRAGMENT_DESCRIPTORS to read another copy), 206 in all. On
  // ESOL they lower the GP's test RMSE from 0.548 to 0.522 (docs/benchmarks.md).
  kRdkit2d,
};

// "basic" or "rdkit2d". For "rdkit2d", also checks that the fragment table loads.
Result<DescriptorSet> ParseDescriptorSet(const std::string& name);
std::string DescriptorSetName(DescriptorSet set);

// Stable names, used as CSV column names and stored with models.
const std::vector<std::string>& DescriptorNames(DescriptorSet set = DescriptorSet::kBasic);

// One value per name of DescriptorNames(set). kRdkit2d throws std::runtime_error when its
// fragment table does not load (ParseDescriptorSet("rdkit2d") reports that as an error first).
std::vector<double> ComputeDescriptors(const Molecule& molecule,
                                       DescriptorSet set = DescriptorSet::kBasic);

// ComputeDescriptors of many SMILES on `threads` threads (0: one per core), in input order; a
// progress bar labelled `label` from 5,000 molecules on. A SMILES that does not parse, or a
// descriptor that is not finite, is an error naming the row by `names[i]` ("pool.csv:12",
// "candidate 7") or else by its position. With `failures` given, such rows are not an error:
// their row is left empty and (*failures)[i] says why ("" for the rows that worked). RDKit's 206
// take about 1.7 ms a drug-sized molecule on one core.
Result<std::vector<std::vector<double>>> ComputeDescriptorRows(
    const std::vector<std::string>& smiles, DescriptorSet set, int threads = 0,
    const std::string& label = "descriptors", const std::vector<std::string>& names = {},
    std::vector<std::string>* failures = nullptr);

// Which descriptors sit beside each kind of model input: the fingerprint rows (the GP, the
// networks on fingerprints) and the graph readout (the D-MPNN). They may differ: on ESOL the GP
// gains from RDKit's 206 while the D-MPNN, which learns its own features from the graph, overfits
// them and does best with the basic 16 (docs/benchmarks.md).
struct DescriptorSets {
  DescriptorSet fingerprint = DescriptorSet::kBasic;
  DescriptorSet graph = DescriptorSet::kBasic;
};

// Both sides' descriptors of each SMILES (ComputeDescriptorRows): the fingerprint side's always,
// the graph side's when `graphs`, computed once when both sides name the same set.
struct DescriptorsBySide {
  std::vector<std::vector<double>> fingerprint, graph;
};
// `failures`: as ComputeDescriptorRows', a row that fails on either side failing on both.
Result<DescriptorsBySide> ComputeDescriptorsBySide(const std::vector<std::string>& smiles,
                                                   DescriptorSets sets, bool graphs,
                                                   const std::string& label = "descriptors",
                                                   const std::vector<std::string>& names = {},
                                                   std::vector<std::string>* failures = nullptr);

// Descriptor values (of any set) mapped into [0, weight] by the range seen on a reference set
// (clamped beyond it), so that they can sit beside fingerprint counts in one non-negative sparse
// row: the MinMax kernel and the embedding bag both take them as they are.
struct DescriptorScaling {
  std::vector<double> min, max;
  double weight = 1;

  static DescriptorScaling Fit(const std::vector<std::vector<double>>& rows, double weight);
  // Throws std::invalid_argument when `values` is not as wide as the rows Fit saw.
  std::vector<float> Apply(const std::vector<double>& values) const;
};

}  // namespace labloop::chem
