#pragma once
// 3D geometry for simulations: RDKit ETKDG embedding, then an MMFF94 (or UFF) relaxation.

#include <string>
#include <vector>

#include "core/chem/molecule.h"

namespace labloop::chem {

// All atoms, hydrogens included, in the order of the embedded molecule.
struct Geometry {
  std::vector<int> atomic_numbers;
  std::vector<double> xyz_angstrom;  // 3 per atom
  int charge = 0;                    // total formal charge
  int unpaired_electrons = 0;
  std::string force_field;  // "MMFF94", "UFF" or "none"
  bool force_field_converged = false;
  double force_field_energy = 0;  // kcal/mol, of this geometry (0 when force_field is "none")
  int attempts = 0;               // embeddings tried to get this one
  // When the molecule had unassigned stereocenters and the geometry is of one chosen stereoisomer
  // (because the one ETKDG picked could not be embedded), that isomer's SMILES.
  std::string embedded_isomer;
  std::string mol_block;  // the same geometry as an MDL mol block (3D, explicit hydrogens, bonds)

  int AtomCount() const { return static_cast<int>(atomic_numbers.size()); }
  // Standard XYZ file text, with `comment` as the second line.
  std::string ToXyz(const std::string& comment) const;
};

struct EmbedOptions {
  int seed = 42;              // ETKDG random seed: the same seed gives the same geometry
  int max_iterations = 2000;  // force-field relaxation steps; 0 skips the relaxation
  int attempts = 4;           // seeds tried (seed, seed + 1, ...) until a geometry is sane
  // Then, for molecules with unassigned stereocenters, up to this many stereoisomers are tried:
  // in fused small rings the configuration ETKDG picks at random may not exist in 3D.
  int max_stereoisomers = 16;
  // A bond longer than this times the sum of covalent radii makes a geometry insane: strained
  // cages sometimes relax to a nearly broken bond, and any quantum chemistry on it is an artifact.
  double max_bond_stretch = 1.25;
};

// Fails with kInvalidArgument when no attempt gives a sane geometry (ETKDG cannot embed any
// stereoisomer, or every relaxed geometry has a stretched bond); the message says which.
Result<Geometry> Embed3D(const Molecule& molecule, const EmbedOptions& options = {});

// Stereocenters whose configuration the molecule leaves open: its 3D geometry is then of one
// stereoisomer, picked at random by the embedding.
int UnassignedStereocenters(const Molecule& molecule);

// Whether moved coordinates (a relaxation by another program) still describe the geometry's
// molecule: empty when every bond is within `max_bond_stretch` of its covalent length and no two
// unbonded atoms came within bonding distance; otherwise which bond broke or formed.
std::string ConnectivityChange(const Geometry& geometry, const std::vector<double>& xyz_angstrom,
                               double max_bond_stretch = 1.25);

// A conformer search: many ETKDG conformers, each relaxed with MMFF94.
struct ConformerSearchOptions {
  int conformers = 30;        // embedded (fewer when ETKDG fails on some)
  int seed = 42;              // ETKDG random seed
  int max_iterations = 2000;  // MMFF94 steps per conformer
};

struct ConformerSearch {
  std::vector<double> energies;  // kcal/mol of every sane relaxed conformer, lowest first
  Geometry lowest;               // the lowest-energy conformer
  int embedded = 0;              // conformers ETKDG produced
  int converged = 0;             // of those, relaxed to convergence
};

// Fails with kInvalidArgument when MMFF94 has no parameters for the molecule or no conformer can
// be embedded. Uses one thread.
Result<ConformerSearch> SearchConformers(const Molecule& molecule,
                                         const ConformerSearchOptions& options = {});

}  // namespace labloop::chem
