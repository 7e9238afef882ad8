#pragma once
// A fixed set of RDKit 2D descriptors: physico-chemical properties a chemist recognizes and models
// can use beside fingerprints. Names and values come in the same order.

#include <string>
#include <vector>

#include "core/chem/molecule.h"

namespace labloop::chem {

// "mol_wt", "clogp", "tpsa", ...: stable names, used as CSV column names.
const std::vector<std::string>& DescriptorNames();

// One value per name of DescriptorNames().
std::vector<double> ComputeDescriptors(const Molecule& molecule);

// Descriptor values mapped into [0, weight] by the range seen on a reference set (clamped
// beyond it), so that they can sit beside fingerprint counts in one non-negative sparse row:
// the MinMax kernel and the embedding bag both take them as they are.
struct DescriptorScaling {
  std::vector<double> min, max;
  double weight = 1;

  static DescriptorScaling Fit(const std::vector<std::vector<double>>& rows, double weight);
  std::vector<float> Apply(const std::vector<double>& values) const;
};

}  // namespace labloop::chem
