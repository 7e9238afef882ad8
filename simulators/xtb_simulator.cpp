#include "simulators/xtb_simulator.h"

#include <omp.h>
#include <xtb.h>

#include <ceres/gradient_problem.h>
#include <ceres/gradient_problem_solver.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

#include "core/chem/geometry.h"
#include "core/chem/molecule.h"
#include "simulators/external_process.h"
#include "simulators/standard_geometry.h"

namespace labloop::simulators {

namespace {

int XtbThreads() {
  static const int threads = [] {
    const char* value = std::getenv("OMP_NUM_THREADS");
    int n = value != nullptr ? std::atoi(value) : 1;
    return n > 0 ? n : 1;
  }();
  return threads;
}

constexpr double kBohrPerAngstrom = 1.0 / 0.52917721067;
constexpr double kEvPerHartree = 27.211386245988;
constexpr double kDebyePerAtomicUnit = 2.541746473;

// Owns the xtb handles of one calculation.
struct XtbCalculation {
  xtb_TEnvironment env = xtb_newEnvironment();
  xtb_TCalculator calc = xtb_newCalculator();
  xtb_TResults res = xtb_newResults();
  xtb_TMolecule mol = nullptr;
  ~XtbCalculation() {
    xtb_delResults(&res);
    xtb_delCalculator(&calc);
    if (mol) xtb_delMolecule(&mol);
    xtb_delEnvironment(&env);
  }
  // The pending xtb error, if any, as text.
  bool Failed(std::string& message) {
    if (xtb_checkEnvironment(env) == 0) return false;
    char buffer[1024] = {0};
    int size = sizeof(buffer);
    xtb_getError(env, buffer, &size);
    message = buffer;
    while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
      message.pop_back();
    return true;
  }
};

// Where xtb's parameter files are: $XTBPATH (xtb's own variable), else Debian's folder.
std::string XtbParameterFolder() {
  const char* path = std::getenv("XTBPATH");
  return path != nullptr && *path ? path : "/usr/share/xtb";
}

std::string XtbParameterFile(const std::string& name) { return XtbParameterFolder() + "/" + name; }

// xtb's empirical shift of ΔSCC ionization potentials and electron affinities with the IPEA-xTB
// parameters (what `xtb --vipea` prints as "empirical IP shift (eV): 4.8455").
constexpr double kIpeaShiftEv = 4.8455;

// The coordinates (Å) of an XYZ file of `atoms` atoms, 3 per atom in file order; or what is wrong.
tl::expected<std::vector<double>, std::string> ReadXyzCoordinates(const std::string& path,
                                                                  int atoms) {
  std::ifstream in(path);
  if (!in) return tl::unexpected("cannot read '" + path + "'");
  int count = 0;
  std::string line;
  if (!(in >> count) || count != atoms) {
    return tl::unexpected("'" + path + "' has " + std::to_string(count) + " atoms, not " +
                          std::to_string(atoms));
  }
  std::getline(in, line);  // the rest of the count line
  std::getline(in, line);  // the comment
  std::vector<double> xyz;
  for (int i = 0; i < atoms; ++i) {
    std::string element;
    double x = 0, y = 0, z = 0;
    if (!(in >> element >> x >> y >> z) || !std::isfinite(x) || !std::isfinite(y) ||
        !std::isfinite(z)) {
      return tl::unexpected("'" + path + "' atom " + std::to_string(i + 1) + " is unreadable");
    }
    xyz.insert(xyz.end(), {x, y, z});
  }
  return xyz;
}

struct Structure {
  int natoms = 0;
  std::vector<int> numbers;
  std::vector<double> bohr;
  double charge = 0;
  int uhf = 0;

