#pragma once
// `labloop filter`: a molecule file through the structural-alert, drug-likeness and synthetic-
// accessibility filters, without a campaign.

#include <cstdint>
#include <string>
#include <vector>

#include "core/chem/filters.h"
#include "core/result.h"

namespace labloop::engine {

struct FilterFileReport {
  int64_t read = 0, kept = 0, dropped = 0;
  std::vector<std::string> skipped;  // records that could not be read, "file:line: why"
};

// Reads SMILES, CSV or SDF; writes the molecules that pass to `output` (.smi: "SMILES id" lines;
// otherwise CSV: smiles,id[,sa_score]) and, when `dropped_output` is given, the others to it as
// CSV: smiles,id,reasons (every failed filter, "; " between them).
Result<FilterFileReport> FilterMoleculeFile(const std::string& input, const std::string& output,
                                            const std::string& dropped_output,
                                            const chem::FilterOptions& options);

}  // namespace labloop::engine
