#include "simulators/lookup_simulator.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <unordered_map>

#include "core/chem/reader.h"
#include "core/log.h"

namespace labloop::simulators {

namespace {

using Table = std::unordered_map<std::string, double>;  // InChIKey -> value

class LookupSimulator final : public Simulator {
 public:
  // columns[k] holds the values reported under properties[k].
  LookupSimulator(std::vector<std::string> properties, std::vector<Table> columns)
      : properties_(std::move(properties)), columns_(std::move(columns)) {}
  std::string Kind() const override { return "lookup"; }
  std::vector<std::string> Properties() const override { return properties_; }

  Result<SimulationSummary> Run(const std::string& smiles) const override {
    chem::ReadOptions options;
    auto record = chem::ProcessSmiles(smiles, options);
    if (!record) return tl::unexpected(record.error());
    SimulationSummary summary;
    for (size_t k = 0; k < properties_.size(); ++k) {
      auto it = columns_[k].find(record->inchikey);
      if (it != columns_[k].end()) summary.properties[properties_[k]] = it->second;
    }
    // A molecule is found when the table has its first property; the others may be missing
    // (a measurement not made), and are then simply not reported.
    if (!summary.properties.count(properties_.front())) {
      return MakeError(ErrorCode::kNotFound, "no value in the lookup table for '" + smiles + "'");
    }
    summary.fidelity = "lookup";
    return summary;
  }

 private:
  std::vector<std::string> properties_;
  std::vector<Table> columns_;
};

// The whole field must be a number ("3.2 eV" and "1,5" are not), parsed the same in every
// locale: from_chars ignores the process locale that a GUI may have set.
bool ParseNumber(const std::string& text, double& value) {
  const char* end = text.data() + text.size();
  auto [stop, error] = std::from_chars(text.data(), end, value);
  return !text.empty() && error == std::errc() && stop == end && std::isfinite(value);
}

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
  // The primary property comes from value_column (or the first other column); each extra
  // property from the column of its own name.
  std::vector<std::string> properties{options.property};
  std::vector<std::string> columns{options.value_column};
  if (columns.front().empty() && !options.extra_properties.empty()) {
    // With extra properties, "the first other column" could be one of theirs: take the column
    // named like the property, or the first column no extra property claims.
    const auto& fields = report->records.empty()
                             ? std::vector<std::pair<std::string, std::string>>{}
                             : report->records.front().properties;
    for (const auto& [name, value] : fields) {
      bool claimed = std::find(options.extra_properties.begin(), options.extra_properties.end(),
                               name) != options.extra_properties.end();
      if (name == options.property || (!claimed && columns.front().empty())) {
        columns.front() = name;
        if (name == options.property) break;
      }
    }
  }
  for (const auto& extra : options.extra_properties) {
    properties.push_back(extra);
    columns.push_back(extra);
  }
  std::vector<Table> tables(properties.size());
  std::vector<std::string> rejected;
  for (const auto& record : report->records) {
    for (size_t k = 0; k < columns.size(); ++k) {
      const std::string* text = nullptr;
      for (const auto& [name, value] : record.properties) {
        if (columns[k].empty() || name == columns[k]) {
          text = &value;
          break;
        }
      }
      if (text == nullptr) {
        if (!columns[k].empty()) {
          return MakeError(ErrorCode::kInvalidArgument, "lookup table '" + options.table +
                                                            "' has no column '" + columns[k] + "'");
        }
        continue;
      }
      double value = 0;
      if (!ParseNumber(*text, value)) {
        rejected.push_back(record.location + " (" + properties[k] + "): '" + *text + "'");
        continue;
      }
      tables[k].emplace(record.inchikey, value);
    }
  }
  if (!rejected.empty()) {
    LogWarn(
        "lookup table {}: {} values are not numbers (first: {}); those molecules lack that "
        "property",
        options.table, rejected.size(), rejected.front());
  }
  if (tables.front().empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "lookup table '" + options.table + "' has no usable smiles,value rows");
  }
  return std::unique_ptr<Simulator>(new LookupSimulator(std::move(properties), std::move(tables)));
}

}  // namespace labloop::simulators
