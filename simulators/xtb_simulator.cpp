#include "simulators/xtb_simulator.h"

#include <omp.h>
#include <xtb.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <vector>

#include "core/chem/geometry.h"
#include "core/chem/molecule.h"

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

class XtbSimulator final : public Simulator {
 public:
  explicit XtbSimulator(const SimulatorOptions& options) : options_(options) {}
  std::string Kind() const override { return "xtb"; }
  std::vector<std::string> Properties() const override { return {"energy", "gap", "dipole"}; }

  Result<SimulationSummary> Run(const std::string& smiles) const override {
    auto start = std::chrono::steady_clock::now();
    // libgomp read OMP_NUM_THREADS when it was loaded, before main could set it, and a thread's
    // team size is its own: set it here, on the thread that runs xtb. One thread a task (or
    // OMP_NUM_THREADS when the user set it): parallelism comes from tasks, and on molecules this
    // small xtb's OpenMP threads only oversubscribe the cores.
    omp_set_num_threads(XtbThreads());
    auto molecule = chem::Molecule::FromSmiles(smiles);
    if (!molecule) return tl::unexpected(molecule.error());
    chem::EmbedOptions embed;
    embed.seed = options_.embed_seed;
    auto geometry = chem::Embed3D(*molecule, embed);
    if (!geometry) return tl::unexpected(geometry.error());

    const int natoms = geometry->AtomCount();
    std::vector<double> bohr(geometry->xyz_angstrom.size());
    for (size_t i = 0; i < bohr.size(); ++i) bohr[i] = geometry->xyz_angstrom[i] * kBohrPerAngstrom;
    const double charge = geometry->charge;
    const int uhf = geometry->unpaired_electrons;

    XtbCalculation xtb;
    std::string error;
    xtb_setVerbosity(xtb.env, XTB_VERBOSITY_MUTED);
    xtb.mol = xtb_newMolecule(xtb.env, &natoms, geometry->atomic_numbers.data(), bohr.data(),
                              &charge, &uhf, nullptr, nullptr);
    if (xtb.Failed(error)) return Fail("xtb rejected the molecule: " + error);
    xtb_loadGFN2xTB(xtb.env, xtb.mol, xtb.calc, nullptr);
    if (xtb.Failed(error)) return Fail("xtb could not set up GFN2-xTB: " + error);
    xtb_setAccuracy(xtb.env, xtb.calc, options_.xtb_accuracy);
    xtb_setMaxIter(xtb.env, xtb.calc, options_.xtb_max_iterations);
    xtb_setElectronicTemp(xtb.env, xtb.calc, options_.electronic_temperature);
    xtb_singlepoint(xtb.env, xtb.mol, xtb.calc, xtb.res);
    if (xtb.Failed(error)) return Fail("xtb single point failed: " + error);

    double energy = 0;
    double dipole[3] = {0, 0, 0};
    int nao = 0;
    xtb_getEnergy(xtb.env, xtb.res, &energy);
    xtb_getDipole(xtb.env, xtb.res, dipole);
    xtb_getNao(xtb.env, xtb.res, &nao);
    std::vector<double> eigenvalues(nao), occupations(nao);
    xtb_getOrbitalEigenvalues(xtb.env, xtb.res, eigenvalues.data());
    xtb_getOrbitalOccupations(xtb.env, xtb.res, occupations.data());
    if (xtb.Failed(error)) return Fail("xtb results unreadable: " + error);
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
    summary.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::ostringstream raw;
    raw << "{\"method\":\"GFN2-xTB\",\"atoms\":" << natoms << ",\"charge\":" << geometry->charge
        << ",\"uhf\":" << uhf << ",\"force_field\":\"" << geometry->force_field
        << "\",\"force_field_converged\":" << (geometry->force_field_converged ? "true" : "false")
        << ",\"embed_attempts\":" << geometry->attempts << ",\"embedded_isomer\":\""
        << geometry->embedded_isomer << "\""
        << ",\"homo_ev\":" << eigenvalues[homo] * kEvPerHartree
        << ",\"lumo_ev\":" << eigenvalues[homo + 1] * kEvPerHartree
        << ",\"seconds\":" << summary.seconds << "}";
    summary.raw_json = raw.str();
    return summary;
  }

 private:
  static Result<SimulationSummary> Fail(const std::string& message) {
    return MakeError(ErrorCode::kAborted, message);
  }
  SimulatorOptions options_;
};

}  // namespace

Result<std::unique_ptr<Simulator>> CreateXtbSimulator(const SimulatorOptions& options) {
  if (auto valid = options.Validate(); !valid) return tl::unexpected(valid.error());
  return std::unique_ptr<Simulator>(new XtbSimulator(options));
}

}  // namespace labloop::simulators
