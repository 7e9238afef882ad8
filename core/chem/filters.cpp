#include "core/chem/filters.h"

#include <GraphMol/Descriptors/Crippen.h>
#include <GraphMol/Descriptors/Lipinski.h>
#include <GraphMol/Descriptors/MolDescriptors.h>
#include <GraphMol/Descriptors/MolSurf.h>
#include <GraphMol/FilterCatalog/FilterCatalog.h>

#include <memory>
#include <sstream>

#include "core/chem/internal.h"
#include "core/chem/reader.h"
#include "core/chem/sa_score.h"
#include "core/log.h"

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
  auto fail = [&](const std::string& why) {
    verdict.pass = false;
    verdict.reasons.push_back(why);
  };
  auto similarity = [](double x) {
    std::ostringstream s;
    s.precision(3);
    s << x;
    return s.str();
  };
  if (options.known && options.known->size() > 0) {
    auto key = molecule.InchiKey();
    if (key && options.known->Contains(*key)) {
      fail("not novel: a known molecule");
    } else if (options.max_known_similarity) {
      auto [nearest, t] = options.known->Nearest(ReferenceSet::Fingerprint(molecule));
      if (t > *options.max_known_similarity) {
        fail("not novel: similarity " + similarity(t) + " to known " +
             options.known->Smiles(nearest));
      }
    }
  }
  if (options.reference && options.reference->size() > 0 &&
      (options.min_similarity || options.max_similarity)) {
    auto [nearest, t] = options.reference->Nearest(ReferenceSet::Fingerprint(molecule));
    if (options.min_similarity && t < *options.min_similarity) {
      fail("similarity " + similarity(t) + " to the nearest reference < " +
           similarity(*options.min_similarity));
    }
    if (options.max_similarity && t > *options.max_similarity) {
      fail("similarity " + similarity(t) + " to reference " + options.reference->Smiles(nearest) +
           " > " + similarity(*options.max_similarity));
    }
  }
  return verdict;
}

SparseFingerprint ReferenceSet::Fingerprint(const Molecule& molecule) {
  return MorganFingerprint(molecule, MorganOptions{});
}

void ReferenceSet::Add(const Molecule& molecule, const std::string& smiles) {
  // Candidates are standardized parents (a salt is its largest organic fragment, neutral): the
  // reference is keyed and fingerprinted the same way, and by its own key as written too.
  auto key = molecule.InchiKey();
  if (key) inchikeys_.insert(*key);
  auto parent = molecule.Standardized();
  if (parent) {
    if (auto parent_key = parent->InchiKey()) inchikeys_.insert(*parent_key);
  }
  smiles_.push_back(smiles);
  fingerprints_.push_back(Fingerprint(parent ? *parent : molecule));
}

std::shared_ptr<const ReferenceSet> ReferenceSet::FromSmiles(
    const std::vector<std::string>& smiles) {
  auto set = std::make_shared<ReferenceSet>();
  int64_t unreadable = 0;
  std::string first;
  for (const auto& s : smiles) {
    auto molecule = Molecule::FromSmiles(s);
    if (molecule) {
      set->Add(*molecule, s);
    } else if (unreadable++ == 0) {
      first = s + ": " + molecule.error().message;
    }
  }
  if (unreadable > 0) {
    LogWarn("reference molecules: {} unreadable, left out (the first: {})", unreadable, first);
  }
  return set;
}

Result<std::shared_ptr<const ReferenceSet>> ReferenceSet::FromFile(const std::string& path) {
  std::vector<std::string> smiles;
  LABLOOP_TRY(ForEachSmiles(path, ReadOptions{},
                            [&](int64_t, const std::string& s) { smiles.push_back(s); }));
  auto set = FromSmiles(smiles);
  if (set->size() == 0) {
    return MakeError(ErrorCode::kInvalidArgument, "no readable molecules in '" + path + "'");
  }
  return set;
}

std::pair<int64_t, double> ReferenceSet::Nearest(const SparseFingerprint& fingerprint) const {
  int64_t best = -1;
  double best_similarity = 0;
  for (size_t i = 0; i < fingerprints_.size(); ++i) {
    const double t = TanimotoBits(fingerprint, fingerprints_[i]);
    if (best < 0 || t > best_similarity) best = static_cast<int64_t>(i), best_similarity = t;
  }
  return {best, best_similarity};
}

}  // namespace labloop::chem
