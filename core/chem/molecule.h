#pragma once
// Molecule: a parsed, sanitized molecule (RDKit underneath, never exposed here).
//
// Construct with FromSmiles or FromMolBlock; both check the caps of MoleculeLimits so that empty or
// huge inputs are rejected with a clear error before any expensive work. A Molecule is immutable
// and cheap to move; copies share nothing. Thread-safe for concurrent const use.

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/result.h"

namespace labloop::chem {

struct MoleculeLimits {
  int max_smiles_length = 1000;  // characters of the input SMILES
  int max_heavy_atoms = 150;     // non-hydrogen atoms after parsing
};

class Molecule {
 public:
  static Result<Molecule> FromSmiles(const std::string& smiles, const MoleculeLimits& limits = {});
  static Result<Molecule> FromMolBlock(const std::string& mol_block,
                                       const MoleculeLimits& limits = {});

  Molecule(Molecule&&) noexcept;
  Molecule& operator=(Molecule&&) noexcept;
  Molecule(const Molecule&);
  Molecule& operator=(const Molecule&);
  ~Molecule();

  // RDKit's canonical isomeric SMILES.
  std::string CanonicalSmiles() const;
  // Standard InChIKey (27 characters). Fails only for structures InChI cannot describe.
  Result<std::string> InchiKey() const;
  int HeavyAtomCount() const;
  // The element symbols present (hydrogens included when there are any, implicit or not).
  std::set<std::string> Elements() const;
  int FormalCharge() const;
  // An MDL mol block with 2D coordinates, for SDF output.
  Result<std::string> MolBlock() const;

  // The standardized parent: RDKit's cleanup (normalize, reionize), the largest organic fragment,
  // then neutralized. What labloop stores for every imported molecule.
  Result<Molecule> Standardized() const;

  struct Impl;  // defined in core/chem/internal.h, for the chem library only
  const Impl& impl() const { return *impl_; }

 private:
  explicit Molecule(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// RDKit's canonical SMILES of each input, "" where it does not parse; on every core.
std::vector<std::string> CanonicalSmilesOf(const std::vector<std::string>& smiles);

}  // namespace labloop::chem
