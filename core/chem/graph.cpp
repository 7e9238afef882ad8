#include "core/chem/graph.h"

#include <GraphMol/ROMol.h>

#include <algorithm>

#include "core/chem/internal.h"

namespace labloop::chem {

namespace {

// Category sizes, "other" included; they sum to kAtomFeatures - 2 (the two flags).
constexpr int kAtomSizes[] = {13, 7, 6, 5, 6, 6};
constexpr int kBondStereoSize = 6;

uint8_t ElementCode(int z) {
  static const int kElements[] = {1, 5, 6, 7, 8, 9, 14, 15, 16, 17, 35, 53};
  for (int i = 0; i < 12; ++i) {
    if (kElements[i] == z) return static_cast<uint8_t>(i);
  }
  return 12;
}

uint8_t Clamp(int v, int lo, int hi_other) {
  return static_cast<uint8_t>(v < lo || v >= hi_other ? hi_other - lo : v - lo);
}

}  // namespace

Result<MolGraph> BuildMolGraph(const Molecule& molecule) {
  const RDKit::ROMol& mol = *molecule.impl().mol;
  MolGraph g;
  g.atoms = static_cast<int>(mol.getNumAtoms());
  g.atom_codes.reserve(static_cast<size_t>(g.atoms) * kAtomCodes);
  for (const auto* atom : mol.atoms()) {
    int hybridization = 5;
    switch (atom->getHybridization()) {
      case RDKit::Atom::SP:
        hybridization = 0;
        break;
      case RDKit::Atom::SP2:
        hybridization = 1;
        break;
      case RDKit::Atom::SP3:
        hybridization = 2;
        break;
      case RDKit::Atom::SP3D:
        hybridization = 3;
        break;
      case RDKit::Atom::SP3D2:
        hybridization = 4;
        break;
      default:
        break;
    }
    const uint8_t codes[kAtomCodes] = {
        ElementCode(atom->getAtomicNum()),
        Clamp(static_cast<int>(atom->getDegree()), 0, 6),
        Clamp(atom->getFormalCharge(), -2, 3),
        Clamp(static_cast<int>(atom->getChiralTag()), 0, 4),
        Clamp(static_cast<int>(atom->getTotalNumHs()), 0, 5),
        static_cast<uint8_t>(hybridization),
        static_cast<uint8_t>(atom->getIsAromatic() ? 1 : 0),
        static_cast<uint8_t>(mol.getRingInfo()->numAtomRings(atom->getIdx()) > 0 ? 1 : 0)};
    g.atom_codes.insert(g.atom_codes.end(), codes, codes + kAtomCodes);
  }
  for (const auto* bond : mol.bonds()) {
    int type = 0;
    switch (bond->getBondType()) {
      case RDKit::Bond::SINGLE:
        type = 0;
        break;
      case RDKit::Bond::DOUBLE:
        type = 1;
        break;
      case RDKit::Bond::TRIPLE:
        type = 2;
        break;
      case RDKit::Bond::AROMATIC:
        type = 3;
        break;
      default:
        return MakeError(ErrorCode::kInvalidArgument,
                         "bond type " + std::to_string(static_cast<int>(bond->getBondType())) +
                             " has no graph feature");
    }
    g.bond_atoms.push_back(static_cast<int32_t>(bond->getBeginAtomIdx()));
    g.bond_atoms.push_back(static_cast<int32_t>(bond->getEndAtomIdx()));
    const uint8_t codes[kBondCodes] = {
        static_cast<uint8_t>(type), static_cast<uint8_t>(bond->getIsConjugated() ? 1 : 0),
        static_cast<uint8_t>(mol.getRingInfo()->numBondRings(bond->getIdx()) > 0 ? 1 : 0),
        Clamp(static_cast<int>(bond->getStereo()), 0, kBondStereoSize - 1)};
    g.bond_codes.insert(g.bond_codes.end(), codes, codes + kBondCodes);
  }
  return g;
}

void FeaturizeAtom(const MolGraph& graph, int atom, float* out) {
  const uint8_t* c = &graph.atom_codes[static_cast<size_t>(atom) * kAtomCodes];
  int offset = 0;
  for (int k = 0; k < 6; ++k) {
    out[offset + std::min<int>(c[k], kAtomSizes[k] - 1)] = 1.0f;
    offset += kAtomSizes[k];
  }
  out[offset] = c[6];
  out[offset + 1] = c[7];
}

void FeaturizeBond(const MolGraph& graph, int bond, float* out) {
  const uint8_t* c = &graph.bond_codes[static_cast<size_t>(bond) * kBondCodes];
  out[c[0]] = 1.0f;
  out[4] = c[1];
  out[5] = c[2];
  out[6 + std::min<int>(c[3], kBondStereoSize - 1)] = 1.0f;
}

}  // namespace labloop::chem
