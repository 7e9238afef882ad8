#include "core/chem/geometry.h"

#include <GraphMol/Chirality.h>
#include <GraphMol/DistGeomHelpers/Embedder.h>
#include <GraphMol/FileParsers/FileParsers.h>
#include <GraphMol/ForceFieldHelpers/MMFF/AtomTyper.h>
#include <GraphMol/ForceFieldHelpers/MMFF/MMFF.h>
#include <GraphMol/ForceFieldHelpers/UFF/AtomTyper.h>
#include <GraphMol/ForceFieldHelpers/UFF/UFF.h>
#include <GraphMol/MolOps.h>
#include <GraphMol/PeriodicTable.h>
#include <GraphMol/RWMol.h>
#include <GraphMol/SmilesParse/SmilesWrite.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/chem/internal.h"

namespace labloop::chem {

std::string Geometry::ToXyz(const std::string& comment) const {
  const auto* table = RDKit::PeriodicTable::getTable();
  std::ostringstream out;
  out << AtomCount() << "\n" << comment << "\n";
  out.setf(std::ios::fixed);
  out.precision(6);
  for (int i = 0; i < AtomCount(); ++i) {
    const int z = atomic_numbers[i];
    // Every element RDKit knows (xtb's GFN2 covers them up to radon); "X" only for a dummy.
    const std::string symbol = z >= 1 && z <= 118 ? table->getElementSymbol(z) : "X";
    out << symbol << " " << xyz_angstrom[3 * i] << " " << xyz_angstrom[3 * i + 1] << " "
        << xyz_angstrom[3 * i + 2] << "\n";
  }
  return out.str();
}

namespace {

// The worst bond stretch (length / sum of covalent radii) of a conformer, and which bond it is.
double WorstStretch(const RDKit::ROMol& mol, const RDKit::Conformer& conf, std::string& which) {
  const auto* table = RDKit::PeriodicTable::getTable();
  double worst = 0;
  for (const auto* bond : mol.bonds()) {
    const auto* a = bond->getBeginAtom();
    const auto* b = bond->getEndAtom();
    double length = (conf.getAtomPos(a->getIdx()) - conf.getAtomPos(b->getIdx())).length();
    double covalent =
        table->getRcovalent(a->getAtomicNum()) + table->getRcovalent(b->getAtomicNum());
    double stretch = length / covalent;
    if (stretch > worst) {
      worst = stretch;
      std::ostringstream out;
      out.precision(3);
      out << a->getSymbol() << a->getIdx() + 1 << "-" << b->getSymbol() << b->getIdx() + 1 << " "
          << length << " A (covalent " << covalent << " A)";
      which = out.str();
    }
  }
  return worst;
}

// Unassigned tetrahedral stereocenters. ETKDG picks their configuration at random, and in fused
// small rings some picks cannot exist in 3D, so embedding fails (6% of QM9 with RDKit 2022.09).
std::vector<unsigned> UnassignedCenters(const RDKit::ROMol& mol) {
  std::vector<unsigned> centers;
  for (const auto& info : RDKit::Chirality::findPotentialStereo(mol)) {
    if (info.type == RDKit::Chirality::StereoType::Atom_Tetrahedral &&
        info.specified == RDKit::Chirality::StereoSpecified::Unspecified) {
      centers.push_back(info.centeredOn);
    }
  }
  return centers;
}

// One way to try an embedding: which stereoisomer, which seed, which ETKDG settings.
struct EmbedTry {
  int isomer;  // -1: as given; k: bit i of k sets center i clockwise
  int seed;
  bool rescue;  // random starting coordinates and tolerance of smoothing failures
};

std::vector<EmbedTry> EmbedPlan(const EmbedOptions& options, size_t unassigned) {
  std::vector<EmbedTry> plan;
  for (int a = 0; a < std::max(1, options.attempts); ++a)
    plan.push_back({-1, options.seed + a, false});
  plan.push_back({-1, options.seed, true});
  const int isomers = unassigned == 0 ? 0
                                      : std::min<int>(options.max_stereoisomers,
                                                      1 << std::min<size_t>(unassigned, 20));
  for (bool rescue : {false, true}) {
    for (int k = 0; k < isomers; ++k) plan.push_back({k, options.seed, rescue});
  }
  return plan;
}

}  // namespace

Result<Geometry> Embed3D(const Molecule& molecule, const EmbedOptions& options) {
  try {
    const RDKit::ROMol& input = *molecule.impl().mol;
    const std::vector<unsigned> centers = UnassignedCenters(input);
    std::string last_problem = "etkdg could not embed the molecule in 3d";
    int tries = 0;
    for (const EmbedTry& attempt : EmbedPlan(options, centers.size())) {
      ++tries;
      RDKit::RWMol isomer(input);
      if (attempt.isomer >= 0) {
        // Centers past the 20th keep one configuration: at most 2^20 isomers are ever indexed.
        for (size_t i = 0; i < centers.size(); ++i) {
          bool clockwise = i < 20 && ((attempt.isomer >> i) & 1);
          isomer.getAtomWithIdx(centers[i])
              ->setChiralTag(clockwise ? RDKit::Atom::CHI_TETRAHEDRAL_CW
                                       : RDKit::Atom::CHI_TETRAHEDRAL_CCW);
        }
      }
      std::unique_ptr<RDKit::ROMol> with_h(
          RDKit::MolOps::addHs(static_cast<const RDKit::ROMol&>(isomer)));
      RDKit::DGeomHelpers::EmbedParameters params = RDKit::DGeomHelpers::ETKDGv3;
      params.randomSeed = attempt.seed;
      params.useRandomCoords = attempt.rescue;
      params.ignoreSmoothingFailures = attempt.rescue;
      int conformer = RDKit::DGeomHelpers::EmbedMolecule(*with_h, params);
      if (conformer < 0) continue;
      Geometry geometry;
      geometry.force_field = "none";
      geometry.attempts = tries;
      if (attempt.isomer >= 0) geometry.embedded_isomer = RDKit::MolToSmiles(isomer);
      if (options.max_iterations > 0) {
        RDKit::MMFF::MMFFMolProperties mmff_properties(*with_h);
        if (mmff_properties.isValid()) {
          auto [not_converged, energy] =
              RDKit::MMFF::MMFFOptimizeMolecule(*with_h, options.max_iterations);
          geometry.force_field_energy = energy;
          geometry.force_field = "MMFF94";
          geometry.force_field_converged = not_converged == 0;
        } else if (RDKit::UFF::getAtomTypes(*with_h).second) {
          auto [not_converged, energy] =
              RDKit::UFF::UFFOptimizeMolecule(*with_h, options.max_iterations);
          geometry.force_field_energy = energy;
          geometry.force_field = "UFF";
          geometry.force_field_converged = not_converged == 0;
        }
      }
      const RDKit::Conformer& conf = with_h->getConformer(conformer);
      std::string worst_bond;
      if (WorstStretch(*with_h, conf, worst_bond) > options.max_bond_stretch) {
        last_problem = "no sane 3d geometry: bond " + worst_bond + " is stretched";
        continue;
      }
      for (const auto* atom : with_h->atoms()) {
        geometry.atomic_numbers.push_back(atom->getAtomicNum());
        const auto& p = conf.getAtomPos(atom->getIdx());
        geometry.xyz_angstrom.insert(geometry.xyz_angstrom.end(), {p.x, p.y, p.z});
        geometry.charge += atom->getFormalCharge();
        geometry.unpaired_electrons += static_cast<int>(atom->getNumRadicalElectrons());
      }
      geometry.mol_block = RDKit::MolToMolBlock(*with_h, /*includeStereo=*/true, conformer);
      return geometry;
    }
    return MakeError(ErrorCode::kInvalidArgument,
                     last_problem + " (" + std::to_string(tries) + " attempts)");
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInvalidArgument, std::string("3d embedding failed: ") + e.what());
  }
}

