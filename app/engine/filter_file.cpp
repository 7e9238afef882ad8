#include "app/engine/filter_file.h"

#include <fstream>

#include "core/chem/reader.h"
#include "core/progress.h"

namespace labloop::engine {

Result<FilterFileReport> FilterMoleculeFile(const std::string& input, const std::string& output,
                                            const std::string& dropped_output,
                                            const chem::FilterOptions& options) {
  chem::ReadOptions read;
  read.standardize = false;  // judge the molecules as given, not their parents
  auto report = chem::ReadMoleculeFile(input, read);
  if (!report) return tl::unexpected(report.error());
  std::ofstream kept(output);
  if (!kept) return MakeError(ErrorCode::kFailedPrecondition, "cannot write '" + output + "'");
  const bool smi = output.size() > 4 && output.substr(output.size() - 4) == ".smi";
  if (!smi) kept << "smiles,id" << (options.max_sa ? ",sa_score" : "") << "\n";
  std::ofstream dropped;
  if (!dropped_output.empty()) {
    dropped.open(dropped_output);
    if (!dropped) {
      return MakeError(ErrorCode::kFailedPrecondition, "cannot write '" + dropped_output + "'");
    }
    dropped << "smiles,id,reasons\n";
  }
  FilterFileReport out;
  for (const auto& r : report->rejected) out.skipped.push_back(r.ToString());
  Progress progress("filter " + input, static_cast<int64_t>(report->records.size()));
  for (const auto& r : report->records) {
    ++out.read;
    auto molecule = chem::Molecule::FromSmiles(r.smiles);
    if (!molecule) {
      out.skipped.push_back(r.location + ": " + molecule.error().message);
      continue;
    }
    auto verdict = chem::ApplyFilters(*molecule, options);
    if (!verdict) return tl::unexpected(verdict.error());
    const std::string id = r.id.empty() ? r.location : r.id;
    if (verdict->pass) {
      ++out.kept;
      if (smi) {
        kept << r.smiles << " " << id << "\n";
      } else {
        kept << chem::CsvField(r.smiles) << "," << chem::CsvField(id);
        if (verdict->sa_score) kept << "," << *verdict->sa_score;
        kept << "\n";
      }
    } else {
      ++out.dropped;
      if (dropped.is_open()) {
        std::string reasons;
        for (const auto& why : verdict->reasons) reasons += (reasons.empty() ? "" : "; ") + why;
        dropped << chem::CsvField(r.smiles) << "," << chem::CsvField(id) << ","
                << chem::CsvField(reasons) << "\n";
      }
    }
    progress.Advance();
  }
  progress.Finish();
  if (!kept || (dropped.is_open() && !dropped)) {
    return MakeError(ErrorCode::kFailedPrecondition, "writing the filtered molecules failed");
  }
  return out;
}

}  // namespace labloop::engine
