#pragma once
// Filters for proposed molecules: structural alerts (PAINS, Brenk, from RDKit's FilterCatalog),
// drug-likeness rules (Lipinski's rule of five, Veber), a synthetic-accessibility bound, novelty
// against known molecules and bounds on the similarity to reference molecules.
// Every failed filter is reported by name, so a chemist sees why a molecule was dropped.

#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/chem/fingerprint.h"
#include "core/chem/molecule.h"

namespace labloop::chem {

// Molecules to compare against: their InChIKeys, and Morgan bit fingerprints (radius 2, 2048 bits)
// for Tanimoto similarity.
class ReferenceSet {
 public:
  // Reads a SMILES, CSV or SDF file (.gz too). Unreadable records are skipped; a file with none
  // usable is an error.
  static Result<std::shared_ptr<const ReferenceSet>> FromFile(const std::string& path);
  static std::shared_ptr<const ReferenceSet> FromSmiles(const std::vector<std::string>& smiles);

  bool Contains(const std::string& inchikey) const { return inchikeys_.count(inchikey) > 0; }
  // The nearest member and its similarity (Tanimoto on bits); {-1, 0} when the set is empty.
  std::pair<int64_t, double> Nearest(const SparseFingerprint& fingerprint) const;
  const std::string& Smiles(int64_t i) const { return smiles_[static_cast<size_t>(i)]; }
  size_t size() const { return smiles_.size(); }
  static SparseFingerprint Fingerprint(const Molecule& molecule);

 private:
  void Add(const Molecule& molecule, const std::string& smiles);
  std::unordered_set<std::string> inchikeys_;
  std::vector<std::string> smiles_;
  std::vector<SparseFingerprint> fingerprints_;
};

struct FilterOptions {
  bool pains = true;             // PAINS A, B and C (Baell & Holloway, 2010)
  bool brenk = true;             // Brenk's unwanted groups (2008)
  bool lipinski = false;         // at most one of: MW > 500, cLogP > 5, HBD > 5, HBA > 10
  bool veber = false;            // rotatable bonds <= 10 and TPSA <= 140
  std::optional<double> max_sa;  // synthetic accessibility at most this (1 easy .. 10 hard)
  // Novelty: a molecule in `known` is dropped, and so is one closer than max_known_similarity to
  // any known molecule.
  std::shared_ptr<const ReferenceSet> known;
  std::optional<double> max_known_similarity;
  // Similarity bounds: the nearest `reference` molecule must lie within [min, max] similarity
  // (keep near a lead series, or away from it).
  std::shared_ptr<const ReferenceSet> reference;
  std::optional<double> min_similarity, max_similarity;
};

struct FilterVerdict {
  bool pass = true;
  std::vector<std::string> reasons;  // "PAINS: ene_rhod_A(235)", "Lipinski: 2 violations", ...
  std::optional<double> sa_score;    // when max_sa was asked for
};

// Thread-safe. Fails only when the SA fragment table is needed and missing.
Result<FilterVerdict> ApplyFilters(const Molecule& molecule, const FilterOptions& options);

}  // namespace labloop::chem