  static Structure Of(const chem::Geometry& g) {
    Structure s;
    s.natoms = g.AtomCount();
    s.numbers = g.atomic_numbers;
    for (double v : g.xyz_angstrom) s.bohr.push_back(v * kBohrPerAngstrom);
    s.charge = g.charge;
    s.uhf = g.unpaired_electrons;
    return s;
  }
};

// One xtb calculator on one structure: set up once, then single points as coordinates move.
class XtbCalculator {
 public:
  // `parameters` empty: the method's built-in parameters.
  Status Setup(const Structure& s, const SimulatorOptions& options, const std::string& method,
               const std::string& parameters, bool solvate) {
    std::string error;
    xtb_setVerbosity(xtb_.env, XTB_VERBOSITY_MUTED);
    xtb_.mol = xtb_newMolecule(xtb_.env, &s.natoms, s.numbers.data(), s.bohr.data(), &s.charge,
                               &s.uhf, nullptr, nullptr);
    if (xtb_.Failed(error)) return Fail("xtb rejected the molecule: " + error);
    std::vector<char> file(parameters.begin(), parameters.end());
    file.push_back('\0');
    char* param = parameters.empty() ? nullptr : file.data();
    if (method == "gfn1") {
      xtb_loadGFN1xTB(xtb_.env, xtb_.mol, xtb_.calc, param);
    } else {
      xtb_loadGFN2xTB(xtb_.env, xtb_.mol, xtb_.calc, param);
    }
    if (xtb_.Failed(error)) return Fail("xtb could not set up " + method + ": " + error);
    xtb_setAccuracy(xtb_.env, xtb_.calc, options.xtb_accuracy);
    xtb_setMaxIter(xtb_.env, xtb_.calc, options.xtb_max_iterations);
    xtb_setElectronicTemp(xtb_.env, xtb_.calc, options.electronic_temperature);
    if (solvate && !options.solvent.empty()) {
      std::vector<char> solvent(options.solvent.begin(), options.solvent.end());
      solvent.push_back('\0');
      int state = 1;  // xtb's default reference state (1 M gas / 1 M solution)
      double temperature = 298.15;
      int grid = 230;  // Lebedev points of the SASA grid, xtb's default
      xtb_setSolvent(xtb_.env, xtb_.calc, solvent.data(), &state, &temperature, &grid);
      if (xtb_.Failed(error)) {
        return Fail("xtb has no GBSA parameters for solvent '" + options.solvent + "': " + error);
      }
    }
    return {};
  }

  Status SinglePoint(const std::string& what) {
    std::string error;
    xtb_singlepoint(xtb_.env, xtb_.mol, xtb_.calc, xtb_.res);
    if (xtb_.Failed(error)) return Fail("xtb " + what + " failed: " + error);
    return {};
  }

  Status Move(const double* bohr) {
    std::string error;
    xtb_updateMolecule(xtb_.env, xtb_.mol, bohr, nullptr);
    if (xtb_.Failed(error)) return Fail("xtb could not move the atoms: " + error);
    return {};
  }

  double Energy() {
    double energy = 0;
    xtb_getEnergy(xtb_.env, xtb_.res, &energy);
    return energy;
  }
  void Gradient(double* gradient) { xtb_getGradient(xtb_.env, xtb_.res, gradient); }
  XtbCalculation& handles() { return xtb_; }

 private:
  static tl::unexpected<Error> Fail(const std::string& message) {
    return MakeError(ErrorCode::kAborted, message);
  }
  XtbCalculation xtb_;
};

// The xtb energy surface for Ceres: E(x) and dE/dx in Hartree and bohr. A failed SCF makes the
// point infeasible, and the line search steps back.
class XtbSurface final : public ceres::FirstOrderFunction {
 public:
  // `calculator` is set up on `structure`; after a failed SCF it is set up afresh (xtb keeps an
  // error in its environment, and every later call would fail on it).
  XtbSurface(std::unique_ptr<XtbCalculator>& calculator, const Structure& structure,
             const SimulatorOptions& options)
      : calculator_(calculator), structure_(structure), options_(options) {}
  int NumParameters() const override { return 3 * structure_.natoms; }
  bool Evaluate(const double* x, double* cost, double* gradient) const override {
    ++evaluations;
    if (!calculator_->Move(x) || !calculator_->SinglePoint("gradient")) {
      ++failures;
      Structure moved = structure_;
      moved.bohr.assign(x, x + 3 * structure_.natoms);
      auto fresh = std::make_unique<XtbCalculator>();
      if (fresh->Setup(moved, options_, options_.xtb_method, "", /*solvate=*/true)) {
        calculator_ = std::move(fresh);
      }
      return false;  // this point is infeasible: the line search steps back
    }
    *cost = calculator_->Energy();
    if (gradient != nullptr) calculator_->Gradient(gradient);
    return std::isfinite(*cost);
  }
  mutable int evaluations = 0, failures = 0;

 private:
  std::unique_ptr<XtbCalculator>& calculator_;
  const Structure& structure_;
  const SimulatorOptions& options_;
};

class XtbSimulator final : public Simulator {
 public:
  explicit XtbSimulator(const SimulatorOptions& options) : options_(options) {}
  std::string Kind() const override { return "xtb"; }
  std::vector<std::string> Properties() const override { return PropertiesOf(options_); }

