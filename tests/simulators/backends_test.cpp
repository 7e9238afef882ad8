// The xtb options, MMFF, Vina and external-command back-ends, checked against the programs
// themselves where they exist: the xtb executable for IP/EA, solvation and optimization.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

#include "simulators/external_process.h"
#include "simulators/simulator.h"
#include "simulators/xtb_simulator.h"
#include "tests/support/temp_dir.h"

using namespace labloop;
using namespace labloop::simulators;
using json = nlohmann::json;

namespace {

// The geometry a run computed on, as an XYZ file.
std::string XyzOf(const SimulationSummary& summary) {
  static const char* kSymbols[] = {"X", "H", "He", "Li", "Be", "B", "C", "N", "O", "F"};
  auto raw = json::parse(summary.raw_json);
  auto z = raw["atomic_numbers"].get<std::vector<int>>();
  auto xyz = raw["xyz_angstrom"].get<std::vector<double>>();
  std::ostringstream out;
  out.precision(12);
  out << z.size() << "\n\n";
  for (size_t i = 0; i < z.size(); ++i) {
    out << kSymbols[z[i]] << " " << xyz[3 * i] << " " << xyz[3 * i + 1] << " " << xyz[3 * i + 2]
        << "\n";
  }
  return out.str();
}

// Runs the xtb program on `xyz` with `flags`; its stdout.
std::string RunXtbProgram(const testing::TempDir& dir, const std::string& xyz,
                          std::vector<std::string> flags) {
  std::string file = dir.Write("mol.xyz", xyz);
  std::vector<std::string> argv = {"/usr/bin/env", "OMP_NUM_THREADS=1", "XTBPATH=/usr/share/xtb",
                                   "xtb", file};
  argv.insert(argv.end(), flags.begin(), flags.end());
  ProcessOptions options;
  options.working_directory = dir.path();
  options.timeout_seconds = 120;
  auto ran = RunProcess(argv, options);
  REQUIRE(ran);
  INFO(ran->err);
  REQUIRE(ran->exit_code == 0);
  return ran->out;
}

double Field(const std::string& text, const std::string& pattern) {
  std::smatch m;
  REQUIRE(std::regex_search(text, m, std::regex(pattern)));
  return std::stod(m[1]);
}

bool HaveProgram(const std::string& name) { return static_cast<bool>(FindProgram(name)); }

}  // namespace

TEST_CASE("xtb IP and EA agree with the xtb program's --vipea", "[integration]") {
  REQUIRE(HaveProgram("xtb"));  // Debian package xtb, from scripts/install-deps
  testing::TempDir dir;
  SimulatorOptions options;
  options.ip_ea = true;
  auto xtb = CreateXtbSimulator(options);
  REQUIRE(xtb);
  CHECK((*xtb)->Properties() == std::vector<std::string>{"energy", "gap", "dipole", "ip", "ea"});
  for (const std::string smiles : {"O", "c1ccccc1O"}) {
    INFO(smiles);
    auto ours = (*xtb)->Run(smiles);
    REQUIRE(ours);
    std::string out = RunXtbProgram(dir, XyzOf(*ours), {"--vipea"});
    CHECK(ours->properties.at("ip") ==
          Approx(Field(out, R"(delta SCC IP \(eV\):\s+(-?[0-9.]+))")).margin(2e-3));
    CHECK(ours->properties.at("ea") ==
          Approx(Field(out, R"(delta SCC EA \(eV\):\s+(-?[0-9.]+))")).margin(2e-3));
  }
}

TEST_CASE("xtb in a GBSA solvent agrees with the xtb program's --gbsa", "[integration]") {
  REQUIRE(HaveProgram("xtb"));  // Debian package xtb, from scripts/install-deps
  testing::TempDir dir;
  SimulatorOptions gas, water;
  water.solvent = "water";
  auto in_gas = (*CreateXtbSimulator(gas))->Run("CC(=O)O");
  auto in_water = (*CreateXtbSimulator(water))->Run("CC(=O)O");
  REQUIRE(in_gas);
  REQUIRE(in_water);
  CHECK(in_water->properties.at("energy") < in_gas->properties.at("energy"));  // solvation
  std::string out = RunXtbProgram(dir, XyzOf(*in_water), {"--gbsa", "water"});
  CHECK(in_water->properties.at("energy") ==
        Approx(Field(out, R"(TOTAL ENERGY\s+(-?[0-9.]+) Eh)")).margin(1e-6));
  SimulatorOptions unknown;
  unknown.solvent = "liquid unobtainium";
  auto bad = (*CreateXtbSimulator(unknown))->Run("CCO");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("liquid unobtainium") != std::string::npos);
}

