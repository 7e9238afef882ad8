#pragma once
// The RDKit MMFF94 back-end: a conformer search (`conformers` ETKDG conformers, each relaxed).
//
// Reports, in kcal/mol:
//   "mmff_energy"    the lowest MMFF94 energy found (the global-minimum estimate);
//   "strain_energy"  how far the standard single-conformer geometry (seeded ETKDG + MMFF94, the
//                    one the xtb back-end computes on) lies above that minimum: the conformational
//                    strain a one-geometry simulation carries. Zero when the search finds nothing
//                    lower.
// The raw record keeps the count of conformers embedded and converged, and the lowest five
// relative energies.

#include <memory>

#include "simulators/simulator.h"

namespace labloop::simulators {

Result<std::unique_ptr<Simulator>> CreateMmffSimulator(const SimulatorOptions& options);

}  // namespace labloop::simulators
