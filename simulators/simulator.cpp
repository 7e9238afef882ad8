#include "simulators/simulator.h"

#include <sstream>

#include "simulators/command_simulator.h"
#include "simulators/lookup_simulator.h"
#include "simulators/mmff_simulator.h"
#include "simulators/vina_simulator.h"
#include "simulators/xtb_simulator.h"

namespace labloop::simulators {

Status SimulatorOptions::Validate() const {
  auto bad = [](const std::string& what) {
    return MakeError(ErrorCode::kInvalidArgument, "simulator option " + what);
  };
  if (xtb_method != "gfn2" && xtb_method != "gfn1") return bad("xtb_method must be gfn2 or gfn1");
  if (!(xtb_accuracy > 0 && xtb_accuracy <= 1000)) return bad("xtb_accuracy must be in (0, 1000]");
  if (xtb_max_iterations < 1) return bad("xtb_max_iterations must be at least 1");
  if (!(electronic_temperature > 0)) return bad("electronic_temperature must be positive");
  if (optimize_max_steps < 1) return bad("optimize_max_steps must be at least 1");
  if (conformers < 1) return bad("conformers must be at least 1");
  if (property.empty()) return bad("property must not be empty");
  if (command_input != "smiles" && command_input != "xyz") {
    return bad("command_input must be smiles or xyz");
  }
  if (exhaustiveness < 1) return bad("exhaustiveness must be at least 1");
  if (solvation != "gbsa" && solvation != "alpb") return bad("solvation must be gbsa or alpb");
  return {};
}

namespace {

// simulator.<key> as an int in [min, max], into `target`.
Status ReadInt(const Config& config, const std::string& key, int& target, int64_t min,
               int64_t max) {
  auto v = config.GetInt("simulator." + key, target, min, max);
  if (!v) return tl::unexpected(v.error());
  target = static_cast<int>(*v);
  return {};
}

Status ReadTriple(const Config& config, const std::string& key, std::vector<double>& target) {
  auto v = config.GetDoubleList("simulator." + key);
  if (!v) return tl::unexpected(v.error());
  if (!v->empty() && v->size() != 3) {
    return MakeError(ErrorCode::kInvalidArgument, config.Source() + ": key 'simulator." + key +
                                                      "' needs three numbers (x, y, z), got " +
                                                      std::to_string(v->size()));
  }
  target = *v;
  return {};
}

}  // namespace

Result<SimulatorOptions> ParseSimulatorOptions(const Config& config, const std::string& base_dir) {
  SimulatorOptions o;
  const std::vector<std::string> kinds = {"xtb", "mmff", "vina", "command", "lookup"};
  LABLOOP_ASSIGN(o.kind, config.GetEnum("simulator.kind", kinds, ""));
  if (o.kind.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     config.Source() +
                         ": key 'simulator.kind' is missing; allowed: xtb, mmff, vina, command, "
                         "lookup");
  }
  LABLOOP_TRY(ReadInt(config, "embed_seed", o.embed_seed, 0, INT32_MAX));
  // xtb
  LABLOOP_ASSIGN(o.xtb_method, config.GetEnum("simulator.method", {"gfn2", "gfn1"}, o.xtb_method));
  LABLOOP_ASSIGN(o.xtb_accuracy,
                 config.GetDouble("simulator.accuracy", o.xtb_accuracy, 1e-4, 1000));
  LABLOOP_TRY(ReadInt(config, "max_iterations", o.xtb_max_iterations, 1, 100000));
  LABLOOP_ASSIGN(o.electronic_temperature, config.GetDouble("simulator.electronic_temperature",
                                                            o.electronic_temperature, 1, 100000));
  LABLOOP_ASSIGN(o.solvent, config.GetString("simulator.solvent", ""));
  LABLOOP_ASSIGN(o.solvation, config.GetEnum("simulator.solvation", {"gbsa", "alpb"}, o.solvation));
  LABLOOP_ASSIGN(o.xtb_program, config.GetString("simulator.xtb", o.xtb_program));
  LABLOOP_ASSIGN(o.optimize, config.GetBool("simulator.optimize", o.optimize));
  LABLOOP_TRY(ReadInt(config, "optimize_max_steps", o.optimize_max_steps, 1, 100000));
  LABLOOP_ASSIGN(o.ip_ea, config.GetBool("simulator.ip_ea", o.ip_ea));
  // mmff
  LABLOOP_TRY(ReadInt(config, "conformers", o.conformers, 1, 10000));
  // command
  LABLOOP_ASSIGN(o.command, config.GetStringList("simulator.command"));
  if (!o.command.empty() && o.command[0].find('/') != std::string::npos) {
    o.command[0] = ResolvePath(o.command[0], base_dir);
  }
  LABLOOP_ASSIGN(o.command_input,
                 config.GetEnum("simulator.input", {"smiles", "xyz"}, o.command_input));
  LABLOOP_ASSIGN(o.properties, config.GetStringList("simulator.properties"));
  LABLOOP_ASSIGN(o.command_timeout_seconds,
                 config.GetDouble("simulator.timeout", o.command_timeout_seconds, 0.001, 1e7));
  if (o.kind == "command" && (o.command.empty() || o.properties.empty())) {
    return MakeError(ErrorCode::kInvalidArgument,
                     config.Source() + ": key 'simulator." +
                         (o.command.empty() ? "command" : "properties") +
                         "' is missing; the command simulator needs the program to run and the "
                         "properties its JSON answer holds");
  }
  // vina
  std::string path;
  LABLOOP_ASSIGN(path, config.GetString("simulator.receptor", ""));
  o.receptor = ResolvePath(path, base_dir);
  LABLOOP_TRY(ReadTriple(config, "center", o.box_center));
  LABLOOP_TRY(ReadTriple(config, "size", o.box_size));
  LABLOOP_TRY(ReadInt(config, "exhaustiveness", o.exhaustiveness, 1, 1024));
  LABLOOP_ASSIGN(o.vina_program, config.GetString("simulator.vina", o.vina_program));
  LABLOOP_ASSIGN(o.obabel_program, config.GetString("simulator.obabel", o.obabel_program));
  LABLOOP_ASSIGN(o.ph, config.GetDouble("simulator.ph", o.ph, 0, 14));
  if (o.kind == "vina" && (o.receptor.empty() || o.box_center.empty() || o.box_size.empty())) {
    return MakeError(ErrorCode::kInvalidArgument,
                     config.Source() +
                         ": the vina simulator needs 'simulator.receptor' (a PDBQT file), "
                         "'simulator.center' and 'simulator.size' (the search box, Angstrom)");
  }
  // lookup
  LABLOOP_ASSIGN(path, config.GetString("simulator.table", ""));
  o.table = ResolvePath(path, base_dir);
  LABLOOP_ASSIGN(o.smiles_column, config.GetString("simulator.smiles_column", ""));
  LABLOOP_ASSIGN(o.value_column, config.GetString("simulator.value_column", ""));
  LABLOOP_ASSIGN(o.property, config.GetString("simulator.property", o.property));
  LABLOOP_ASSIGN(o.extra_properties, config.GetStringList("simulator.extra_properties"));
  if (o.kind == "lookup" && o.table.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     config.Source() +
                         ": key 'simulator.table' is missing; the lookup simulator "
                         "needs a CSV of smiles,value");
  }
  if (auto valid = o.Validate(); !valid) {
    return MakeError(ErrorCode::kInvalidArgument, config.Source() + ": " + valid.error().message);
  }
  return o;
}

