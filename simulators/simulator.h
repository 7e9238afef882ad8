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

#include "core/config.h"
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
  int embed_seed = 42;  // ETKDG seed: same seed, same geometry, same numbers (xtb, mmff, vina)
  // xtb
  std::string xtb_method = "gfn2";        // gfn2 | gfn1
  double xtb_accuracy = 1.0;              // xtb's accuracy multiplier (lower is tighter)
  int xtb_max_iterations = 250;           // SCF iterations before "not converged"
  double electronic_temperature = 300.0;  // K
  std::string solvent;                    // empty: gas phase; else a solvent ("water", ...)
  std::string solvation = "gbsa";         // gbsa (libxtb) or alpb (the xtb program)
  std::string xtb_program = "xtb";        // alpb: the xtb executable, on PATH unless a path
  bool optimize = false;                  // relax the geometry with xtb before the properties
  int optimize_max_steps = 300;           // L-BFGS iterations of that relaxation
  bool ip_ea = false;                     // also vertical "ip" and "ea" (eV, IPEA-xTB)
  // mmff
  int conformers = 30;  // ETKDG conformers relaxed by MMFF94 in the conformer search
  // command: a user's program reads SMILES (or XYZ) on stdin and answers JSON on stdout
  std::vector<std::string> command;      // argv; the program and its arguments
  std::string command_input = "smiles";  // smiles | xyz
  std::vector<std::string> properties;   // what the program reports (command)
  double command_timeout_seconds = 600;  // per molecule; the program is killed after it
  // vina
  std::string receptor;                   // PDBQT file
  std::vector<double> box_center;         // x, y, z in Angstrom
  std::vector<double> box_size;           // x, y, z in Angstrom
  int exhaustiveness = 8;                 // Vina's search effort
  std::string vina_program = "vina";      // executable, found on PATH unless a path
  std::string obabel_program = "obabel";  // ligand preparation (protonation, PDBQT)
  double ph = 7.4;                        // protonation pH for the ligand
  // lookup
  std::string table;                          // CSV file of smiles,value
  std::string smiles_column;                  // empty: the column named like "smiles"
  std::string value_column;                   // empty: the first column that is not the SMILES
  std::string property = "value";             // the name the looked-up value is reported under
  std::vector<std::string> extra_properties;  // more columns, each reported under its own name

  Status Validate() const;
};

// The [simulator] table of a config (campaign or labloop-sim --config). Relative file paths
// resolve against `base_dir`. Every key is optional except `simulator.kind`.
Result<SimulatorOptions> ParseSimulatorOptions(const Config& config, const std::string& base_dir);
// The properties a back-end of these options reports (empty for lookup: whatever is asked of it),
// known without creating it; its Properties() says the same.
std::vector<std::string> PropertiesOf(const SimulatorOptions& options);
// The same options as a [simulator] TOML table (resolved paths), as a campaign file keeps them.
std::string SimulatorOptionsToToml(const SimulatorOptions& options, int threads);

class Simulator {
 public:
  virtual ~Simulator() = default;
  virtual std::string Kind() const = 0;
  // The properties a successful Run() reports.
  virtual std::vector<std::string> Properties() const = 0;
  virtual Result<SimulationSummary> Run(const std::string& smiles) const = 0;
};

using SimulatorRegistry = Registry<Simulator, const SimulatorOptions&>;

// One line per built-in back-end: xtb, mmff, vina, command, lookup.
void RegisterBuiltinSimulators(SimulatorRegistry& registry);

}  // namespace labloop::simulators
