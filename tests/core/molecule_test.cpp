#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <set>

#include "core/chem/descriptors.h"
#include "core/chem/molecule.h"
#include "core/chem/reader.h"
#include "core/parallel.h"

using namespace labloop;
using labloop::chem::Molecule;

TEST_CASE("SMILES parse to canonical SMILES") {
  auto a = Molecule::FromSmiles("OCC");
  auto b = Molecule::FromSmiles("C(O)C");
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->CanonicalSmiles() == "CCO");
  CHECK(a->CanonicalSmiles() == b->CanonicalSmiles());
  CHECK(a->HeavyAtomCount() == 3);
}

TEST_CASE("InChIKeys match the IUPAC reference values - stereo included") {
  struct Case {
    const char* smiles;
    const char* key;
  };
  // Reference keys from PubChem.
  const Case cases[] = {
      {"CCO", "LFQSCWFLJHTTHZ-UHFFFAOYSA-N"},                    // ethanol
      {"c1ccccc1", "UHOVQNZJYSORNB-UHFFFAOYSA-N"},               // benzene
      {"C[C@@H](C(=O)O)N", "QNAYBMKLOCPYGJ-REOHCLBHSA-N"},       // L-alanine
      {"C[C@H](C(=O)O)N", "QNAYBMKLOCPYGJ-UWTATZPHSA-N"},        // D-alanine
      {"CC(C(=O)O)N", "QNAYBMKLOCPYGJ-UHFFFAOYSA-N"},            // alanine, no stereo
      {"C/C=C/C", "IAQRGUVFOMOMEM-ONEGZZNKSA-N"},                // (E)-2-butene
      {"C/C=C\\C", "IAQRGUVFOMOMEM-ARJAWSKDSA-N"},               // (Z)-2-butene
      {"CC(=O)Oc1ccccc1C(=O)O", "BSYNRYMUTXBXSQ-UHFFFAOYSA-N"},  // aspirin
      {"[NH4+]", "QGZKDVFQNNGYKY-UHFFFAOYSA-O"},                 // ammonium
  };
  for (const auto& c : cases) {
    INFO(c.smiles);
    auto m = Molecule::FromSmiles(c.smiles);
    REQUIRE(m);
    auto key = m->InchiKey();
    REQUIRE(key);
    CHECK(*key == c.key);
  }
}

// RDKit 2022.09's SmilesToMol calls setenv on every parse. Had it to add a new variable, glibc
// would reallocate the environment array under the getenv calls of parses on other threads (a
// rare segfault); the variable is set before main, so parsing never moves the array.
TEST_CASE("Parallel SMILES parsing never reallocates the environment array") {
  REQUIRE(std::getenv("RDK_USE_LEGACY_STEREO_PERCEPTION") != nullptr);
  char** before = environ;
  std::atomic<int> parsed{0};
  ParallelFor(64, 2, [&](int64_t i) {
    if (Molecule::FromSmiles(i % 2 ? "c1ccccc1O" : "C[C@H](N)C(=O)O")) ++parsed;
  });
  CHECK(parsed == 64);
  CHECK(environ == before);
}

TEST_CASE("Invalid - empty and oversized molecules are rejected with a reason") {
  auto bad = Molecule::FromSmiles("C1CC");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == ErrorCode::kInvalidArgument);
  CHECK(bad.error().message == "unparsable smiles 'C1CC'");
  CHECK(Molecule::FromSmiles("").error().message == "empty smiles");
  CHECK(Molecule::FromSmiles("[H][H]").error().message == "empty molecule (no heavy atoms)");
  chem::MoleculeLimits limits;
  limits.max_heavy_atoms = 5;
  CHECK(Molecule::FromSmiles("CCCCCC", limits).error().message ==
        "too many heavy atoms: 6 (limit 5)");
  limits.max_smiles_length = 4;
  CHECK(Molecule::FromSmiles("CCCCC", limits).error().message ==
        "smiles too long: 5 characters (limit 4)");
}

TEST_CASE("Standardization keeps the largest fragment and neutralizes it") {
  auto salt = Molecule::FromSmiles("CC(=O)[O-].[Na+]");
  REQUIRE(salt);
  auto parent = salt->Standardized();
  REQUIRE(parent);
  CHECK(parent->CanonicalSmiles() == "CC(=O)O");
  CHECK(parent->FormalCharge() == 0);
  // The organic fragment, also where the inorganic counter-ion is as large and heavier.
  auto sulfate = Molecule::FromSmiles("CN.OS(=O)(=O)O");
  REQUIRE(sulfate);
  CHECK(sulfate->Standardized()->CanonicalSmiles() == "CN");
}

TEST_CASE("Descriptors are computed in the order of their names") {
  auto m = Molecule::FromSmiles("CC(=O)Oc1ccccc1C(=O)O");  // aspirin
  REQUIRE(m);
  auto values = chem::ComputeDescriptors(*m);
  const auto& names = chem::DescriptorNames();
  REQUIRE(values.size() == names.size());
  auto value = [&](const std::string& name) {
    return values[std::find(names.begin(), names.end(), name) - names.begin()];
  };
  CHECK(value("mol_wt") == Approx(180.159).epsilon(1e-3));
  CHECK(value("hbd") == 1);
  CHECK(value("hba") == 3);
  CHECK(value("aromatic_rings") == 1);
  CHECK(value("heavy_atoms") == 13);
  CHECK(value("tpsa") == Approx(63.6).epsilon(1e-2));
}

