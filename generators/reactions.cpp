#include "generators/reactions.h"

#include <GraphMol/ChemReactions/Reaction.h>
#include <GraphMol/ChemReactions/ReactionParser.h>
#include <GraphMol/GraphMol.h>
#include <GraphMol/SmilesParse/SmilesParse.h>
#include <GraphMol/SmilesParse/SmilesWrite.h>
#include <GraphMol/Substruct/SubstructMatch.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/chem/reader.h"

namespace labloop::generators {

const std::vector<ReactionTemplate>& BuiltinReactions() {
  // Nucleophilic amines: not amides, sulfonamides, anilides of the reagent itself, or quaternary.
  static const std::string kAmine = "N;!H0;!$(N-C=[O,S,N]);!$(N-S(=O)=O);!$(N#*);!$(N=*);!$([N+])";
  static const std::vector<ReactionTemplate> reactions = {
      {"amide_coupling", "[C:1](=[O:2])-[OX2H1].[" + kAmine + ":3]>>[C:1](=[O:2])-[N:3]"},
      {"reductive_amination",
       "[CX3;$(C(-[#6])=O);!$(C(-[O,N,S])=O):1]=[OX1].[" + kAmine + ";!$(N-a):2]>>[C:1]-[N:2]"},
      {"suzuki_coupling", "[c:1]-[Br,I].[c,$(C=C):2]-[BX3](-[OX2H1])-[OX2H1]>>[c:1]-[*:2]"},
      {"snar", "[c;$(c(:n)),$(c1ccc(cc1)[N+](=O)[O-]),$(c1ccc(cc1)C#N):1]-[F,Cl].[" + kAmine +
                   ";!$(N-a):2]>>[c:1]-[N:2]"},
      {"buchwald_hartwig", "[c:1]-[Br,I].[" + kAmine + ";!$(N-a):2]>>[c:1]-[N:2]"},
      {"sulfonamide", "[S:1](=[O:2])(=[O:3])-[Cl].[" + kAmine + ":4]>>[S:1](=[O:2])(=[O:3])-[N:4]"},
      {"urea", "[N:1]=[C:2]=[O:3].[" + kAmine + ":4]>>[N:1]-[C:2](=[O:3])-[N:4]"},
      {"esterification", "[C:1](=[O:2])-[OX2H1].[OX2H1;$(O-c),$(O-[CX4]):3]>>[C:1](=[O:2])-[O:3]"},
      {"o_alkylation", "[c:1]-[OX2H1:2].[CH2;X4:3]-[Br,I]>>[c:1]-[O:2]-[C:3]"},
  };
  return reactions;
}

std::string DefaultBuildingBlocks() {
  return std::string(LABLOOP_GENERATOR_DATA_DIR) + "/building_blocks.csv";
}

namespace {

using ReactionPtr = std::unique_ptr<RDKit::ChemicalReaction>;

Result<ReactionPtr> Parse(const ReactionTemplate& t, const std::string& where) {
  ReactionPtr rxn;
  try {
    rxn.reset(RDKit::RxnSmartsToChemicalReaction(t.smarts));
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInvalidArgument,
                     where + ": reaction '" + t.name + "' does not parse: " + e.what());
  }
  if (!rxn) {
    return MakeError(ErrorCode::kInvalidArgument,
                     where + ": reaction '" + t.name + "' does not parse");
  }
  if (rxn->getNumReactantTemplates() < 1 || rxn->getNumProductTemplates() != 1) {
    return MakeError(ErrorCode::kInvalidArgument,
                     where + ": reaction '" + t.name + "' needs reactants and one product");
  }
  rxn->initReactantMatchers();
  return rxn;
}

struct Block {
  std::string smiles;
  RDKit::ROMOL_SPTR mol;
};

struct Reaction {
  ReactionTemplate how;
  ReactionPtr rxn;
  std::vector<std::vector<size_t>> slots;  // per reactant template: the blocks that match it
  double combinations = 0;
};

class ReactionGenerator final : public Generator {
 public:
  ReactionGenerator(GeneratorOptions options, std::vector<Block> blocks,
                    std::vector<Reaction> reactions)
      : options_(std::move(options)),
        blocks_(std::move(blocks)),
        reactions_(std::move(reactions)) {}
  std::string Kind() const override { return "reactions"; }
  std::string Report() const override { return report_.dump(); }

