#include <catch2/catch.hpp>

#include <cmath>

#include "core/chem/geometry.h"

using namespace labloop::chem;

TEST_CASE("ETKDG + MMFF gives a reproducible 3D geometry with hydrogens") {
  auto m = Molecule::FromSmiles("CCO");
  REQUIRE(m);
  auto g = Embed3D(*m);
  REQUIRE(g);
  CHECK(g->AtomCount() == 9);
  CHECK(g->force_field == "MMFF94");
  CHECK(g->force_field_converged);
  // C-C bond length near 1.51 Angstrom.
  double dx = g->xyz_angstrom[0] - g->xyz_angstrom[3], dy = g->xyz_angstrom[1] - g->xyz_angstrom[4],
         dz = g->xyz_angstrom[2] - g->xyz_angstrom[5];
  CHECK(std::sqrt(dx * dx + dy * dy + dz * dz) == Approx(1.51).margin(0.05));
  auto again = Embed3D(*m);
  REQUIRE(again);
  CHECK(again->xyz_angstrom == g->xyz_angstrom);
  CHECK(g->ToXyz("ethanol").rfind("9\nethanol\nC ", 0) == 0);
}

TEST_CASE("Charge and radicals are carried into the geometry") {
  auto m = Molecule::FromSmiles("C[NH3+]");
  REQUIRE(m);
  auto g = Embed3D(*m);
  REQUIRE(g);
  CHECK(g->charge == 1);
  CHECK(g->unpaired_electrons == 0);
}

TEST_CASE("A geometry with a stretched bond is refused rather than used") {
  // A strained cage that MMFF relaxes to a 2.0 A C-C bond with seed 42 (checked with RDKit).
  auto cage = Molecule::FromSmiles("CC12C(=O)C3C4C3C1C42");
  REQUIRE(cage);
  EmbedOptions one;
  one.attempts = 1;
  auto first = Embed3D(*cage, one);
  REQUIRE_FALSE(first);
  CHECK(first.error().message.rfind("no sane 3d geometry: bond C", 0) == 0);
  CHECK(first.error().message.find("is stretched (1 attempts)") != std::string::npos);
  // Every geometry that is returned has sane bonds.
  EmbedOptions many;
  many.attempts = 8;
  auto any = Embed3D(*cage, many);
  if (any) CHECK(any->attempts > 1);
}