TEST_CASE("Descriptors of many molecules on several threads come back in input order") {
  auto set = chem::ParseDescriptorSet("rdkit2d");
  REQUIRE(set);
  std::vector<std::string> smiles;
  for (int i = 0; i < 60; ++i) {
    smiles.push_back(std::vector<std::string>{"CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1",
                                              "CN1CCC[C@H]1c1cccnc1"}[i % 4] +
                     std::string(i / 4, 'C'));  // every row a different molecule
  }
  auto rows = chem::ComputeDescriptorRows(smiles, *set, 2);
  REQUIRE(rows);
  REQUIRE(rows->size() == smiles.size());
  for (size_t i = 0; i < smiles.size(); ++i) {
    auto m = Molecule::FromSmiles(smiles[i]);
    REQUIRE(m);
    CHECK((*rows)[i] == chem::ComputeDescriptors(*m, *set));
  }
  smiles[17] = "C1CC";
  auto bad = chem::ComputeDescriptorRows(smiles, *set, 2);
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.error().message, Catch::Contains("molecule 18: no descriptors for 'C1CC'"));
  // Asked for the failures instead: that row alone is left empty, and says why.
  std::vector<std::string> failures;
  auto some = chem::ComputeDescriptorRows(smiles, *set, 2, "descriptors", {}, &failures);
  REQUIRE(some);
  REQUIRE(failures.size() == smiles.size());
  for (size_t i = 0; i < smiles.size(); ++i) {
    if (i == 17) {
      CHECK((*some)[i].empty());
      CHECK_THAT(failures[i], Catch::Contains("molecule 18: no descriptors for 'C1CC'"));
    } else {
      CHECK(failures[i].empty());
      CHECK((*some)[i] == (*rows)[i]);
    }
  }
}

TEST_CASE("The rdkit2d descriptor set agrees with RDKit's Python descriptors") {
  auto set = chem::ParseDescriptorSet("rdkit2d");
  REQUIRE(set);
  auto m = Molecule::FromSmiles("CC(=O)Oc1ccccc1C(=O)O");  // aspirin
  REQUIRE(m);
  auto values = chem::ComputeDescriptors(*m, *set);
  const auto& names = chem::DescriptorNames(*set);
  REQUIRE(values.size() == names.size());
  CHECK(names.size() == 43 + 12 + 10 + 14 + 42 + 85);
  CHECK(std::set<std::string>(names.begin(), names.end()).size() == names.size());
  auto value = [&](const std::string& name) {
    auto at = std::find(names.begin(), names.end(), name);
    REQUIRE(at != names.end());
    return values[at - names.begin()];
  };
  // Reference values from RDKit's Python (rdkit.Chem.Descriptors, rdMolDescriptors).
  CHECK(value("CrippenClogP") == Approx(1.3101));
  CHECK(value("chi1v") == Approx(3.6174536));
  CHECK(value("PEOE_VSA1") == Approx(9.8433903));
  CHECK(value("SlogP_VSA2") == Approx(17.0451380));
  CHECK(value("SMR_VSA7") == Approx(29.8289195));
  CHECK(value("MQN1") == 9);    // carbons
  CHECK(value("MQN12") == 13);  // heavy atoms
  CHECK(value("fr_ester") == 1);
  CHECK(value("fr_COO") == 1);
  CHECK(value("fr_benzene") == 1);
  CHECK(value("fr_C_O") == 2);  // RDKit's Python name for "fr_C=O"

  auto unknown = chem::ParseDescriptorSet("rdkit3d");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message == "unknown descriptor set 'rdkit3d' (known: basic, rdkit2d)");
}

TEST_CASE("Mol blocks round-trip") {
  auto m = Molecule::FromSmiles("c1ccncc1O");
  REQUIRE(m);
  auto block = m->MolBlock();
  REQUIRE(block);
  auto back = Molecule::FromMolBlock(*block);
  REQUIRE(back);
  CHECK(back->CanonicalSmiles() == m->CanonicalSmiles());
}

TEST_CASE("The standardizer's fast path agrees with the full standardizer on QM9",
          "[integration]") {
  // Molecules that skip the standardizer must come out exactly as the standardizer would make them.
  auto report =
      chem::ReadMoleculeFile(std::string(LABLOOP_SOURCE_DIR) + "/examples/qm9-gap/pool.smi");
  REQUIRE(report);
  int checked = 0;
  for (const auto& r : report->records) {
    auto m = Molecule::FromSmiles(r.input);
    REQUIRE(m);
    // Force the full path by adding a spectator fragment, then compare.
    auto with_salt = Molecule::FromSmiles(r.input + ".[Na+].[Cl-]");
    REQUIRE(with_salt);
    auto full = with_salt->Standardized();
    REQUIRE(full);
    CHECK(full->CanonicalSmiles() == r.smiles);
    ++checked;
  }
  CHECK(checked == 2000);
}

TEST_CASE("CanonicalSmilesOf: RDKit's canonical SMILES in input order - empty where unparsable") {
  std::vector<std::string> in{"OCC", "", "C1CC", "c1ccccc1O"};
  for (int i = 0; i < 200; ++i) in.push_back(i % 2 ? "C(C)O" : "not a smiles");
  auto out = chem::CanonicalSmilesOf(in);
  REQUIRE(out.size() == in.size());
  CHECK(out[0] == "CCO");
  CHECK(out[1].empty());
  CHECK(out[2].empty());
  CHECK(out[3] == "Oc1ccccc1");
  for (size_t i = 4; i < in.size(); ++i) CHECK(out[i] == ((i - 4) % 2 ? "CCO" : ""));
}
