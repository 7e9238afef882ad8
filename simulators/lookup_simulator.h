#pragma once
// Table lookup for retrospective studies: the "simulation" of a molecule is its value in a CSV
// table (smiles,value), matched by InChIKey so that different SMILES of one molecule agree.
// Rows whose value is empty or not a number are kept out; asking for them fails, which is how a
// study treats molecules whose real evaluation failed.

#include <memory>

#include "simulators/simulator.h"

namespace labloop::simulators {

Result<std::unique_ptr<Simulator>> CreateLookupSimulator(const SimulatorOptions& options);

}  // namespace labloop::simulators