TEST_CASE("xtb geometry optimization reaches the xtb program's minimum", "[integration]") {
  REQUIRE(HaveProgram("xtb"));  // Debian package xtb, from scripts/install-deps
  testing::TempDir dir;
  SimulatorOptions single, optimize;
  optimize.optimize = true;
  auto before = (*CreateXtbSimulator(single))->Run("CCOC(=O)C");
  auto after = (*CreateXtbSimulator(optimize))->Run("CCOC(=O)C");
  REQUIRE(before);
  REQUIRE(after);
  auto raw = json::parse(after->raw_json);
  CHECK(raw["optimization"]["converged"].get<bool>());
  CHECK(raw["optimization"]["relaxation_energy_eh"].get<double>() < 0);
  CHECK(after->properties.at("energy") < before->properties.at("energy"));
  // xtb's own optimizer (ANCopt) from our starting geometry ends in the same minimum.
  std::string out = RunXtbProgram(dir, XyzOf(*before), {"--opt"});
  CHECK(after->properties.at("energy") ==
        Approx(Field(out, R"(TOTAL ENERGY\s+(-?[0-9.]+) Eh)")).margin(2e-5));
}

TEST_CASE("MMFF conformer search finds the minimum and the strain of one embedding",
          "[integration]") {
  SimulatorRegistry registry("simulator");
  RegisterBuiltinSimulators(registry);
  SimulatorOptions options;
  options.kind = "mmff";
  auto mmff = registry.Create("mmff", options);
  REQUIRE(mmff);
  auto octane = (*mmff)->Run("CCCCCCCC");
  REQUIRE(octane);
  auto raw = json::parse(octane->raw_json);
  CHECK(octane->properties.at("strain_energy") >= 0);
  CHECK(raw["reference_energy"].get<double>() - octane->properties.at("strain_energy") ==
        Approx(octane->properties.at("mmff_energy")));
  CHECK(raw["conformers_embedded"].get<int>() == 30);
  // Benzene has one conformer: nothing to gain.
  auto benzene = (*mmff)->Run("c1ccccc1");
  REQUIRE(benzene);
  CHECK(benzene->properties.at("strain_energy") == Approx(0).margin(1e-3));
  // More conformers never find a higher minimum (the same seed embeds the first ones again).
  options.conformers = 60;
  auto wider = (*registry.Create("mmff", options))->Run("CCCCCCCC");
  REQUIRE(wider);
  CHECK(wider->properties.at("mmff_energy") <= octane->properties.at("mmff_energy") + 1e-6);
}

