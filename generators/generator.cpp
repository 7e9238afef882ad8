#include "generators/generator.h"

#include "core/chem/fingerprint.h"
#include "core/chem/molecule.h"
#include "generators/graph_ga.h"
#include "generators/pool_generator.h"
#include "generators/reactions.h"
#include "generators/smiles_lm.h"

namespace labloop::generators {

void RegisterBuiltinGenerators(GeneratorRegistry& registry) {
  registry.Register("pool", CreatePoolGenerator);
  registry.Register("graph_ga", CreateGraphGa);
  registry.Register("smiles_lm", CreateSmilesLm);
  registry.Register("reactions", CreateReactionGenerator);
}

Result<Fitness> SimilarityFitness(const std::string& target_smiles) {
  auto target = chem::Molecule::FromSmiles(target_smiles);
  if (!target) return tl::unexpected(target.error());
  chem::MorganOptions morgan;
  morgan.counts = true;
  auto reference = chem::MorganFingerprint(*target, morgan);
  return Fitness(
      [reference, morgan](const std::vector<std::string>& smiles) -> Result<std::vector<double>> {
        std::vector<double> scores;
        scores.reserve(smiles.size());
        for (const auto& s : smiles) {
          auto molecule = chem::Molecule::FromSmiles(s);
          scores.push_back(
              molecule ? chem::TanimotoCounts(reference, chem::MorganFingerprint(*molecule, morgan))
                       : 0.0);
        }
        return scores;
      });
}

}  // namespace labloop::generators
