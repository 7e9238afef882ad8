#include "app/engine/proposals.h"

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include <nlohmann/json.hpp>

#include "core/chem/filters.h"
#include "core/chem/fingerprint.h"
#include "core/chem/molecule.h"
#include "core/log.h"

namespace labloop::engine {

namespace {

// The [filters] with their reference files, each read once per process while it is unchanged
// (a long GUI or server session sees an edited file; engines on several threads share the cache).
Result<chem::FilterOptions> Filters(const GeneratedFilters& f) {
  struct Cached {
    std::filesystem::file_time_type modified;
    std::shared_ptr<const chem::ReferenceSet> set;
  };
  static std::mutex mutex;
  static std::map<std::string, Cached> cache;
  auto load = [&](const std::string& path) -> Result<std::shared_ptr<const chem::ReferenceSet>> {
    if (path.empty()) return std::shared_ptr<const chem::ReferenceSet>();
    std::error_code ec;
    const auto modified = std::filesystem::last_write_time(path, ec);
    std::lock_guard<std::mutex> lock(mutex);
    auto& slot = cache[path];
    if (!slot.set || ec || slot.modified != modified) {
      auto set = chem::ReferenceSet::FromFile(path);
      if (!set) return tl::unexpected(set.error());
      slot = {modified, *set};
    }
    return slot.set;
  };
  chem::FilterOptions options = f.options;
  LABLOOP_ASSIGN(options.known, load(f.known));
  LABLOOP_ASSIGN(options.reference, load(f.reference));
  return options;
}

}  // namespace

Result<RoundProposals> ProposeForRound(const CampaignConfig& config, int round,
                                       const generators::Fitness& fitness,
                                       const std::vector<std::string>& seeds) {
  RoundProposals out;
  auto filters = Filters(config.filters);
  if (!filters) return tl::unexpected(filters.error());
  // Generators climb the fitness of molecules that pass the filters; the others score 0, so
  // steering moves away from them.
  generators::Fitness filtered_fitness =
      [&](const std::vector<std::string>& smiles) -> Result<std::vector<double>> {
    auto values = fitness(smiles);
    if (!values) return values;
    for (size_t i = 0; i < smiles.size(); ++i) {
      auto molecule = chem::Molecule::FromSmiles(smiles[i]);
      auto verdict = molecule ? chem::ApplyFilters(*molecule, *filters)
                              : Result<chem::FilterVerdict>(tl::unexpected(molecule.error()));
      if (!verdict || !verdict->pass) (*values)[i] = 0;
    }
    return values;
  };
  generators::GeneratorRegistry registry("generator");
  generators::RegisterBuiltinGenerators(registry);
  const std::string location = "round " + std::to_string(round);
  for (size_t g = 0; g < config.generators.size(); ++g) {
    const auto& spec = config.generators[g];
    generators::GeneratorOptions options = spec.options;
    options.seed = config.seed * 1000003ULL + static_cast<uint64_t>(round) * 7919ULL + g;
    // smiles_lm with steps = 0 samples its prior as it is: nothing to steer.
    if (!(options.kind == "smiles_lm" && options.steps == 0)) options.fitness = filtered_fitness;
    if (options.kind == "graph_ga" && options.pool.empty()) {
      if (seeds.size() < 2) {  // a GA needs two parents; the next round may have them
        LogWarn("round {}: generator '{}' skipped: fewer than 2 molecules to start from", round,
                spec.name);
        out.reports.push_back(spec.name + ": {\"skipped\":\"fewer than 2 starting molecules\"}");
        continue;
      }
      options.seeds = seeds;
    }
    auto generator = registry.Create(options.kind, options);
    if (!generator) {
      return tl::unexpected(WithContext(generator.error(), "generator '" + spec.name + "'"));
    }
    auto proposals = (*generator)->Generate(spec.per_round);
    if (!proposals) {
      return tl::unexpected(WithContext(proposals.error(), "generator '" + spec.name + "'"));
    }
    const std::string source = "generator:" + spec.name;
    int64_t kept = 0;
    for (const auto& p : *proposals) {
      auto molecule = chem::Molecule::FromSmiles(p.smiles);
      if (!molecule) {
        out.rejected.push_back({source, location, "", p.smiles, molecule.error().message});
        continue;
      }
      auto verdict = chem::ApplyFilters(*molecule, *filters);
      if (!verdict) return tl::unexpected(verdict.error());
      if (!verdict->pass) {
        std::string reasons;
        for (const auto& r : verdict->reasons) reasons += (reasons.empty() ? "" : "; ") + r;
        out.rejected.push_back({source, location, "", p.smiles, reasons});
        continue;
      }
      auto fingerprint = chem::MorganFingerprint(*molecule, config.fingerprint);
      out.candidates.push_back(
          {p.smiles, p.inchikey, fingerprint.Serialize(), source, p.provenance, location, round});
      ++kept;
    }
    out.reports.push_back(spec.name + ": " + (*generator)->Report());
    LogInfo("round {}: generator '{}' ({}) proposed {}, {} passed the filters", round, spec.name,
            options.kind, proposals->size(), kept);
  }
  return out;
}

}  // namespace labloop::engine
