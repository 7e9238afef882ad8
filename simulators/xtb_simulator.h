#pragma once
// GFN2-xTB single points through libxtb's C API.
//
// Geometry: RDKit ETKDG (seeded) then MMFF94 relaxation; then one GFN2-xTB single point in the
// gas phase. Reports "energy" (total, Hartree), "gap" (HOMO-LUMO, eV) and "dipole" (Debye).
// Each Run() has its own xtb environment, so runs on different threads do not share state; set
// OMP_NUM_THREADS=1 when running several at once (the CLI does).

#include <memory>

#include "simulators/simulator.h"

namespace labloop::simulators {

Result<std::unique_ptr<Simulator>> CreateXtbSimulator(const SimulatorOptions& options);

}  // namespace labloop::simulators
