// Structural alerts, drug-likeness rules and the SA score, against RDKit's own Python results.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "core/chem/filters.h"
#include "core/chem/sa_score.h"

using namespace labloop;
using namespace labloop::chem;

namespace {
std::set<std::string> Reasons(const std::string& smiles, const FilterOptions& options) {
  auto molecule = Molecule::FromSmiles(smiles);
  REQUIRE(molecule);
  auto verdict = ApplyFilters(*molecule, options);
  REQUIRE(verdict);
  CHECK(verdict->pass == verdict->reasons.empty());
  return {verdict->reasons.begin(), verdict->reasons.end()};
}
}  // namespace

TEST_CASE("PAINS and Brenk alerts match RDKit's FilterCatalog") {
  // Expected: RDKit 2022.09's Python FilterCatalog on the same SMILES (GetDescription()).
  FilterOptions alerts;
  CHECK(Reasons("O=C1C(=Cc2ccccc2)SC(=S)N1", alerts) ==
        std::set<std::string>{"PAINS: ene_rhod_A(235)", "Brenk: Michael_acceptor_1",
                              "Brenk: Thiocarbonyl_group"});
  CHECK(Reasons("c1ccccc1N=Nc1ccccc1", alerts) ==
        std::set<std::string>{"PAINS: azo_A(324)", "Brenk: diazo_group"});
  CHECK(Reasons("O=[N+]([O-])c1ccccc1", alerts) ==
        std::set<std::string>{"Brenk: nitro_group", "Brenk: Oxygen-nitrogen_single_bond"});
  CHECK(Reasons("Oc1ccc(O)cc1", alerts) == std::set<std::string>{"Brenk: hydroquinone"});
  CHECK(Reasons("CC(C)Cc1ccc(cc1)C(C)C(=O)O", alerts).empty());  // ibuprofen
  FilterOptions pains_only;
  pains_only.brenk = false;
  CHECK(Reasons("O=[N+]([O-])c1ccccc1", pains_only).empty());
}

TEST_CASE("Lipinski and Veber rules name what they found") {
  FilterOptions rules;
  rules.pains = rules.brenk = false;
  rules.lipinski = rules.veber = true;
  CHECK(Reasons("CC(C)Cc1ccc(cc1)C(C)C(=O)O", rules).empty());
  // A C40 alkane: MW 563 and cLogP 15.7 (two violations); 37 rotatable bonds.
  auto greasy = Reasons(std::string(40, 'C'), rules);
  REQUIRE(greasy.size() == 2);
  CHECK(greasy.begin()->rfind("Lipinski: 2 violations", 0) == 0);
  CHECK(std::next(greasy.begin())->rfind("Veber: 37 rotatable bonds", 0) == 0);
}

TEST_CASE("The SA score matches RDKit's sascorer on its 100 reference molecules") {
  auto scorer = SaScorer::Load();
  INFO((scorer ? "" : scorer.error().message));
  REQUIRE(scorer);
  CHECK(scorer->Fragments() > 700000);
  std::ifstream in(std::string(LABLOOP_SHARED_DATA) + "/rdkit/sa_score_zim.100.txt");
  REQUIRE(in);
  std::string line;
  std::getline(in, line);  // smiles  Name  sa_score
  int n = 0;
  double worst = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string smiles, name;
    double expected = 0;
    fields >> smiles >> name >> expected;
    auto molecule = Molecule::FromSmiles(smiles);
    REQUIRE(molecule);
    double got = scorer->Score(*molecule);
    INFO(name << " " << smiles << ": " << got << " vs " << expected);
    CHECK(got == Approx(expected).margin(0.01));  // the reference has 3 decimals
    worst = std::max(worst, std::abs(got - expected));
    ++n;
  }
  CHECK(n == 100);
  WARN("largest SA score difference from the reference: " << worst);

  FilterOptions easy;
  easy.pains = easy.brenk = false;
  easy.max_sa = 3.0;
  auto ibuprofen = Molecule::FromSmiles("CC(C)Cc1ccc(cc1)C(C)C(=O)O");
  auto verdict = ApplyFilters(*ibuprofen, easy);
  REQUIRE(verdict);
  CHECK(verdict->pass);
  REQUIRE(verdict->sa_score);
  CHECK(*verdict->sa_score < 3.0);
  CHECK_FALSE(SaScorer::Load("/nonexistent/fpscores.pkl.gz"));
}

TEST_CASE("Novelty and similarity bounds - similarities as RDKit computes them") {
  const std::string celecoxib = "Cc1ccc(-c2cc(C(F)(F)F)nn2-c2ccc(S(N)(=O)=O)cc2)cc1";
  const std::string methyl_sulfone = "Cc1ccc(-c2cc(C(F)(F)F)nn2-c2ccc(S(C)(=O)=O)cc2)cc1";
  auto reference = ReferenceSet::FromSmiles({celecoxib, "c1ccccc1"});
  REQUIRE(reference->size() == 2);
  // RDKit (Python, same version): Tanimoto on Morgan radius 2, 2048 bits.
  auto analogue = Molecule::FromSmiles(methyl_sulfone);
  auto [nearest, similarity] = reference->Nearest(ReferenceSet::Fingerprint(*analogue));
  CHECK(nearest == 0);
  CHECK(similarity == Approx(0.7954545454545454).epsilon(1e-12));
  auto benzene_like =
      reference->Nearest(ReferenceSet::Fingerprint(*Molecule::FromSmiles("c1ccccc1")));
  CHECK(benzene_like.second == Approx(1.0));

  FilterOptions options;
  options.pains = options.brenk = false;
  options.known = reference;
  auto verdict = ApplyFilters(*Molecule::FromSmiles(celecoxib), options);
  REQUIRE(verdict);
  CHECK(!verdict->pass);
  CHECK(verdict->reasons == std::vector<std::string>{"not novel: a known molecule"});
  CHECK(ApplyFilters(*analogue, options)->pass);  // new, and no similarity bound asked for
  options.max_known_similarity = 0.7;
  verdict = ApplyFilters(*analogue, options);
  CHECK(!verdict->pass);
  CHECK(verdict->reasons.at(0).find("similarity 0.795 to known " + celecoxib) != std::string::npos);

  // A known salt is known as the parent a candidate is stored as.
  FilterOptions salts;
  salts.pains = salts.brenk = false;
  salts.known = ReferenceSet::FromSmiles({"CC(=O)[O-].[Na+]", "C1CC"});
  CHECK(salts.known->size() == 1);  // the unreadable one is left out (and logged)
  auto acid = ApplyFilters(*Molecule::FromSmiles("CC(=O)O"), salts);
  REQUIRE(acid);
  CHECK(!acid->pass);

  FilterOptions bounds;
  bounds.pains = bounds.brenk = false;
  bounds.reference = ReferenceSet::FromSmiles({celecoxib});
  bounds.min_similarity = 0.3;
  bounds.max_similarity = 0.9;
  CHECK(ApplyFilters(*analogue, bounds)->pass);
  verdict = ApplyFilters(*Molecule::FromSmiles("CCCCO"), bounds);
  CHECK(!verdict->pass);
  CHECK(verdict->reasons.at(0).find("to the nearest reference < 0.3") != std::string::npos);
  verdict = ApplyFilters(*Molecule::FromSmiles(celecoxib), bounds);
  CHECK(!verdict->pass);
  CHECK(verdict->reasons.at(0).find("> 0.9") != std::string::npos);
}