TEST_CASE("The external command gets SMILES or XYZ and answers JSON", "[integration]") {
  testing::TempDir dir;
  SimulatorOptions options;
  options.kind = "command";
  options.command = {std::string(LABLOOP_SOURCE_DIR) + "/examples/external-command/crippen.py"};
  options.properties = {"logp", "tpsa"};
  SimulatorRegistry registry("simulator");
  RegisterBuiltinSimulators(registry);
  auto crippen = registry.Create("command", options);
  REQUIRE(crippen);
  auto ethanol = (*crippen)->Run("OCC");
  REQUIRE(ethanol);
  CHECK(ethanol->properties.at("logp") == Approx(-0.0014).margin(1e-6));
  CHECK(ethanol->properties.at("tpsa") == Approx(20.23));

  auto script = [&](const std::string& name, const std::string& body) {
    std::string path = dir.Write(name, "#!/bin/sh\n" + body);
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
    SimulatorOptions o = options;
    o.command = {path};
    o.properties = {"atoms"};
    o.command_timeout_seconds = 2;
    return std::move(*registry.Create("command", o));
  };
  // XYZ input: the program counts the atoms of the first line.
  auto xyz_options = options;
  xyz_options.command_input = "xyz";
  // A program that prints something other than JSON: a clear error.
  auto echo = script("echo.sh", "read line; echo \"$line\"\n");
  auto wrong = echo->Run("CCO");
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().message.find("printed no JSON") != std::string::npos);
  std::string path = dir.Write("count_xyz.sh", "#!/bin/sh\nread n\necho \"{\\\"atoms\\\": $n}\"\n");
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  xyz_options.command = {path};
  xyz_options.properties = {"atoms"};
  auto water = (*registry.Create("command", xyz_options))->Run("O");
  REQUIRE(water);
  CHECK(water->properties.at("atoms") == 3);

  auto failing = script("fail.sh", "echo 'no licence for this solver' >&2; exit 3\n");
  auto failed = failing->Run("CCO");
  REQUIRE_FALSE(failed);
  CHECK(failed.error().message.find("exit code 3: no licence for this solver") !=
        std::string::npos);
  auto refusing = script("refuse.sh", "echo '{\"error\": \"too many atoms\"}'\n");
  CHECK(refusing->Run("CCO").error().message.find("too many atoms") != std::string::npos);
  auto missing = script("missing.sh", "echo '{\"other\": 1}'\n");
  CHECK(missing->Run("CCO").error().message.find("without a number for 'atoms'") !=
        std::string::npos);
  auto hanging = script("hang.sh", "sleep 30\n");
  auto hung = hanging->Run("CCO");
  REQUIRE_FALSE(hung);
  CHECK(hung.error().message.find("timed out after 2 s") != std::string::npos);

  options.command = {"no-such-program-labloop"};
  auto absent = registry.Create("command", options);
  REQUIRE_FALSE(absent);
  CHECK(absent.error().message.find("is not on PATH") != std::string::npos);
}

TEST_CASE("Vina docks a ligand from SMILES into the Debian test receptor", "[integration]") {
  const std::string receptor = "/usr/share/doc/autodock-vina/test-data/protein.pdbqt.gz";
  // Debian packages autodock-vina and openbabel, from scripts/install-deps.
  REQUIRE(HaveProgram("vina"));
  REQUIRE(HaveProgram("obabel"));
  REQUIRE(std::ifstream(receptor));
  SimulatorOptions options;
  options.kind = "vina";
  options.receptor = receptor;
  options.box_center = {11, 90.5, 57.5};
  options.box_size = {22, 24, 28};
  options.exhaustiveness = 2;
  SimulatorRegistry registry("simulator");
  RegisterBuiltinSimulators(registry);
  auto vina = registry.Create("vina", options);
  REQUIRE(vina);
  auto docked = (*vina)->Run("CC(=O)Nc1ccc(O)cc1");  // paracetamol
  REQUIRE(docked);
  CHECK(docked->properties.at("vina_score") < -3.0);
  CHECK(docked->properties.at("vina_score") > -12.0);
  CHECK(docked->properties.at("ligand_efficiency") ==
        Approx(-docked->properties.at("vina_score") / 11));
  auto raw = json::parse(docked->raw_json);
  CHECK(raw["pose_pdbqt"].get<std::string>().find("ATOM") != std::string::npos);
  CHECK(raw["mode_scores"].size() >= 1);
  // Same seed, same score.
  CHECK((*vina)->Run("CC(=O)Nc1ccc(O)cc1")->properties == docked->properties);

  options.box_size = {22, 0, 28};
  CHECK_FALSE(registry.Create("vina", options));
  options.box_size = {22, 24, 28};
  options.receptor = "/nonexistent.pdbqt";
  auto missing = registry.Create("vina", options);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message.find("does not exist") != std::string::npos);
}

