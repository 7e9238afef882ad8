#include "generators/graph_ga.h"

#include <GraphMol/ChemReactions/Reaction.h>
#include <GraphMol/ChemReactions/ReactionParser.h>
#include <GraphMol/ChemTransforms/ChemTransforms.h>
#include <GraphMol/ChemTransforms/MolFragmenter.h>
#include <GraphMol/MolOps.h>
#include <GraphMol/RWMol.h>
#include <GraphMol/SmilesParse/SmilesParse.h>
#include <GraphMol/SmilesParse/SmilesWrite.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "core/chem/reader.h"
#include "core/log.h"
#include "generators/pool_generator.h"

namespace labloop::generators {

namespace {

using RDKit::ROMol;
using RDKit::RWMol;
using MolPtr = RDKit::ROMOL_SPTR;  // RDKit's own (boost) shared pointer

// The mutations, as reaction SMARTS on kekulized molecules (hydrogens implicit).
const std::vector<std::string>& MutationSmarts() {
  static const std::vector<std::string> rules = {
      // append an atom to one that has a hydrogen
      "[*;!H0:1]>>[*:1]-[#6]", "[*;!H0:1]>>[*:1]-[#7]", "[*;!H0:1]>>[*:1]-[#8]",
      "[*;!H0:1]>>[*:1]-[#9]", "[*;!H0:1]>>[*:1]-[#17]", "[*;!H0;!H1:1]>>[*:1]=[#8]",
      "[*;!H0;!H1:1]>>[*:1]=[#6]",
      // delete a terminal atom, or one bridging two others
      "[*:1]-[D1:2]>>[*:1]", "[*:1]-[D2:2]-[*:3]>>[*:1]-[*:3]",
      // change an element
      "[#6:1]>>[#7:1]", "[#7:1]>>[#6:1]", "[#6:1]>>[#8:1]", "[#8:1]>>[#6:1]", "[#6:1]>>[#16:1]",
      "[#8:1]>>[#7:1]",
      // insert an atom into a bond
      "[*:1]-[*:2]>>[*:1]-[#6]-[*:2]", "[*:1]-[*:2]>>[*:1]-[#7]-[*:2]",
      "[*:1]-[*:2]>>[*:1]-[#8]-[*:2]",
      // change a bond order
      "[*;!H0:1]-[*;!H0:2]>>[*:1]=[*:2]", "[*:1]=[*:2]>>[*:1]-[*:2]",
      "[*;!H0:1]=[*;!H0:2]>>[*:1]#[*:2]", "[*:1]#[*:2]>>[*:1]=[*:2]",
      // close a five- or six-membered ring on a chain; open a ring
      "[*;!r;!H0:1]-[*;!r:2]-[*;!r:3]-[*;!r:4]-[*;!r;!H0:5]>>[*:1]1-[*:2]-[*:3]-[*:4]-[*:5]-1",
      "[*;!r;!H0:1]-[*;!r:2]-[*;!r:3]-[*;!r:4]-[*;!r:5]-[*;!r;!H0:6]>>"
      "[*:1]1-[*:2]-[*:3]-[*:4]-[*:5]-[*:6]-1",
      "[*:1]@-[*:2]>>([*:1].[*:2])"};
  return rules;
}

// Parsed once; reactions are used read-only afterwards.
const std::vector<std::unique_ptr<RDKit::ChemicalReaction>>& Mutations() {
  static const auto reactions = [] {
    std::vector<std::unique_ptr<RDKit::ChemicalReaction>> out;
    for (const auto& smarts : MutationSmarts()) {
      std::unique_ptr<RDKit::ChemicalReaction> rxn(RDKit::RxnSmartsToChemicalReaction(smarts));
      if (!rxn) continue;
      rxn->initReactantMatchers();
      out.push_back(std::move(rxn));
    }
    return out;
  }();
  return reactions;
}

// A sanitized molecule's canonical SMILES, or "" when it does not sanitize or is out of bounds.
std::string Finish(RWMol& mol, const GeneratorOptions& o) {
  try {
    RDKit::MolOps::sanitizeMol(mol);
  } catch (const std::exception&) {
    return "";
  }
  const int heavy = static_cast<int>(mol.getNumHeavyAtoms());
  if (heavy < o.min_heavy_atoms || heavy > o.max_heavy_atoms) return "";
  for (const auto& ring : mol.getRingInfo()->atomRings()) {
    if (ring.size() < 3 || ring.size() > 8) return "";  // no macrocycles, no strained oddities
  }
  // An atom that kept an explicit hydrogen count through an edit can end up a radical.
  for (const auto* atom : mol.atoms()) {
    if (atom->getNumRadicalElectrons() > 0) return "";
  }
  std::string smiles;
  try {
    smiles = RDKit::MolToSmiles(mol);
  } catch (const std::exception&) {
    return "";
  }
  if (smiles.find('.') != std::string::npos) return "";  // one molecule, not fragments
  return smiles;
}

MolPtr Kekulized(const std::string& smiles) {
  try {
    std::unique_ptr<RWMol> mol(RDKit::SmilesToMol(smiles));
    if (!mol) return nullptr;
    RDKit::MolOps::Kekulize(*mol, /*markAtomsBonds=*/true);
    return MolPtr(mol.release());
  } catch (const std::exception&) {  // a SMILES that does not parse back: no parent
    return nullptr;
  }
}

template <typename Rng>
std::string Mutate(const std::string& smiles, const GeneratorOptions& o, Rng& rng) {
  MolPtr mol = Kekulized(smiles);
  if (!mol) return "";
  const auto& rules = Mutations();
  for (int attempt = 0; attempt < 10; ++attempt) {
    const auto& rxn = rules[std::uniform_int_distribution<size_t>(0, rules.size() - 1)(rng)];
    std::vector<RDKit::MOL_SPTR_VECT> products;
    try {
      products = rxn->runReactants(RDKit::MOL_SPTR_VECT{mol}, 200);
    } catch (const std::exception&) {
      continue;
    }
    if (products.empty()) continue;
    const auto& pick = products[std::uniform_int_distribution<size_t>(0, products.size() - 1)(rng)];
    if (pick.empty()) continue;
    RWMol product(*pick[0]);
    std::string out = Finish(product, o);
    if (!out.empty() && out != smiles) return out;
  }
  return "";
}

// One piece of `smiles` cut at a random acyclic single bond, with a dummy atom where it was cut.
template <typename Rng>
MolPtr Piece(const std::string& smiles, Rng& rng) {
  MolPtr mol = Kekulized(smiles);
  if (!mol) return nullptr;
  std::vector<unsigned> cuttable;
  for (const auto* bond : mol->bonds()) {
    if (bond->getBondType() == RDKit::Bond::SINGLE &&
        !mol->getRingInfo()->numBondRings(bond->getIdx())) {
      cuttable.push_back(bond->getIdx());
    }
  }
  if (cuttable.empty()) return nullptr;
  unsigned bond = cuttable[std::uniform_int_distribution<size_t>(0, cuttable.size() - 1)(rng)];
  std::unique_ptr<ROMol> cut(RDKit::MolFragmenter::fragmentOnBonds(*mol, {bond}, true));
  std::vector<RDKit::ROMOL_SPTR> pieces = RDKit::MolOps::getMolFrags(*cut, /*sanitizeFrags=*/false);
  if (pieces.empty()) return nullptr;
  return pieces[std::uniform_int_distribution<size_t>(0, pieces.size() - 1)(rng)];
}

template <typename Rng>
std::string Crossover(const std::string& a, const std::string& b, const GeneratorOptions& o,
                      Rng& rng) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    MolPtr left = Piece(a, rng), right = Piece(b, rng);
    if (!left || !right) return "";
    // Each piece has one dummy atom where it was cut: label both alike and let RDKit zip them
    // together, which keeps the chirality of the atoms next to the cut.
    RWMol l(*left), r(*right);
    int labelled = 0;
    for (RWMol* piece : {&l, &r}) {
      for (auto* atom : piece->atoms()) {
        if (atom->getAtomicNum() == 0 && atom->getDegree() == 1) {
          atom->setAtomMapNum(1);
          ++labelled;
          break;
        }
      }
    }
    if (labelled != 2) continue;
    std::unique_ptr<ROMol> zipped(RDKit::molzip(l, r));
    if (!zipped) continue;
    RWMol mol(*zipped);
    std::string out = Finish(mol, o);
    if (!out.empty()) return out;
  }
  return "";
}

