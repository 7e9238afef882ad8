#pragma once
// Private to simulators/: the 3D geometry every 3D back-end starts from.

#include "core/chem/geometry.h"
#include "core/chem/molecule.h"
#include "simulators/simulator.h"

namespace labloop::simulators {

// Seeded ETKDG, then MMFF94 (chem::Embed3D with the options' seed): the same SMILES and seed give
// the same atoms in xtb, MMFF, Vina and the external command.
inline Result<chem::Geometry> StandardGeometry(const chem::Molecule& molecule,
                                               const SimulatorOptions& options) {
  chem::EmbedOptions embed;
  embed.seed = options.embed_seed;
  return chem::Embed3D(molecule, embed);
}

}  // namespace labloop::simulators
