#pragma once
// The external-command back-end: a user's program computes the properties.
//
// For each molecule labloop runs `command` (argv, no shell), writes the canonical SMILES and a
// newline to its stdin -- or, with input = "xyz", a 3D geometry (ETKDG + MMFF94) as an XYZ file
// whose comment line is the SMILES -- and reads one JSON object from its stdout:
//   {"logp": 1.2, "tpsa": 20.2}          properties, at least those named in `properties`
//   {"error": "no convergence"}          a failure of this molecule, with its reason
// A non-zero exit code, a crash, or no JSON object is a failed molecule too, with the program's
// last line of stderr as the reason; after `timeout` seconds the program (and its children) is
// killed. See examples/external-command/ for a complete program.

#include <memory>

#include "simulators/simulator.h"

namespace labloop::simulators {

Result<std::unique_ptr<Simulator>> CreateCommandSimulator(const SimulatorOptions& options);

}  // namespace labloop::simulators