  Result<SimulationSummary> Run(const std::string& smiles) const override {
    auto start = std::chrono::steady_clock::now();
    // libgomp read OMP_NUM_THREADS when it was loaded, before main could set it, and a thread's
    // team size is its own: set it here, on the thread that runs xtb. One thread a task (or
    // OMP_NUM_THREADS when the user set it): parallelism comes from tasks, and on molecules this
    // small xtb's OpenMP threads only oversubscribe the cores.
    omp_set_num_threads(XtbThreads());
    auto molecule = chem::Molecule::FromSmiles(smiles);
    if (!molecule) return tl::unexpected(molecule.error());
    auto geometry = StandardGeometry(*molecule, options_);
    if (!geometry) return tl::unexpected(geometry.error());

    if (options_.solvation == "alpb" && !options_.solvent.empty()) {
      return RunProgram(*geometry, start);
    }

    Structure s = Structure::Of(*geometry);

    auto calculator = std::make_unique<XtbCalculator>();
    LABLOOP_TRY(calculator->Setup(s, options_, options_.xtb_method, "", /*solvate=*/true));
    nlohmann::json raw;
    if (options_.optimize) {
      XtbSurface* surface = new XtbSurface(calculator, s, options_);  // owned by the problem
      ceres::GradientProblem problem(surface);
      ceres::GradientProblemSolver::Options solver;
      solver.line_search_direction_type = ceres::LBFGS;
      solver.max_num_iterations = options_.optimize_max_steps;
      solver.gradient_tolerance = 1e-3;  // Eh/bohr, largest component
      solver.function_tolerance = 1e-10;
      solver.parameter_tolerance = 1e-8;
      solver.logging_type = ceres::SILENT;
      ceres::GradientProblemSolver::Summary summary;
      double initial = 0;
      if (calculator->SinglePoint("single point")) initial = calculator->Energy();
      ceres::Solve(solver, problem, s.bohr.data(), &summary);
      if (summary.termination_type == ceres::FAILURE || !std::isfinite(summary.final_cost)) {
        return Fail("xtb geometry optimization failed: " + summary.message);
      }
      // The solution, in a calculator without a pending error.
      calculator = std::make_unique<XtbCalculator>();
      LABLOOP_TRY(calculator->Setup(s, options_, options_.xtb_method, "", /*solvate=*/true));
      std::vector<double> angstrom(s.bohr.size());
      for (size_t i = 0; i < s.bohr.size(); ++i) angstrom[i] = s.bohr[i] / kBohrPerAngstrom;
      // A relaxation that breaks or makes a bond computed another molecule: say so.
      raw["connectivity_change"] = chem::ConnectivityChange(*geometry, angstrom);
      raw["optimization"] = {{"iterations", summary.iterations.size()},
                             {"evaluations", surface->evaluations},
                             {"failed_evaluations", surface->failures},
                             {"converged", summary.termination_type == ceres::CONVERGENCE},
                             {"relaxation_energy_eh", summary.final_cost - initial},
                             {"message", summary.message}};
    }
    LABLOOP_TRY(calculator->SinglePoint("single point"));

    std::string error;
    auto& h = calculator->handles();
    double energy = 0;
    double dipole[3] = {0, 0, 0};
    int nao = 0;
    xtb_getEnergy(h.env, h.res, &energy);
    xtb_getDipole(h.env, h.res, dipole);
    xtb_getNao(h.env, h.res, &nao);
    if (h.Failed(error) || nao <= 0) return Fail("xtb results unreadable: " + error);
    std::vector<double> eigenvalues(nao), occupations(nao);
    xtb_getOrbitalEigenvalues(h.env, h.res, eigenvalues.data());
    xtb_getOrbitalOccupations(h.env, h.res, occupations.data());
    if (h.Failed(error)) return Fail("xtb results unreadable: " + error);
    int homo = -1;
    for (int i = 0; i < nao; ++i) {
      if (occupations[i] > 0.5) homo = i;
    }
    if (homo < 0 || homo + 1 >= nao) return Fail("no homo/lumo pair in the xtb orbitals");
    if (!std::isfinite(energy)) return Fail("xtb returned a non-finite energy");

    SimulationSummary summary;
    summary.properties["energy"] = energy;
    summary.properties["gap"] = (eigenvalues[homo + 1] - eigenvalues[homo]) * kEvPerHartree;
    summary.properties["dipole"] =
        std::sqrt(dipole[0] * dipole[0] + dipole[1] * dipole[1] + dipole[2] * dipole[2]) *
        kDebyePerAtomicUnit;
    if (options_.ip_ea) {
      auto ipea = VerticalIpEa(s);
      if (!ipea) return tl::unexpected(ipea.error());
      summary.properties["ip"] = ipea->first;
      summary.properties["ea"] = ipea->second;
    }
    summary.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    raw["method"] = options_.xtb_method == "gfn1" ? "GFN1-xTB" : "GFN2-xTB";
    raw["solvation"] = options_.solvent.empty() ? "gas" : "GBSA(" + options_.solvent + ")";
    raw["atoms"] = s.natoms;
    raw["charge"] = geometry->charge;
    raw["uhf"] = s.uhf;
    raw["force_field"] = geometry->force_field;
    raw["force_field_converged"] = geometry->force_field_converged;
    raw["embed_attempts"] = geometry->attempts;
    raw["embedded_isomer"] = geometry->embedded_isomer;
    raw["homo_ev"] = eigenvalues[homo] * kEvPerHartree;
    raw["lumo_ev"] = eigenvalues[homo + 1] * kEvPerHartree;
    raw["seconds"] = summary.seconds;
    // The geometry computed on (after the optimization, when there was one), with its elements.
    std::vector<double> angstrom(s.bohr.size());
    for (size_t i = 0; i < s.bohr.size(); ++i) angstrom[i] = s.bohr[i] / kBohrPerAngstrom;
    raw["atomic_numbers"] = s.numbers;
    raw["xyz_angstrom"] = angstrom;
    summary.raw_json = raw.dump();
    return summary;
  }

