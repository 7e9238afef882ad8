#pragma once
// The AutoDock Vina docking back-end.
//
// Per molecule: a 3D geometry from RDKit (seeded ETKDG + MMFF94), protonated at `ph` and written
// as PDBQT (Gasteiger charges, rotatable bonds) by Open Babel, then docked by Vina into the box
// (`center`, `size`, Angstrom) of the `receptor` PDBQT (a .pdbqt.gz is unpacked once). Reports
// "vina_score" (kcal/mol, the best pose's affinity; lower binds better) and "ligand_efficiency"
// (-score per heavy atom). The raw record keeps the best pose (PDBQT) and every mode's score.
// Both programs run as child processes with the isolation of RunProcess; Vina gets one CPU and
// the seed, so a run is reproducible.

#include <memory>

#include "simulators/simulator.h"

namespace labloop::simulators {

Result<std::unique_ptr<Simulator>> CreateVinaSimulator(const SimulatorOptions& options);

}  // namespace labloop::simulators
