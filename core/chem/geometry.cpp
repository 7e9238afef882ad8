#include "core/chem/geometry.h"

#include <GraphMol/DistGeomHelpers/Embedder.h>
#include <GraphMol/ForceFieldHelpers/MMFF/MMFF.h>
#include <GraphMol/ForceFieldHelpers/MMFF/AtomTyper.h>
#include <GraphMol/ForceFieldHelpers/UFF/AtomTyper.h>
#include <GraphMol/ForceFieldHelpers/UFF/UFF.h>
#include <GraphMol/MolOps.h>
#include <GraphMol/RWMol.h>

#include <sstream>

#include "core/chem/internal.h"

namespace labloop::chem {

std::string Geometry::ToXyz(const std::string& comment) const {
  static const char* kSymbols[] = {"X",  "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",
                                   "Ne", "Na", "Mg", "Al", "Si", "P",  "S",  "Cl", "Ar", "K",
                                   "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu",
                                   "Zn", "Ga", "Ge", "As", "Se", "Br", "Kr", "Rb", "Sr", "Y",
                                   "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In",
                                   "Sn", "Sb", "Te", "I",  "Xe"};
  std::ostringstream out;
  out << AtomCount() << "\n" << comment << "\n";
  out.setf(std::ios::fixed);
  out.precision(6);
  for (int i = 0; i < AtomCount(); ++i) {
    int z = atomic_numbers[i];
    out << (z >= 0 && z <= 54 ? kSymbols[z] : "X") << " " << xyz_angstrom[3 * i] << " "
        << xyz_angstrom[3 * i + 1] << " " << xyz_angstrom[3 * i + 2] << "\n";
  }
  return out.str();
}

Result<Geometry> Embed3D(const Molecule& molecule, const EmbedOptions& options) {
  try {
    std::unique_ptr<RDKit::ROMol> with_h(RDKit::MolOps::addHs(*molecule.impl().mol));
    RDKit::DGeomHelpers::EmbedParameters params = RDKit::DGeomHelpers::ETKDGv3;
    params.randomSeed = options.seed;
    int conformer = RDKit::DGeomHelpers::EmbedMolecule(*with_h, params);
    if (conformer < 0) {
      // Random coordinates rescue many of the molecules plain ETKDG cannot embed.
      params.useRandomCoords = true;
      conformer = RDKit::DGeomHelpers::EmbedMolecule(*with_h, params);
    }
    if (conformer < 0) {
      return MakeError(ErrorCode::kInvalidArgument, "etkdg could not embed the molecule in 3d");
    }
    Geometry geometry;
    geometry.force_field = "none";
    if (options.max_iterations > 0) {
      RDKit::MMFF::MMFFMolProperties mmff_properties(*with_h);
      if (mmff_properties.isValid()) {
        auto [not_converged, energy] =
            RDKit::MMFF::MMFFOptimizeMolecule(*with_h, options.max_iterations);
        (void)energy;
        geometry.force_field = "MMFF94";
        geometry.force_field_converged = not_converged == 0;
      } else if (RDKit::UFF::getAtomTypes(*with_h).second) {
        auto [not_converged, energy] =
            RDKit::UFF::UFFOptimizeMolecule(*with_h, options.max_iterations);
        (void)energy;
        geometry.force_field = "UFF";
        geometry.force_field_converged = not_converged == 0;
      }
    }
    const RDKit::Conformer& conf = with_h->getConformer(conformer);
    for (const auto* atom : with_h->atoms()) {
      geometry.atomic_numbers.push_back(atom->getAtomicNum());
      const auto& p = conf.getAtomPos(atom->getIdx());
      geometry.xyz_angstrom.insert(geometry.xyz_angstrom.end(), {p.x, p.y, p.z});
      geometry.charge += atom->getFormalCharge();
      geometry.unpaired_electrons += static_cast<int>(atom->getNumRadicalElectrons());
    }
    return geometry;
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInvalidArgument, std::string("3d embedding failed: ") + e.what());
  }
}

}  // namespace labloop::chem