 private:
  // ALPB solvation is not in libxtb 6.5's C API: the xtb program computes it, in a scratch folder,
  // with the same method, options and geometry (and its own ANCopt optimizer when `optimize`).
  Result<SimulationSummary> RunProgram(const chem::Geometry& geometry,
                                       std::chrono::steady_clock::time_point start) const {
    ScratchDir scratch("labloop-xtb");
    if (scratch.path().empty()) return Fail("cannot create a scratch folder for the xtb program");
    const std::string dir = scratch.path();
    std::ofstream(dir + "/mol.xyz") << geometry.ToXyz("labloop");
    std::vector<std::string> argv = {"/usr/bin/env",
                                     "OMP_NUM_THREADS=" + std::to_string(XtbThreads()),
                                     "XTBPATH=" + XtbParameterFolder(),
                                     options_.xtb_program,
                                     "mol.xyz",
                                     "--gfn",
                                     options_.xtb_method == "gfn1" ? "1" : "2",
                                     "--chrg",
                                     std::to_string(geometry.charge),
                                     "--uhf",
                                     std::to_string(geometry.unpaired_electrons),
                                     "--alpb",
                                     options_.solvent,
                                     "--acc",
                                     std::to_string(options_.xtb_accuracy),
                                     "--etemp",
                                     std::to_string(options_.electronic_temperature),
                                     "--iterations",
                                     std::to_string(options_.xtb_max_iterations)};
    if (options_.optimize) argv.push_back("--opt");
    ProcessOptions process;
    process.working_directory = dir;
    process.timeout_seconds = options_.command_timeout_seconds;
    auto ran = RunProcess(argv, process);
    if (!ran) return tl::unexpected(ran.error());
    const std::string& out = ran->out;
    // xtb reports its end ("normal termination") on stderr, the results on stdout.
    if (ran->exit_code != 0 || ran->err.find("normal termination of xtb") == std::string::npos) {
      return Fail("the xtb program failed: " + DescribeFailure(*ran));
    }
    // The last of each: after an optimization, the final geometry's.
    auto last_number = [&](const std::string& label) -> std::optional<double> {
      auto at = out.rfind(label);
      if (at == std::string::npos) return std::nullopt;
      return std::strtod(out.c_str() + at + label.size(), nullptr);
    };
    auto energy = last_number("TOTAL ENERGY");
    auto gap = last_number("HOMO-LUMO GAP");
    std::optional<double> dipole;
    if (auto block = out.rfind("molecular dipole:"); block != std::string::npos) {
      auto full = out.find("full:", block);
      if (full != std::string::npos) {
        std::istringstream fields(out.substr(full + 5, out.find('\n', full) - full - 5));
        double x = 0, y = 0, z = 0, total = 0;
        if (fields >> x >> y >> z >> total) dipole = total;
      }
    }
    if (!energy || !gap || !dipole || !std::isfinite(*energy)) {
      return Fail("the xtb program's output has no total energy, gap or dipole");
    }
    // The geometry the figures are of: xtb's optimized one (xtbopt.xyz, Å, the same atoms in
    // the same order) when it optimized.
    chem::Geometry final_geometry = geometry;
    if (options_.optimize) {
      auto optimized = ReadXyzCoordinates(dir + "/xtbopt.xyz", geometry.AtomCount());
      if (!optimized) return Fail("the xtb program's optimized geometry: " + optimized.error());
      final_geometry.xyz_angstrom = std::move(optimized.value());
    }
    SimulationSummary summary;
    summary.properties["energy"] = *energy;
    summary.properties["gap"] = *gap;
    summary.properties["dipole"] = *dipole;
    if (options_.ip_ea) {
      auto ipea = VerticalIpEa(Structure::Of(final_geometry));
      if (!ipea) return tl::unexpected(ipea.error());
      summary.properties["ip"] = ipea->first;
      summary.properties["ea"] = ipea->second;
    }
    summary.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    nlohmann::json raw = {{"method", options_.xtb_method == "gfn1" ? "GFN1-xTB" : "GFN2-xTB"},
                          {"solvation", "ALPB(" + options_.solvent + ")"},
                          {"program", options_.xtb_program},
                          {"optimized", options_.optimize},
                          {"atoms", geometry.AtomCount()},
                          {"charge", geometry.charge},
                          {"uhf", geometry.unpaired_electrons},
                          {"seconds", summary.seconds},
                          {"atomic_numbers", final_geometry.atomic_numbers},
                          {"xyz_angstrom", final_geometry.xyz_angstrom}};
    if (options_.optimize) {
      // A relaxation that breaks or makes a bond computed another molecule: say so.
      raw["connectivity_change"] = chem::ConnectivityChange(geometry, final_geometry.xyz_angstrom);
    }
    summary.raw_json = raw.dump();
    return summary;
  }

