#pragma once
// Reaction enumeration: building blocks combined by reaction templates into products that come with
// their synthesis route (the reaction and its reactants).
//
// Templates are reaction SMARTS with mapped atoms. The built-in set (BuiltinReactions()) covers
// amide coupling, reductive amination, Suzuki coupling, SNAr, Buchwald-Hartwig amination,
// sulfonamide and urea formation, esterification and O-alkylation; a file of `name<TAB>SMARTS`
// lines replaces it. Building blocks come from a SMILES, CSV or SDF file
// (generators/data/building_blocks.csv ships with the project); each reactant slot of a template
// draws from the blocks that match it.
//
// Without a fitness the generator samples products at random: a template (in proportion to how many
// reactant combinations it has), then one block for each slot. With a fitness it makes
// `oversample` times n products and proposes the n best.

#include <memory>
#include <string>
#include <vector>

#include "generators/generator.h"

namespace labloop::generators {

struct ReactionTemplate {
  std::string name;
  std::string smarts;
};

const std::vector<ReactionTemplate>& BuiltinReactions();

// Reads `name<TAB or space>SMARTS` lines ('#' starts a comment). A SMARTS that RDKit cannot parse
// is an error naming the line.
Result<std::vector<ReactionTemplate>> ReadReactionFile(const std::string& path);

// The distinct canonical products of one template on these reactants (in template order); empty
// when they do not match. An error when the template does not parse or a SMILES is unreadable.
Result<std::vector<std::string>> RunReaction(const ReactionTemplate& reaction,
                                             const std::vector<std::string>& reactants);

// generators/data/building_blocks.csv in the source tree.
std::string DefaultBuildingBlocks();

Result<std::unique_ptr<Generator>> CreateReactionGenerator(const GeneratorOptions& options);

}  // namespace labloop::generators