struct Member {
  std::string smiles;
  double fitness = 0;
  nlohmann::json provenance;
};

class GraphGa final : public Generator {
 public:
  explicit GraphGa(GeneratorOptions options) : options_(std::move(options)) {}
  std::string Kind() const override { return "graph_ga"; }
  std::string Report() const override { return report_.dump(); }

  Result<std::vector<Proposal>> Generate(int64_t n) override {
    std::mt19937_64 rng(options_.seed);
    fitness_calls_ = 0;
    // The starting population: the seeds given, or a sample of the pool.
    auto start = StartingPopulation();
    if (!start) return tl::unexpected(start.error());
    if (start->size() < 2) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "graph_ga needs at least 2 starting molecules from '" + options_.pool + "'");
    }
    std::vector<Member> population;
    std::set<std::string> seen;
    for (const auto& p : *start) {
      seen.insert(p.smiles);
      population.push_back(
          {p.smiles, 0, {{"generation", 0}, {"from", nlohmann::json::parse(p.provenance)}}});
    }
    LABLOOP_TRY(Score(population));
    Sort(population);
    double best = population.front().fitness;
    int best_generation = 0;
    int64_t calls_to_best = fitness_calls_;
    std::vector<Member> archive;  // every child made, of any generation
    for (int generation = 1; generation <= options_.generations; ++generation) {
      std::vector<Member> children;
      const auto weights = Weights(population);
      std::discrete_distribution<size_t> parent(weights.begin(), weights.end());
      const int offspring = 2 * options_.population;  // GuacaMol's graph GA: twice the population
      for (int tries = 0; tries < 4 * offspring && static_cast<int>(children.size()) < offspring;
           ++tries) {
        const Member& a = population[parent(rng)];
        const Member& b = population[parent(rng)];
        std::string child;
        try {
          child = Crossover(a.smiles, b.smiles, options_, rng);
        } catch (const std::exception&) {  // RDKit rejected an edit: no child this time
          continue;
        }
        nlohmann::json how = {{"generation", generation}, {"parents", {a.smiles, b.smiles}}};
        if (child.empty()) continue;
        if (std::uniform_real_distribution<double>(0, 1)(rng) < options_.mutation_rate) {
          std::string mutated;
          try {
            mutated = Mutate(child, options_, rng);
          } catch (const std::exception&) {
          }
          if (!mutated.empty()) {
            child = mutated;
            how["mutated"] = true;
          }
        }
        if (!seen.insert(child).second) continue;
        children.push_back({child, 0, how});
      }
      LABLOOP_TRY(Score(children));
      archive.insert(archive.end(), children.begin(), children.end());
      for (auto& c : children) population.push_back(std::move(c));
      Sort(population);
      if (static_cast<int>(population.size()) > options_.population) {
        population.resize(options_.population);
      }
      if (population.front().fitness > best) {
        best = population.front().fitness;
        best_generation = generation;
        calls_to_best = fitness_calls_;
        LogDebug("graph_ga generation {}: best {:.3f} {}", generation, best,
                 population.front().smiles);
      }
    }
    report_ = {
        {"generations", options_.generations},         {"fitness_calls", fitness_calls_},
        {"best_found_in_generation", best_generation}, {"fitness_calls_to_best", calls_to_best},
        {"best_fitness", population.front().fitness},  {"best_smiles", population.front().smiles}};
    // The best n children of any generation, standardized and identified like every proposal:
    // the starting molecules are known already (in a campaign, candidates), never proposed.
    Sort(archive);
    std::vector<Proposal> out;
    std::set<std::string> keys;
    chem::ReadOptions read;
    for (const auto& m : archive) {
      if (static_cast<int64_t>(out.size()) >= n) break;
      auto record = chem::ProcessSmiles(m.smiles, read);
      if (!record || !keys.insert(record->inchikey).second) continue;
      nlohmann::json provenance = m.provenance;
      provenance["fitness"] = m.fitness;
      out.push_back({record->smiles, record->inchikey, "graph_ga", provenance.dump()});
    }
    return out;
  }

 private:
  Result<std::vector<Proposal>> StartingPopulation() const {
    if (options_.seeds.empty()) {
      auto pool_options = options_;
      pool_options.kind = "pool";
      auto pool = CreatePoolGenerator(pool_options);
      if (!pool) return tl::unexpected(pool.error());
      return (*pool)->Generate(options_.population);
    }
    std::vector<Proposal> out;
    for (const auto& s : options_.seeds) {
      if (static_cast<int>(out.size()) >= options_.population) break;
      nlohmann::json from = {{"seed", s}};
      out.push_back({s, "", "seed", from.dump()});
    }
    return out;
  }

  Status Score(std::vector<Member>& members) {
    if (members.empty()) return {};
    std::vector<std::string> smiles;
    for (const auto& m : members) smiles.push_back(m.smiles);
    auto scores = options_.fitness(smiles);
    if (!scores) return tl::unexpected(scores.error());
    if (scores->size() != members.size()) {
      return MakeError(ErrorCode::kInternal, "the fitness scored a different number of molecules");
    }
    fitness_calls_ += static_cast<int64_t>(members.size());
    // A non-finite score would break sorting and selection: it becomes the lowest finite one.
    double lowest = 0;
    bool any = false;
    for (double v : *scores) {
      if (std::isfinite(v)) lowest = any ? std::min(lowest, v) : v, any = true;
    }
    for (size_t i = 0; i < members.size(); ++i) {
      const double v = (*scores)[i];
      members[i].fitness = std::isfinite(v) ? v : lowest;
    }
    return {};
  }

  static void Sort(std::vector<Member>& population) {
    std::stable_sort(population.begin(), population.end(),
                     [](const Member& a, const Member& b) { return a.fitness > b.fitness; });
  }

  // Selection weights: fitness shifted so that the worst still has a small chance.
  static std::vector<double> Weights(const std::vector<Member>& population) {
    double low = population.back().fitness, high = population.front().fitness;
    double span = std::max(high - low, 1e-9);
    std::vector<double> w;
    for (const auto& m : population) w.push_back(0.05 + (m.fitness - low) / span);
    return w;
  }

  GeneratorOptions options_;
  int64_t fitness_calls_ = 0;
  nlohmann::json report_ = nlohmann::json::object();
};

}  // namespace

Result<std::unique_ptr<Generator>> CreateGraphGa(const GeneratorOptions& options) {
  if (!options.fitness) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "graph_ga needs a fitness (in a campaign: the acquisition value; "
                     "labloop generate: --target SMILES)");
  }
  if (options.pool.empty() && options.seeds.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "graph_ga needs a starting population (--pool FILE)");
  }
  if (options.population < 2 || options.generations < 0 ||
      !(options.mutation_rate >= 0 && options.mutation_rate <= 1)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "graph_ga: population must be at least 2, generations not negative, "
                     "mutation_rate in [0, 1]");
  }
  return std::unique_ptr<Generator>(new GraphGa(options));
}

}  // namespace labloop::generators
