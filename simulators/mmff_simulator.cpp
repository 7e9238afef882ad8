#include "simulators/mmff_simulator.h"

#include <algorithm>
#include <chrono>

#include <nlohmann/json.hpp>

#include "core/chem/geometry.h"
#include "core/chem/molecule.h"
#include "simulators/standard_geometry.h"

namespace labloop::simulators {

namespace {

class MmffSimulator final : public Simulator {
 public:
  explicit MmffSimulator(const SimulatorOptions& options) : options_(options) {}
  std::string Kind() const override { return "mmff"; }
  std::vector<std::string> Properties() const override { return PropertiesOf(options_); }

  Result<SimulationSummary> Run(const std::string& smiles) const override {
    auto start = std::chrono::steady_clock::now();
    auto molecule = chem::Molecule::FromSmiles(smiles);
    if (!molecule) return tl::unexpected(molecule.error());
    auto reference = StandardGeometry(*molecule, options_);
    if (!reference) return tl::unexpected(reference.error());
    if (reference->force_field != "MMFF94") {
      return MakeError(ErrorCode::kAborted, "MMFF94 has no parameters for this molecule");
    }
    // When the reference geometry is of one chosen stereoisomer, search that isomer's conformers.
    std::optional<chem::Molecule> isomer;
    if (!reference->embedded_isomer.empty()) {
      auto parsed = chem::Molecule::FromSmiles(reference->embedded_isomer);
      if (!parsed) return tl::unexpected(parsed.error());
      isomer = std::move(*parsed);
    }
    chem::ConformerSearchOptions search_options;
    search_options.conformers = options_.conformers;
    search_options.seed = options_.embed_seed;
    auto search = chem::SearchConformers(isomer ? *isomer : *molecule, search_options);
    if (!search) return tl::unexpected(search.error());
    double lowest = std::min(search->energies.front(), reference->force_field_energy);

    SimulationSummary summary;
    summary.properties["mmff_energy"] = lowest;
    summary.properties["strain_energy"] = reference->force_field_energy - lowest;
    summary.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::vector<double> relative;
    for (size_t i = 0; i < search->energies.size() && i < 5; ++i) {
      relative.push_back(search->energies[i] - lowest);
    }
    nlohmann::json raw = {{"force_field", "MMFF94"},
                          {"conformers_embedded", search->embedded},
                          {"conformers_converged", search->converged},
                          {"lowest_relative_kcal_mol", relative},
                          {"reference_energy", reference->force_field_energy},
                          {"embedded_isomer", reference->embedded_isomer},
                          {"seconds", summary.seconds}};
    summary.raw_json = raw.dump();
    return summary;
  }

 private:
  SimulatorOptions options_;
};

}  // namespace

Result<std::unique_ptr<Simulator>> CreateMmffSimulator(const SimulatorOptions& options) {
  if (auto valid = options.Validate(); !valid) return tl::unexpected(valid.error());
  return std::unique_ptr<Simulator>(new MmffSimulator(options));
}

}  // namespace labloop::simulators