TEST_CASE("External programs: early exits - stray children and closed pipes end the wait") {
  // Exits without reading a megabyte of input: EPIPE, not a SIGPIPE that kills labloop.
  ProcessOptions big;
  big.input.assign(1 << 20, 'x');
  auto quick = RunProcess({"/bin/true"}, big);
  REQUIRE(quick);
  CHECK(quick->exit_code == 0);
  // Leaves a child holding its stdout: done when the program itself exits.
  ProcessOptions options;
  options.timeout_seconds = 20;
  auto t0 = std::chrono::steady_clock::now();
  auto stray = RunProcess({"/bin/sh", "-c", "sleep 30 & echo done"}, options);
  REQUIRE(stray);
  CHECK(stray->out == "done\n");
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));
  // Closes its own pipes and hangs: the timeout still ends it.
  options.timeout_seconds = 1;
  auto hung = RunProcess({"/bin/sh", "-c", "exec >/dev/null 2>&1; sleep 30"}, options);
  REQUIRE_FALSE(hung);
  CHECK(hung.error().message.find("timed out after 1 s") != std::string::npos);
  // Exit codes and signals are reported as such.
  auto failed = RunProcess({"/bin/sh", "-c", "echo oops >&2; exit 4"}, ProcessOptions{});
  REQUIRE(failed);
  CHECK(DescribeFailure(*failed) == "exit code 4: oops");
  auto killed = RunProcess({"/bin/sh", "-c", "kill -9 $$"}, ProcessOptions{});
  REQUIRE(killed);
  CHECK(killed->signal == 9);
}

TEST_CASE("xtb in ALPB solvent runs through the xtb program", "[integration]") {
  REQUIRE(HaveProgram("xtb"));  // Debian package xtb, from scripts/install-deps
  SimulatorOptions gas, gbsa, alpb;
  gbsa.solvent = alpb.solvent = "water";
  alpb.solvation = "alpb";
  alpb.ip_ea = true;
  auto in_gas = (*CreateXtbSimulator(gas))->Run("CC(=O)O");
  auto in_gbsa = (*CreateXtbSimulator(gbsa))->Run("CC(=O)O");
  auto in_alpb = (*CreateXtbSimulator(alpb))->Run("CC(=O)O");
  REQUIRE(in_gas);
  REQUIRE(in_gbsa);
  INFO((in_alpb ? "" : in_alpb.error().message));
  REQUIRE(in_alpb);
  CHECK(in_alpb->raw_json.find("ALPB(water)") != std::string::npos);
  // Same geometry, a solvation model of its own: lower than in the gas phase, not GBSA's value.
  CHECK(in_alpb->properties.at("energy") < in_gas->properties.at("energy"));
  CHECK(in_alpb->properties.at("energy") != Approx(in_gbsa->properties.at("energy")).margin(1e-6));
  CHECK(in_alpb->properties.at("energy") == Approx(in_gbsa->properties.at("energy")).margin(0.01));
  CHECK(in_alpb->properties.at("gap") > 1.0);
  CHECK(in_alpb->properties.count("ip") == 1);
  // Optimized by the xtb program: IP and EA are of its optimized geometry, stored in the raw
  // record, not of the starting one.
  SimulatorOptions optimized = alpb;
  optimized.optimize = true;
  auto relaxed = (*CreateXtbSimulator(optimized))->Run("CC(=O)O");
  INFO((relaxed ? "" : relaxed.error().message));
  REQUIRE(relaxed);
  auto raw = nlohmann::json::parse(relaxed->raw_json);
  REQUIRE(raw["xyz_angstrom"].size() == 3 * raw["atoms"].get<size_t>());
  CHECK(raw["connectivity_change"] == "");
  auto start = nlohmann::json::parse(in_alpb->raw_json)["xyz_angstrom"];
  REQUIRE(start.size() == raw["xyz_angstrom"].size());
  double moved = 0;
  for (size_t i = 0; i < start.size(); ++i) {
    moved =
        std::max(moved, std::abs(start[i].get<double>() - raw["xyz_angstrom"][i].get<double>()));
  }
  CHECK(moved > 1e-3);
  CHECK(relaxed->properties.at("ip") != Approx(in_alpb->properties.at("ip")).margin(1e-6));
  // The program's failure is a failed molecule with its reason.
  alpb.xtb_program = "/bin/false";
  auto failed = (*CreateXtbSimulator(alpb))->Run("CCO");
  REQUIRE_FALSE(failed);
  CHECK(failed.error().message.find("the xtb program failed") != std::string::npos);
}
