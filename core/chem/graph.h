#pragma once
// MolGraph: a molecule as a graph for message-passing networks (the D-MPNN), compact and free of
// RDKit types.
//
// Heavy atoms are nodes (hydrogens become a count on their atom); bonds are edges. Each atom and
// bond keeps a few small category codes; FeaturizeAtom / FeaturizeBond expand them into the
// one-hot vectors a network reads, so a pool of 100,000 molecules holds about 15 MB of graphs
// rather than the 1.6 GB its expanded features would take.
//
// Atom features (kAtomFeatures = 45), one-hot unless noted, the last slot of each for "other":
//   element H B C N O F Si P S Cl Br I (13) | heavy degree 0-5 (7) | formal charge -2..+2 (6) |
//   chirality tag (5) | hydrogens 0-4 (6) | hybridization sp sp2 sp3 sp3d sp3d2 (6) |
//   aromatic (1) | in a ring (1)
// Bond features (kBondFeatures = 12): type single double triple aromatic (4) | conjugated (1) |
//   in a ring (1) | stereo none any Z E cis trans (6)

#include <cstdint>
#include <vector>

#include "core/chem/molecule.h"

namespace labloop::chem {

constexpr int kAtomFeatures = 45;
constexpr int kBondFeatures = 12;
constexpr int kAtomCodes = 8;  // codes per atom
constexpr int kBondCodes = 4;  // codes per bond

struct MolGraph {
  int atoms = 0;
  std::vector<uint8_t> atom_codes;  // atoms x kAtomCodes
  std::vector<int32_t> bond_atoms;  // 2 per bond: its atoms
  std::vector<uint8_t> bond_codes;  // bonds x kBondCodes
  // Molecule-level features a network reads beside the graph (scaled RDKit descriptors, say);
  // empty, or the same length for every graph of a data set.
  std::vector<float> features;
  int Bonds() const { return static_cast<int>(bond_atoms.size() / 2); }
};

Result<MolGraph> BuildMolGraph(const Molecule& molecule);

// Writes the expanded features of atom `atom` (kAtomFeatures floats) or bond `bond`
// (kBondFeatures floats) to `out`, which the caller has zeroed.
void FeaturizeAtom(const MolGraph& graph, int atom, float* out);
void FeaturizeBond(const MolGraph& graph, int bond, float* out);

}  // namespace labloop::chem
