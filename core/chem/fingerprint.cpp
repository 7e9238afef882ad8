#include "core/chem/fingerprint.h"

#include <DataStructs/SparseIntVect.h>
#include <GraphMol/Fingerprints/MorganFingerprints.h>

#include <cstring>
#include <memory>

#include "core/chem/internal.h"

namespace labloop::chem {

namespace {

void AppendU32(std::string& out, uint32_t v) {
  char bytes[4];
  std::memcpy(bytes, &v, 4);
  out.append(bytes, 4);
}

}  // namespace

std::string SparseFingerprint::Serialize() const {
  std::string out;
  out.reserve(8 + indices.size() * 8);
  AppendU32(out, size);
  AppendU32(out, static_cast<uint32_t>(indices.size()));
  out.append(reinterpret_cast<const char*>(indices.data()), indices.size() * sizeof(uint32_t));
  out.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
  return out;
}

Result<SparseFingerprint> SparseFingerprint::Deserialize(const std::string& bytes) {
  SparseFingerprint fp;
  uint32_t n = 0;
  if (bytes.size() < 8) return MakeError(ErrorCode::kInvalidArgument, "fingerprint blob too short");
  std::memcpy(&fp.size, bytes.data(), 4);
  std::memcpy(&n, bytes.data() + 4, 4);
  if (bytes.size() != 8 + static_cast<size_t>(n) * 8) {
    return MakeError(ErrorCode::kInvalidArgument, "fingerprint blob has the wrong length");
  }
  fp.indices.resize(n);
  fp.values.resize(n);
  std::memcpy(fp.indices.data(), bytes.data() + 8, n * 4);
  std::memcpy(fp.values.data(), bytes.data() + 8 + n * 4, n * 4);
  return fp;
}

SparseFingerprint MorganFingerprint(const Molecule& molecule, const MorganOptions& options) {
  const RDKit::ROMol& mol = *molecule.impl().mol;
  std::unique_ptr<RDKit::SparseIntVect<uint32_t>> counts(
      RDKit::MorganFingerprints::getHashedFingerprint(mol, options.radius, options.size, nullptr,
                                                      nullptr, options.chirality));
  SparseFingerprint fp;
  fp.size = options.size;
  const auto& elements = counts->getNonzeroElements();  // std::map: already sorted
  fp.indices.reserve(elements.size());
  fp.values.reserve(elements.size());
  for (const auto& [index, count] : elements) {
    fp.indices.push_back(index);
    fp.values.push_back(options.counts ? static_cast<float>(count) : 1.0f);
  }
  return fp;
}

double TanimotoBits(const SparseFingerprint& a, const SparseFingerprint& b) {
  size_t i = 0, j = 0, common = 0;
  while (i < a.indices.size() && j < b.indices.size()) {
    if (a.indices[i] == b.indices[j]) {
      ++common, ++i, ++j;
    } else if (a.indices[i] < b.indices[j]) {
      ++i;
    } else {
      ++j;
    }
  }
  size_t total = a.indices.size() + b.indices.size() - common;
  return total == 0 ? 0.0 : static_cast<double>(common) / static_cast<double>(total);
}

double TanimotoCounts(const SparseFingerprint& a, const SparseFingerprint& b) {
  size_t i = 0, j = 0;
  double lo = 0.0, hi = 0.0;
  while (i < a.indices.size() || j < b.indices.size()) {
    if (j >= b.indices.size() || (i < a.indices.size() && a.indices[i] < b.indices[j])) {
      hi += a.values[i++];
    } else if (i >= a.indices.size() || b.indices[j] < a.indices[i]) {
      hi += b.values[j++];
    } else {
      lo += std::min(a.values[i], b.values[j]);
      hi += std::max(a.values[i], b.values[j]);
      ++i, ++j;
    }
  }
  return hi == 0.0 ? 0.0 : lo / hi;
}

}  // namespace labloop::chem
