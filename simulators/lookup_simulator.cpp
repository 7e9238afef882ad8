#include "simulators/lookup_simulator.h"

#include <cmath>
#include <cstdlib>
#include <unordered_map>

#include "core/chem/reader.h"

namespace labloop::simulators {

namespace {

class LookupSimulator final : public Simulator {
 public:
  LookupSimulator(std::string property, std::unordered_map<std::string, double> values)
      : property_(std::move(property)), values_(std::move(values)) {}
  std::string Kind() const override { return "lookup"; }
  std::vector<std::string> Properties() const override { return {property_}; }

  Result<SimulationSummary> Run(const std::string& smiles) const override {
    chem::ReadOptions options;
    auto record = chem::ProcessSmiles(smiles, options);
    if (!record) return tl::unexpected(record.error());
    auto it = values_.find(record->inchikey);
    if (it == values_.end()) {
      return MakeError(ErrorCode::kNotFound, "no value in the lookup table for '" + smiles + "'");
    }
    SimulationSummary summary;
    summary.properties[property_] = it->second;
    summary.fidelity = "lookup";
    return summary;
  }

 private:
  std::string property_;
  std::unordered_map<std::string, double> values_;  // InChIKey -> value
};

}  // namespace

Result<std::unique_ptr<Simulator>> CreateLookupSimulator(const SimulatorOptions& options) {
  if (options.table.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the lookup simulator needs a table (simulator.table = \"scores.csv\")");
  }
  chem::ReadOptions read;
  read.smiles_column = options.smiles_column;
  auto report = chem::ReadMoleculeFile(options.table, read);
  if (!report) return tl::unexpected(WithContext(report.error(), "lookup table"));
  std::unordered_map<std::string, double> values;
  for (const auto& record : report->records) {
    const std::string* text = nullptr;
    for (const auto& [name, value] : record.properties) {
      if (options.value_column.empty() || name == options.value_column) {
        text = &value;
        break;
      }
    }
    if (text == nullptr) {
      if (!options.value_column.empty()) {
        return MakeError(
            ErrorCode::kInvalidArgument,
            "lookup table '" + options.table + "' has no column '" + options.value_column + "'");
      }
      continue;
    }
    char* end = nullptr;
    double value = std::strtod(text->c_str(), &end);
    if (text->empty() || end == text->c_str() || !std::isfinite(value)) continue;
    values.emplace(record.inchikey, value);
  }
  if (values.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "lookup table '" + options.table + "' has no usable smiles,value rows");
  }
  return std::unique_ptr<Simulator>(new LookupSimulator(options.property, std::move(values)));
}

}  // namespace labloop::simulators