int UnassignedStereocenters(const Molecule& molecule) {
  return static_cast<int>(UnassignedCenters(*molecule.impl().mol).size());
}

std::string ConnectivityChange(const Geometry& geometry, const std::vector<double>& xyz,
                               double max_bond_stretch) {
  std::unique_ptr<RDKit::RWMol> mol;
  try {
    mol.reset(RDKit::MolBlockToMol(geometry.mol_block, /*sanitize=*/false, /*removeHs=*/false));
  } catch (const std::exception& e) {
    return std::string("unreadable geometry: ") + e.what();
  }
  if (!mol || static_cast<size_t>(3 * mol->getNumAtoms()) != xyz.size()) {
    return "the coordinates do not match the molecule";
  }
  const auto* table = RDKit::PeriodicTable::getTable();
  auto distance = [&](unsigned a, unsigned b) {
    double dx = xyz[3 * a] - xyz[3 * b], dy = xyz[3 * a + 1] - xyz[3 * b + 1],
           dz = xyz[3 * a + 2] - xyz[3 * b + 2];
    return std::sqrt(dx * dx + dy * dy + dz * dz);
  };
  auto name = [&](unsigned i) {
    return mol->getAtomWithIdx(i)->getSymbol() + std::to_string(i + 1);
  };
  for (unsigned a = 0; a < mol->getNumAtoms(); ++a) {
    for (unsigned b = a + 1; b < mol->getNumAtoms(); ++b) {
      double covalent = table->getRcovalent(mol->getAtomWithIdx(a)->getAtomicNum()) +
                        table->getRcovalent(mol->getAtomWithIdx(b)->getAtomicNum());
      double d = distance(a, b);
      bool bonded = mol->getBondBetweenAtoms(a, b) != nullptr;
      if (bonded && d > max_bond_stretch * covalent) {
        return "bond " + name(a) + "-" + name(b) + " broke (" + std::to_string(d) + " A)";
      }
      if (!bonded && d < 1.05 * covalent) {
        return "a bond " + name(a) + "-" + name(b) + " formed (" + std::to_string(d) + " A)";
      }
    }
  }
  return "";
}

