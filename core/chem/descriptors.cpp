#include "core/chem/descriptors.h"

#include <algorithm>

#include <GraphMol/Descriptors/Crippen.h>
#include <GraphMol/Descriptors/Lipinski.h>
#include <GraphMol/Descriptors/MolDescriptors.h>
#include <GraphMol/Descriptors/MolSurf.h>

#include "core/chem/internal.h"

namespace labloop::chem {

const std::vector<std::string>& DescriptorNames() {
  static const std::vector<std::string> names = {"mol_wt",
                                                 "exact_mol_wt",
                                                 "clogp",
                                                 "mr",
                                                 "tpsa",
                                                 "labute_asa",
                                                 "hbd",
                                                 "hba",
                                                 "rotatable_bonds",
                                                 "rings",
                                                 "aromatic_rings",
                                                 "heteroatoms",
                                                 "fraction_csp3",
                                                 "heavy_atoms",
                                                 "stereocenters",
                                                 "formal_charge"};
  return names;
}

std::vector<double> ComputeDescriptors(const Molecule& molecule) {
  const RDKit::ROMol& mol = *molecule.impl().mol;
  double logp = 0.0, mr = 0.0;
  RDKit::Descriptors::calcCrippenDescriptors(mol, logp, mr);
  return {
      RDKit::Descriptors::calcAMW(mol),
      RDKit::Descriptors::calcExactMW(mol),
      logp,
      mr,
      RDKit::Descriptors::calcTPSA(mol),
      RDKit::Descriptors::calcLabuteASA(mol),
      static_cast<double>(RDKit::Descriptors::calcNumHBD(mol)),
      static_cast<double>(RDKit::Descriptors::calcNumHBA(mol)),
      static_cast<double>(RDKit::Descriptors::calcNumRotatableBonds(mol)),
      static_cast<double>(RDKit::Descriptors::calcNumRings(mol)),
      static_cast<double>(RDKit::Descriptors::calcNumAromaticRings(mol)),
      static_cast<double>(RDKit::Descriptors::calcNumHeteroatoms(mol)),
      RDKit::Descriptors::calcFractionCSP3(mol),
      static_cast<double>(mol.getNumHeavyAtoms()),
      static_cast<double>(RDKit::Descriptors::numAtomStereoCenters(mol)),
      static_cast<double>(molecule.FormalCharge()),
  };
}

DescriptorScaling DescriptorScaling::Fit(const std::vector<std::vector<double>>& rows,
                                         double weight) {
  DescriptorScaling s;
  s.weight = weight;
  const size_t k = DescriptorNames().size();
  s.min.assign(k, 0.0);
  s.max.assign(k, 0.0);
  for (size_t j = 0; j < k; ++j) {
    for (size_t i = 0; i < rows.size(); ++i) {
      if (i == 0 || rows[i][j] < s.min[j]) s.min[j] = rows[i][j];
      if (i == 0 || rows[i][j] > s.max[j]) s.max[j] = rows[i][j];
    }
  }
  return s;
}

std::vector<float> DescriptorScaling::Apply(const std::vector<double>& values) const {
  std::vector<float> out(values.size());
  for (size_t j = 0; j < values.size(); ++j) {
    double range = max[j] - min[j];
    double t = range > 0 ? (values[j] - min[j]) / range : 0.0;
    out[j] = static_cast<float>(weight * std::clamp(t, 0.0, 1.0));
  }
  return out;
}

}  // namespace labloop::chem
