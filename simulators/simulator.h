#pragma once
// Simulator: computes properties of one molecule (DESIGN.md §3).
//
// Run() is called concurrently from worker threads on one object, so it must be thread-safe; it
// takes a canonical SMILES and returns named properties. A simulation that fails (no 3D
// embedding, SCF not converged, no table entry) is an Error, never an exception: the job becomes
// failed and the round goes on.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/registry.h"
#include "core/result.h"

namespace labloop::simulators {

struct SimulationSummary {
  std::map<std::string, double> properties;  // e.g. "gap" in eV
  std::string fidelity = "simulation";       // "simulation", "lookup"
  std::string raw_json;                      // back-end details kept with the job
  double seconds = 0;                        // wall time of this run
};

struct SimulatorOptions {
  std::string kind = "xtb";
  // xtb
  int embed_seed = 42;                    // ETKDG seed: same seed, same geometry, same numbers
  double xtb_accuracy = 1.0;              // xtb's accuracy multiplier (lower is tighter)
  int xtb_max_iterations = 250;           // SCF iterations before "not converged"
  double electronic_temperature = 300.0;  // K
  // lookup
  std::string table;                          // CSV file of smiles,value
  std::string smiles_column;                  // empty: the column named like "smiles"
  std::string value_column;                   // empty: the first column that is not the SMILES
  std::string property = "value";             // the name the looked-up value is reported under
  std::vector<std::string> extra_properties;  // more columns, each reported under its own name

  Status Validate() const;
};

class Simulator {
 public:
  virtual ~Simulator() = default;
  virtual std::string Kind() const = 0;
  // The properties a successful Run() reports.
  virtual std::vector<std::string> Properties() const = 0;
  virtual Result<SimulationSummary> Run(const std::string& smiles) const = 0;
};

using SimulatorRegistry = Registry<Simulator, const SimulatorOptions&>;

// One line per built-in back-end: xtb, lookup.
void RegisterBuiltinSimulators(SimulatorRegistry& registry);

}  // namespace labloop::simulators
