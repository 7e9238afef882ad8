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

}  // namespace labloop::chem
