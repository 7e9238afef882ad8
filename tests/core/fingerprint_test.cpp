#include <catch2/catch.hpp>

#include "core/chem/fingerprint.h"

using namespace labloop::chem;

namespace {
SparseFingerprint Fp(const char* smiles, bool counts) {
  MorganOptions options;
  options.counts = counts;
  return MorganFingerprint(*Molecule::FromSmiles(smiles), options);
}
}  // namespace

TEST_CASE("Morgan fingerprints are sparse - sorted and within the folded size") {
  auto fp = Fp("CC(=O)Oc1ccccc1C(=O)O", true);
  REQUIRE(!fp.indices.empty());
  CHECK(fp.size == 2048);
  CHECK(std::is_sorted(fp.indices.begin(), fp.indices.end()));
  for (auto i : fp.indices) CHECK(i < 2048);
  float total = 0;
  for (float v : fp.values) total += v;
  CHECK(total > static_cast<float>(fp.indices.size()));  // some environments repeat
  auto bits = Fp("CC(=O)Oc1ccccc1C(=O)O", false);
  for (float v : bits.values) CHECK(v == 1.0f);
}

TEST_CASE("Tanimoto similarity on bits and counts") {
  auto a = Fp("c1ccccc1O", false);
  auto b = Fp("c1ccccc1N", false);
  CHECK(TanimotoBits(a, a) == 1.0);
  double s = TanimotoBits(a, b);
  CHECK(s > 0.1);
  CHECK(s < 1.0);
  CHECK(TanimotoBits(a, b) == TanimotoBits(b, a));
  SparseFingerprint x{{1, 3}, {2, 1}, 8}, y{{1, 2}, {1, 4}, 8};
  CHECK(TanimotoCounts(x, y) == Approx(1.0 / 7.0));  // min: 1 ; max: 2 + 4 + 1
  CHECK(TanimotoBits(x, y) == Approx(1.0 / 3.0));
  CHECK(TanimotoBits(SparseFingerprint{}, SparseFingerprint{}) == 0.0);
}

TEST_CASE("Fingerprints serialize and deserialize exactly") {
  auto fp = Fp("CCN(CC)CC", true);
  auto back = SparseFingerprint::Deserialize(fp.Serialize());
  REQUIRE(back);
  CHECK(back->indices == fp.indices);
  CHECK(back->values == fp.values);
  CHECK(back->size == fp.size);
  CHECK_FALSE(SparseFingerprint::Deserialize("abc"));
}
