#pragma once
// Filters for proposed molecules: structural alerts (PAINS, Brenk, from RDKit's FilterCatalog),
// drug-likeness rules (Lipinski's rule of five, Veber) and a synthetic-accessibility bound.
// Every failed filter is reported by name, so a chemist sees why a molecule was dropped.

#include <optional>
#include <string>
#include <vector>

#include "core/chem/molecule.h"

namespace labloop::chem {

struct FilterOptions {
  bool pains = true;             // PAINS A, B and C (Baell & Holloway, 2010)
  bool brenk = true;             // Brenk's unwanted groups (2008)
  bool lipinski = false;         // at most one of: MW > 500, cLogP > 5, HBD > 5, HBA > 10
  bool veber = false;            // rotatable bonds <= 10 and TPSA <= 140
  std::optional<double> max_sa;  // synthetic accessibility at most this (1 easy .. 10 hard)
};

struct FilterVerdict {
  bool pass = true;
  std::vector<std::string> reasons;  // "PAINS: ene_rhod_A(235)", "Lipinski: 2 violations", ...
  std::optional<double> sa_score;    // when max_sa was asked for
};

// Thread-safe. Fails only when the SA fragment table is needed and missing.
Result<FilterVerdict> ApplyFilters(const Molecule& molecule, const FilterOptions& options);

}  // namespace labloop::chem