  // IP = E(N-1) - E(N) and EA = E(N) - E(N+1) with the IPEA-xTB parameters, less xtb's shift.
  Result<std::pair<double, double>> VerticalIpEa(const Structure& neutral) const {
    const std::string parameters = XtbParameterFile("param_ipea-xtb.txt");
    if (!std::ifstream(parameters)) {
      return Fail("ip_ea needs xtb's IPEA-xTB parameters, not found at '" + parameters +
                  "' (set XTBPATH to xtb's parameter folder)");
    }
    double energies[3] = {0, 0, 0};
    for (int k = 0; k < 3; ++k) {
      Structure s = neutral;
      s.charge = neutral.charge + (k - 1);  // anion, neutral, cation
      if (k != 1) s.uhf = neutral.uhf > 0 ? neutral.uhf - 1 : 1;
      XtbCalculator xtb;
      LABLOOP_TRY(xtb.Setup(s, options_, "gfn1", parameters, /*solvate=*/false));
      LABLOOP_TRY(xtb.SinglePoint(k == 0   ? "anion single point"
                                  : k == 1 ? "IPEA single point"
                                           : "cation single point"));
      energies[k] = xtb.Energy();
    }
    double ip = (energies[2] - energies[1]) * kEvPerHartree - kIpeaShiftEv;
    double ea = (energies[1] - energies[0]) * kEvPerHartree - kIpeaShiftEv;
    if (!std::isfinite(ip) || !std::isfinite(ea)) return Fail("xtb returned a non-finite IP/EA");
    return std::make_pair(ip, ea);
  }

  static tl::unexpected<Error> Fail(const std::string& message) {
    return MakeError(ErrorCode::kAborted, message);
  }
  SimulatorOptions options_;
};

}  // namespace

Result<std::unique_ptr<Simulator>> CreateXtbSimulator(const SimulatorOptions& options) {
  if (auto valid = options.Validate(); !valid) return tl::unexpected(valid.error());
  return std::unique_ptr<Simulator>(new XtbSimulator(options));
}

Result<double> XtbFreeAtomEnergy(int atomic_number, const SimulatorOptions& options) {
  // Unpaired electrons of the ground state, H to Ar.
  static const int kUnpaired[] = {0, 1, 0, 1, 0, 1, 2, 3, 2, 1, 0, 1, 0, 1, 2, 3, 2, 1, 0};
  if (atomic_number < 1 || atomic_number > 18) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "no ground-state spin for element " + std::to_string(atomic_number));
  }
  omp_set_num_threads(XtbThreads());
  Structure atom;
  atom.natoms = 1;
  atom.numbers = {atomic_number};
  atom.bohr = {0, 0, 0};
  atom.uhf = kUnpaired[atomic_number];
  XtbCalculator xtb;
  LABLOOP_TRY(xtb.Setup(atom, options, options.xtb_method, "", /*solvate=*/true));
  LABLOOP_TRY(xtb.SinglePoint("atom single point"));
  return xtb.Energy();
}

}  // namespace labloop::simulators