Result<ConformerSearch> SearchConformers(const Molecule& molecule,
                                         const ConformerSearchOptions& options) {
  try {
    std::unique_ptr<RDKit::ROMol> with_h(RDKit::MolOps::addHs(*molecule.impl().mol));
    RDKit::MMFF::MMFFMolProperties mmff_properties(*with_h);
    if (!mmff_properties.isValid()) {
      return MakeError(ErrorCode::kInvalidArgument, "MMFF94 has no parameters for this molecule");
    }
    RDKit::DGeomHelpers::EmbedParameters params = RDKit::DGeomHelpers::ETKDGv3;
    params.randomSeed = options.seed;
    params.numThreads = 1;
    auto ids = RDKit::DGeomHelpers::EmbedMultipleConfs(*with_h, options.conformers, params);
    if (ids.empty()) {  // strained or fused systems: random starting coordinates often work
      params.useRandomCoords = true;
      ids = RDKit::DGeomHelpers::EmbedMultipleConfs(*with_h, options.conformers, params);
    }
    if (ids.empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "etkdg could not embed any conformer in 3d");
    }
    std::vector<std::pair<int, double>> results;
    RDKit::MMFF::MMFFOptimizeMoleculeConfs(*with_h, results, /*numThreads=*/1,
                                           options.max_iterations);
    ConformerSearch search;
    search.embedded = static_cast<int>(ids.size());
    int best = -1;
    size_t k = 0;
    for (auto conf = with_h->beginConformers(); conf != with_h->endConformers(); ++conf, ++k) {
      auto [not_converged, energy] = results[k];
      std::string worst_bond;
      if (WorstStretch(*with_h, **conf, worst_bond) > EmbedOptions{}.max_bond_stretch) continue;
      if (!std::isfinite(energy)) continue;
      if (not_converged == 0) ++search.converged;
      search.energies.push_back(energy);
      if (best < 0 || energy < results[best].second) best = static_cast<int>(k);
    }
    if (best < 0) return MakeError(ErrorCode::kInvalidArgument, "no sane relaxed conformer");
    std::sort(search.energies.begin(), search.energies.end());
    const RDKit::Conformer& conf = with_h->getConformer(ids[best]);
    Geometry& g = search.lowest;
    g.force_field = "MMFF94";
    g.force_field_converged = results[best].first == 0;
    g.force_field_energy = results[best].second;
    g.attempts = search.embedded;
    for (const auto* atom : with_h->atoms()) {
      g.atomic_numbers.push_back(atom->getAtomicNum());
      const auto& p = conf.getAtomPos(atom->getIdx());
      g.xyz_angstrom.insert(g.xyz_angstrom.end(), {p.x, p.y, p.z});
      g.charge += atom->getFormalCharge();
      g.unpaired_electrons += static_cast<int>(atom->getNumRadicalElectrons());
    }
    g.mol_block = RDKit::MolToMolBlock(*with_h, /*includeStereo=*/true, ids[best]);
    return search;
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string("conformer search failed: ") + e.what());
  }
}

}  // namespace labloop::chem
