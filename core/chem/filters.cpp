#include "core/chem/filters.h"

#include <GraphMol/Descriptors/Crippen.h>
#include <GraphMol/Descriptors/Lipinski.h>
#include <GraphMol/Descriptors/MolDescriptors.h>
#include <GraphMol/Descriptors/MolSurf.h>
#include <GraphMol/FilterCatalog/FilterCatalog.h>

#include <memory>
#include <sstream>

#include "core/chem/internal.h"
#include "core/chem/sa_score.h"

namespace labloop::chem {

namespace {

// One catalog per family, built once (building parses hundreds of SMARTS).
const RDKit::FilterCatalog& Catalog(RDKit::FilterCatalogParams::FilterCatalogs which) {
  static const RDKit::FilterCatalog pains(RDKit::FilterCatalogParams::PAINS);
  static const RDKit::FilterCatalog brenk(RDKit::FilterCatalogParams::BRENK);
  return which == RDKit::FilterCatalogParams::PAINS ? pains : brenk;
}

void Alerts(const RDKit::ROMol& mol, RDKit::FilterCatalogParams::FilterCatalogs which,
            const std::string& family, FilterVerdict& verdict) {
  for (const auto& entry : Catalog(which).getMatches(mol)) {
    verdict.pass = false;
    verdict.reasons.push_back(family + ": " + entry->getDescription());
  }
}

}  // namespace

Result<FilterVerdict> ApplyFilters(const Molecule& molecule, const FilterOptions& options) {
  // A copy: descriptor calculations cache their results as properties on the molecule, and a
  // Molecule may be shared between threads.
  const RDKit::ROMol mol(*molecule.impl().mol);
  FilterVerdict verdict;
  if (options.pains) Alerts(mol, RDKit::FilterCatalogParams::PAINS, "PAINS", verdict);
  if (options.brenk) Alerts(mol, RDKit::FilterCatalogParams::BRENK, "Brenk", verdict);
  if (options.lipinski) {
    double logp = 0, mr = 0;
    RDKit::Descriptors::calcCrippenDescriptors(mol, logp, mr);
    const double mw = RDKit::Descriptors::calcAMW(mol);
    const unsigned hbd = RDKit::Descriptors::calcLipinskiHBD(mol);
    const unsigned hba = RDKit::Descriptors::calcLipinskiHBA(mol);
    const int violations = (mw > 500) + (logp > 5) + (hbd > 5) + (hba > 10);
    if (violations > 1) {
      std::ostringstream why;
      why.precision(4);
      why << "Lipinski: " << violations << " violations (MW " << mw << ", cLogP " << logp
          << ", HBD " << hbd << ", HBA " << hba << ")";
      verdict.pass = false;
      verdict.reasons.push_back(why.str());
    }
  }
  if (options.veber) {
    const unsigned rotatable = RDKit::Descriptors::calcNumRotatableBonds(mol);
    const double tpsa = RDKit::Descriptors::calcTPSA(mol);
    if (rotatable > 10 || tpsa > 140) {
      std::ostringstream why;
      why.precision(4);
      why << "Veber: " << rotatable << " rotatable bonds, TPSA " << tpsa;
      verdict.pass = false;
      verdict.reasons.push_back(why.str());
    }
  }
  if (options.max_sa) {
    auto scorer = SaScorer::Default();
    if (!scorer) return tl::unexpected(scorer.error());
    verdict.sa_score = (*scorer)->Score(molecule);
    if (*verdict.sa_score > *options.max_sa) {
      std::ostringstream why;
      why.precision(3);
      why << "SA score " << *verdict.sa_score << " > " << *options.max_sa;
      verdict.pass = false;
      verdict.reasons.push_back(why.str());
    }
  }
  return verdict;
}

}  // namespace labloop::chem
