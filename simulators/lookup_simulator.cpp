#include "simulators/lookup_simulator.h"

#include <charconv>
#include <cmath>
#include <unordered_map>

#include "core/chem/reader.h"
#include "core/log.h"

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
  std::vector<std::string> rejected;
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
    // The whole field must be a number ("3.2 eV" and "1,5" are not), parsed the same in every
    // locale: from_chars ignores the process locale that a GUI may have set.
    double value = 0;
    const char* begin = text->data();
    const char* end = text->data() + text->size();
    auto [stop, error] = std::from_chars(begin, end, value);
    if (text->empty() || error != std::errc() || stop != end || !std::isfinite(value)) {
      rejected.push_back(record.location + ": '" + *text + "'");
      continue;
    }
    values.emplace(record.inchikey, value);
  }
  if (!rejected.empty()) {
    LogWarn(
        "lookup table {}: {} rows have no usable value (first: {}); asking for those "
        "molecules fails",
        options.table, rejected.size(), rejected.front());
  }
  if (values.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "lookup table '" + options.table + "' has no usable smiles,value rows");
  }
  return std::unique_ptr<Simulator>(new LookupSimulator(options.property, std::move(values)));
}

}  // namespace labloop::simulators
