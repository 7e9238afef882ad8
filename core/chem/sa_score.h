#pragma once
// Synthetic accessibility score (Ertl & Schuffenhauer, 2009), as RDKit's Contrib sascorer.py
// computes it: fragment contributions from a table of ECFP4 fragment scores learned on PubChem,
// less penalties for size, stereocenters, spiro and bridgehead atoms and macrocycles, mapped to
// 1 (easy) .. 10 (hard).
//
// The fragment table is the one Debian's rdkit-data package ships
// (/usr/share/RDKit/Contrib/SA_Score/fpscores.pkl.gz, a gzipped text pickle), read once; set
// LABLOOP_SA_FRAGMENTS to use another copy. Thread-safe after construction.

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "core/chem/molecule.h"

namespace labloop::chem {

class SaScorer {
 public:
  // The table at `path` (empty: $LABLOOP_SA_FRAGMENTS, else rdkit-data's).
  static Result<SaScorer> Load(const std::string& path = "");
  // The process-wide scorer, loaded on first use.
  static Result<const SaScorer*> Default();

  double Score(const Molecule& molecule) const;
  size_t Fragments() const { return scores_.size(); }

 private:
  std::unordered_map<uint32_t, float> scores_;
};

}  // namespace labloop::chem