std::vector<std::string> PropertiesOf(const SimulatorOptions& options) {
  if (options.kind == "xtb") {
    std::vector<std::string> names{"energy", "gap", "dipole"};
    if (options.ip_ea) names.insert(names.end(), {"ip", "ea"});
    return names;
  }
  if (options.kind == "mmff") return {"mmff_energy", "strain_energy"};
  if (options.kind == "vina") return {"vina_score", "ligand_efficiency"};
  if (options.kind == "command") return options.properties;
  return {};
}

std::string SimulatorOptionsToToml(const SimulatorOptions& o, int threads) {
  std::ostringstream out;
  out << "[simulator]\nkind = " << TomlString(o.kind) << "\nthreads = " << threads
      << "\nembed_seed = " << o.embed_seed << "\nmethod = " << TomlString(o.xtb_method)
      << "\naccuracy = " << TomlFloat(o.xtb_accuracy)
      << "\nmax_iterations = " << o.xtb_max_iterations
      << "\nelectronic_temperature = " << TomlFloat(o.electronic_temperature)
      << "\nsolvent = " << TomlString(o.solvent) << "\nsolvation = " << TomlString(o.solvation)
      << "\nxtb = " << TomlString(o.xtb_program)
      << "\noptimize = " << (o.optimize ? "true" : "false")
      << "\noptimize_max_steps = " << o.optimize_max_steps
      << "\nip_ea = " << (o.ip_ea ? "true" : "false") << "\nconformers = " << o.conformers << "\n";
  if (!o.command.empty()) {
    out << "command = " << TomlList(o.command) << "\ninput = " << TomlString(o.command_input)
        << "\nproperties = " << TomlList(o.properties)
        << "\ntimeout = " << TomlFloat(o.command_timeout_seconds) << "\n";
  }
  if (!o.receptor.empty()) {
    out << "receptor = " << TomlString(o.receptor) << "\ncenter = " << TomlList(o.box_center)
        << "\nsize = " << TomlList(o.box_size) << "\nexhaustiveness = " << o.exhaustiveness
        << "\nvina = " << TomlString(o.vina_program)
        << "\nobabel = " << TomlString(o.obabel_program) << "\nph = " << TomlFloat(o.ph) << "\n";
  }
  if (!o.table.empty()) out << "table = " << TomlString(o.table) << "\n";
  if (o.kind == "lookup") {
    out << "property = " << TomlString(o.property)
        << "\nextra_properties = " << TomlList(o.extra_properties) << "\n";
  }
  if (!o.smiles_column.empty()) out << "smiles_column = " << TomlString(o.smiles_column) << "\n";
  if (!o.value_column.empty()) out << "value_column = " << TomlString(o.value_column) << "\n";
  return out.str();
}

void RegisterBuiltinSimulators(SimulatorRegistry& registry) {
  registry.Register("xtb", CreateXtbSimulator);
  registry.Register("mmff", CreateMmffSimulator);
  registry.Register("vina", CreateVinaSimulator);
  registry.Register("command", CreateCommandSimulator);
  registry.Register("lookup", CreateLookupSimulator);
}

}  // namespace labloop::simulators
