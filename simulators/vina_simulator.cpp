#include "simulators/vina_simulator.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/chem/geometry.h"
#include "core/chem/molecule.h"
#include "simulators/external_process.h"
#include "simulators/standard_geometry.h"

namespace labloop::simulators {

namespace {

namespace fs = std::filesystem;

std::string Number(double v) {
  std::ostringstream out;
  out.precision(10);
  out << v;
  return out.str();
}

class VinaSimulator final : public Simulator {
 public:
  VinaSimulator(const SimulatorOptions& options, std::string receptor,
                std::shared_ptr<ScratchDir> unpacked)
      : options_(options), receptor_(std::move(receptor)), unpacked_(std::move(unpacked)) {}
  std::string Kind() const override { return "vina"; }
  std::vector<std::string> Properties() const override { return PropertiesOf(options_); }

  Result<SimulationSummary> Run(const std::string& smiles) const override {
    auto start = std::chrono::steady_clock::now();
    auto molecule = chem::Molecule::FromSmiles(smiles);
    if (!molecule) return tl::unexpected(molecule.error());
    auto geometry = StandardGeometry(*molecule, options_);
    if (!geometry) return tl::unexpected(geometry.error());
    ScratchDir scratch("labloop-vina");
    if (scratch.path().empty()) {
      return MakeError(ErrorCode::kInternal, "cannot create a scratch folder for vina");
    }
    const std::string dir = scratch.path();
    ProcessOptions process;
    process.timeout_seconds = options_.command_timeout_seconds;
    process.working_directory = dir;

    // Ligand: protonated at the pH, Gasteiger charges, torsion tree.
    process.input = geometry->mol_block;
    auto prepared = RunProcess({options_.obabel_program, "-imol", "-p", Number(options_.ph),
                                "-opdbqt", "-O", "ligand.pdbqt"},
                               process);
    if (!prepared) return tl::unexpected(prepared.error());
    std::string ligand = ReadTextFile(dir + "/ligand.pdbqt");
    if (prepared->exit_code != 0 || ligand.find("ATOM") == std::string::npos) {
      return MakeError(ErrorCode::kAborted,
                       "open babel could not prepare the ligand: " + DescribeFailure(*prepared));
    }

    process.input.clear();
    const auto& c = options_.box_center;
    const auto& s = options_.box_size;
    auto docked = RunProcess({options_.vina_program,
                              "--receptor",
                              receptor_,
                              "--ligand",
                              "ligand.pdbqt",
                              "--center_x",
                              Number(c[0]),
                              "--center_y",
                              Number(c[1]),
                              "--center_z",
                              Number(c[2]),
                              "--size_x",
                              Number(s[0]),
                              "--size_y",
                              Number(s[1]),
                              "--size_z",
                              Number(s[2]),
                              "--exhaustiveness",
                              std::to_string(options_.exhaustiveness),
                              "--cpu",
                              "1",
                              "--seed",
                              std::to_string(options_.embed_seed),
                              "--out",
                              "poses.pdbqt"},
                             process);
    if (!docked) return tl::unexpected(docked.error());
    if (docked->exit_code != 0 || docked->signal != 0) {
      return MakeError(ErrorCode::kAborted, "vina failed: " + DescribeFailure(*docked));
    }
    // Every pose's "REMARK VINA RESULT:  affinity  rmsd_lb  rmsd_ub"; the first is the best.
    std::string poses = ReadTextFile(dir + "/poses.pdbqt");
    std::vector<double> scores;
    std::istringstream lines(poses);
    std::string line;
    const std::string tag = "REMARK VINA RESULT:";
    while (std::getline(lines, line)) {
      if (line.rfind(tag, 0) == 0) scores.push_back(std::atof(line.c_str() + tag.size()));
    }
    if (scores.empty() || !std::isfinite(scores[0])) {
      return MakeError(ErrorCode::kAborted, "vina wrote no pose");
    }
    auto end_first = poses.find("ENDMDL");
    std::string best_pose =
        end_first == std::string::npos ? poses : poses.substr(0, end_first + 6) + "\n";

    SimulationSummary summary;
    summary.properties["vina_score"] = scores[0];
    summary.properties["ligand_efficiency"] = -scores[0] / molecule->HeavyAtomCount();
    summary.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    nlohmann::json raw = {{"program", "AutoDock Vina"},
                          {"receptor", options_.receptor},
                          {"center", options_.box_center},
                          {"size", options_.box_size},
                          {"exhaustiveness", options_.exhaustiveness},
                          {"ph", options_.ph},
                          {"mode_scores", scores},
                          {"pose_pdbqt", best_pose},
                          {"seconds", summary.seconds}};
    summary.raw_json = raw.dump();
    return summary;
  }

 private:
  SimulatorOptions options_;
  std::string receptor_;                  // a plain PDBQT file
  std::shared_ptr<ScratchDir> unpacked_;  // holds the unpacked receptor, when it was .gz
};

}  // namespace

Result<std::unique_ptr<Simulator>> CreateVinaSimulator(const SimulatorOptions& options) {
  if (auto valid = options.Validate(); !valid) return tl::unexpected(valid.error());
  if (options.receptor.empty() || options.box_center.size() != 3 || options.box_size.size() != 3) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the vina simulator needs a receptor (PDBQT) and a box: center and size, "
                     "three numbers each");
  }
  for (double s : options.box_size) {
    if (!(s > 0)) return MakeError(ErrorCode::kInvalidArgument, "vina box sizes must be positive");
  }
  if (!fs::exists(options.receptor)) {
    return MakeError(ErrorCode::kNotFound, "receptor '" + options.receptor + "' does not exist");
  }
  for (const auto& program : {options.vina_program, options.obabel_program}) {
    auto found = FindProgram(program);
    if (!found) {
      return MakeError(ErrorCode::kNotFound, found.error().message +
                                                 " (the vina simulator needs autodock-vina and "
                                                 "openbabel)");
    }
  }
  std::string receptor = options.receptor;
  std::shared_ptr<ScratchDir> unpacked;
  if (receptor.size() > 3 && receptor.substr(receptor.size() - 3) == ".gz") {
    unpacked = std::make_shared<ScratchDir>("labloop-receptor");
    auto gunzip = RunProcess({"gzip", "-dc", receptor}, ProcessOptions{});
    if (!gunzip || gunzip->exit_code != 0 || unpacked->path().empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "cannot unpack receptor '" + receptor + "'" +
                                                        (gunzip ? ": " + DescribeFailure(*gunzip)
                                                                : ": " + gunzip.error().message));
    }
    receptor = unpacked->path() + "/receptor.pdbqt";
    std::ofstream(receptor) << gunzip->out;
  }
  return std::unique_ptr<Simulator>(new VinaSimulator(options, receptor, unpacked));
}

}  // namespace labloop::simulators