  Result<std::vector<Proposal>> Generate(int64_t n) override {
    std::mt19937_64 rng(options_.seed);
    std::vector<double> weights;
    for (const auto& r : reactions_) weights.push_back(r.combinations);
    std::discrete_distribution<size_t> pick_reaction(weights.begin(), weights.end());
    const int64_t wanted = options_.fitness ? n * std::max(1, options_.oversample) : n;
    std::vector<Proposal> out;
    std::set<std::string> keys;
    std::map<std::string, int64_t> per_reaction;
    chem::ReadOptions read;
    int64_t attempts = 0;
    for (; static_cast<int64_t>(out.size()) < wanted && attempts < 50 * wanted + 1000; ++attempts) {
      const Reaction& r = reactions_[pick_reaction(rng)];
      RDKit::MOL_SPTR_VECT reactants;
      std::vector<std::string> names;
      for (const auto& slot : r.slots) {
        const Block& b =
            blocks_[slot[std::uniform_int_distribution<size_t>(0, slot.size() - 1)(rng)]];
        reactants.push_back(b.mol);
        names.push_back(b.smiles);
      }
      std::vector<RDKit::MOL_SPTR_VECT> products;
      try {
        products = r.rxn->runReactants(reactants, 50);
      } catch (const std::exception&) {
        continue;
      }
      if (products.empty()) continue;
      const auto& chosen =
          products[std::uniform_int_distribution<size_t>(0, products.size() - 1)(rng)];
      if (chosen.empty()) continue;
      std::string smiles;
      try {
        RDKit::RWMol product(*chosen[0]);
        RDKit::MolOps::sanitizeMol(product);
        smiles = RDKit::MolToSmiles(product);
      } catch (const std::exception&) {  // the template gave a molecule that does not sanitize
        continue;
      }
      auto record = chem::ProcessSmiles(smiles, read);
      if (!record) continue;
      const int heavy = record->smiles.empty() ? 0 : HeavyAtoms(record->smiles);
      if (heavy < options_.min_heavy_atoms || heavy > options_.max_heavy_atoms) continue;
      if (!keys.insert(record->inchikey).second) continue;
      std::string route;
      for (size_t i = 0; i < names.size(); ++i) route += (i ? "." : "") + names[i];
      route += ">>" + record->smiles;
      nlohmann::json provenance = {
          {"reaction", r.how.name}, {"reactants", names}, {"route", route}};
      out.push_back({record->smiles, record->inchikey, "reactions", provenance.dump()});
      ++per_reaction[r.how.name];
    }
    report_ = {{"attempts", attempts}, {"products", out.size()}, {"per_reaction", per_reaction}};
    if (!options_.fitness || out.empty()) return out;

    std::vector<std::string> smiles;
    for (const auto& p : out) smiles.push_back(p.smiles);
    auto scores = options_.fitness(smiles);
    if (!scores) return tl::unexpected(scores.error());
    if (scores->size() != out.size()) {
      return MakeError(ErrorCode::kInternal, "the fitness scored a different number of molecules");
    }
    std::vector<size_t> order(out.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    auto value = [&](size_t i) { return std::isfinite((*scores)[i]) ? (*scores)[i] : -1e300; };
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return value(a) > value(b); });
    std::vector<Proposal> best;
    for (size_t i = 0; i < order.size() && static_cast<int64_t>(best.size()) < n; ++i) {
      Proposal p = out[order[i]];
      auto provenance = nlohmann::json::parse(p.provenance);
      provenance["fitness"] = value(order[i]);
      p.provenance = provenance.dump();
      best.push_back(std::move(p));
    }
    report_["fitness_calls"] = out.size();
    report_["best_fitness"] = value(order.front());
    report_["best_smiles"] = out[order.front()].smiles;
    return best;
  }

 private:
  static int HeavyAtoms(const std::string& smiles) {
    std::unique_ptr<RDKit::ROMol> mol(RDKit::SmilesToMol(smiles));
    return mol ? static_cast<int>(mol->getNumHeavyAtoms()) : 0;
  }

  GeneratorOptions options_;
  std::vector<Block> blocks_;
  std::vector<Reaction> reactions_;
  nlohmann::json report_ = nlohmann::json::object();
};

}  // namespace

