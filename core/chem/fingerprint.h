#pragma once
// Morgan (ECFP-like) fingerprints as sparse vectors, and Tanimoto similarity on them.
//
// A SparseFingerprint holds sorted, unique feature indices below `size` with a value each: 1 for
// bit fingerprints, the occurrence count for count fingerprints. Sparse is what labloop's models
// consume (an embedding bag over on-bits) and what keeps a million-molecule pool small in memory.

#include <cstdint>
#include <string>
#include <vector>

#include "core/chem/molecule.h"

namespace labloop::chem {

struct SparseFingerprint {
  std::vector<uint32_t> indices;  // sorted ascending, unique, each < size
  std::vector<float> values;      // same length as indices
  uint32_t size = 0;              // folded length (number of possible indices)

  // Compact binary form for the campaign file: little-endian u32 size, u32 n, n x u32, n x f32.
  std::string Serialize() const;
  static Result<SparseFingerprint> Deserialize(const std::string& bytes);
};

struct MorganOptions {
  int radius = 2;
  uint32_t size = 2048;  // folded length
  bool counts = false;   // counts (true) or bits (false)
  bool chirality = false;
};

SparseFingerprint MorganFingerprint(const Molecule& molecule, const MorganOptions& options = {});

// |A ∩ B| / |A ∪ B| over the index sets (values ignored); 0 when both are empty.
double TanimotoBits(const SparseFingerprint& a, const SparseFingerprint& b);
// Σ min(a_i, b_i) / Σ max(a_i, b_i) (MinMax on counts); 0 when both are empty.
double TanimotoCounts(const SparseFingerprint& a, const SparseFingerprint& b);

}  // namespace labloop::chem
