#pragma once
// GFN-xTB calculations through libxtb's C API.
//
// Geometry: RDKit ETKDG (seeded) then MMFF94 relaxation; optionally relaxed further with xtb
// itself (`optimize`: L-BFGS on xtb's analytic gradient, Ceres' line-search solver, to a largest
// gradient component below 1e-3 Eh/bohr, xtb's "normal" criterion); then one single point, in the
// gas phase or in a GBSA solvent. ALPB solvation (`solvation = "alpb"`) is not in libxtb 6.5's C
// API: that one runs the xtb program on the same geometry, with its own optimizer. Reports "energy"
// (total, Hartree), "gap" (HOMO-LUMO, eV) and "dipole" (Debye); with `ip_ea`, also the vertical
// "ip" and "ea" (eV) the way `xtb --vipea` does it: IPEA-xTB single points of the cation and anion
// at the same geometry, less xtb's empirical shift. Each Run() has its own xtb environment, so runs
// on different threads share no state.

#include <memory>

#include "simulators/simulator.h"

namespace labloop::simulators {

Result<std::unique_ptr<Simulator>> CreateXtbSimulator(const SimulatorOptions& options);

// The energy (Hartree) of a free atom in its ground-state spin (Hund's rule: C, O two unpaired
// electrons, N three; H, F one), with the options' method and solvent: the reference of an
// atomization energy, E(molecule) - sum of E(atom). Elements 1 to 18.
Result<double> XtbFreeAtomEnergy(int atomic_number, const SimulatorOptions& options);

}  // namespace labloop::simulators