Result<std::vector<std::string>> RunReaction(const ReactionTemplate& reaction,
                                             const std::vector<std::string>& reactants) {
  auto rxn = Parse(reaction, "RunReaction");
  if (!rxn) return tl::unexpected(rxn.error());
  if (reactants.size() != (*rxn)->getNumReactantTemplates()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "reaction '" + reaction.name + "' takes " +
                         std::to_string((*rxn)->getNumReactantTemplates()) + " reactants");
  }
  RDKit::MOL_SPTR_VECT mols;
  for (const auto& s : reactants) {
    RDKit::ROMOL_SPTR mol;
    try {
      mol.reset(RDKit::SmilesToMol(s));
    } catch (const std::exception&) {
    }
    if (!mol) return MakeError(ErrorCode::kInvalidArgument, "unreadable reactant '" + s + "'");
    mols.push_back(mol);
  }
  std::set<std::string> out;
  for (const auto& products : (*rxn)->runReactants(mols, 1000)) {
    if (products.empty()) continue;
    try {
      RDKit::RWMol product(*products[0]);
      RDKit::MolOps::sanitizeMol(product);
      out.insert(RDKit::MolToSmiles(product));
    } catch (const std::exception&) {
    }
  }
  return std::vector<std::string>(out.begin(), out.end());
}

Result<std::vector<ReactionTemplate>> ReadReactionFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return MakeError(ErrorCode::kNotFound, "cannot open reaction file '" + path + "'");
  std::vector<ReactionTemplate> out;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    // '#' starts a comment at the line's start or after a space; inside SMARTS it is a triple
    // bond.
    if (line.rfind('#', 0) == 0) continue;
    const auto hash = line.find(" #");
    if (hash != std::string::npos) line.erase(hash);
    const auto tab_hash = line.find("\t#");
    if (tab_hash != std::string::npos) line.erase(tab_hash);
    std::istringstream fields(line);
    ReactionTemplate t;
    if (!(fields >> t.name)) continue;
    const std::string where = path + ":" + std::to_string(number);
    if (!(fields >> t.smarts)) {
      return MakeError(ErrorCode::kInvalidArgument, where + ": expected 'name SMARTS'");
    }
    auto parsed = Parse(t, where);
    if (!parsed) return tl::unexpected(parsed.error());
    out.push_back(t);
  }
  if (out.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "reaction file '" + path + "' has no reactions");
  }
  return out;
}

Result<std::unique_ptr<Generator>> CreateReactionGenerator(const GeneratorOptions& options) {
  std::vector<ReactionTemplate> templates = BuiltinReactions();
  if (!options.reactions.empty()) {
    auto read = ReadReactionFile(options.reactions);
    if (!read) return tl::unexpected(read.error());
    templates = *read;
  }
  const std::string path =
      options.building_blocks.empty() ? DefaultBuildingBlocks() : options.building_blocks;
  std::vector<Block> blocks;
  std::set<std::string> seen;
  chem::ReadOptions read;
  read.smiles_column = options.smiles_column;
  LABLOOP_TRY(chem::ForEachSmiles(path, read, [&](int64_t, const std::string& smiles) {
    auto record = chem::ProcessSmiles(smiles, read);
    if (!record || !seen.insert(record->inchikey).second) return;
    // The block as written: standardization may neutralize or strip what a template needs.
    RDKit::ROMOL_SPTR mol(RDKit::SmilesToMol(smiles));
    if (mol) blocks.push_back(Block{record->smiles, mol});
  }));
  std::vector<Reaction> reactions;
  for (const auto& t : templates) {
    auto rxn = Parse(t, options.reactions.empty() ? "built-in reactions" : options.reactions);
    if (!rxn) return tl::unexpected(rxn.error());
    Reaction r{t, std::move(*rxn), {}, 1};
    for (const auto& pattern : r.rxn->getReactants()) {
      std::vector<size_t> matching;
      for (size_t i = 0; i < blocks.size(); ++i) {
        RDKit::MatchVectType match;
        if (RDKit::SubstructMatch(*blocks[i].mol, *pattern, match)) matching.push_back(i);
      }
      r.combinations *= static_cast<double>(matching.size());
      r.slots.push_back(std::move(matching));
    }
    if (r.combinations > 0) reactions.push_back(std::move(r));
  }
  if (reactions.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "no reaction has building blocks for all its reactants in '" + path + "'");
  }
  return std::unique_ptr<Generator>(
      new ReactionGenerator(options, std::move(blocks), std::move(reactions)));
}

}  // namespace labloop::generators
