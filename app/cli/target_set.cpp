// A molecule file with a numeric target column, as fingerprints, graphs and descriptors.
#include "app/cli/target_set.h"

#include <algorithm>
#include <cstdlib>

#include "core/chem/descriptors.h"
#include "core/chem/molecule.h"
#include "core/chem/reader.h"
#include "learners/property_model.h"

namespace labloop::cli {

// A CSV of molecules with a numeric target column; MUBen's "[-2.06]" labels are read too.
Result<TargetSet> ReadSet(const std::string& path, const std::string& target,
                          std::optional<chem::DescriptorSets> sets) {
  chem::ReadOptions read;
  read.fingerprint = chem::MorganOptions{2, 2048, true, false};
  auto report = chem::ReadMoleculeFile(path, read);
  if (!report) return tl::unexpected(report.error());
  TargetSet s;
  std::vector<std::string> smiles, locations;  // of the rows kept, for their descriptors
  for (const auto& r : report->records) {
    auto field = std::find_if(r.properties.begin(), r.properties.end(),
                              [&](const auto& p) { return p.first == target; });
    if (field == r.properties.end()) {
      return MakeError(ErrorCode::kInvalidArgument, path + " has no column '" + target + "'");
    }
    std::string text = field->second;
    text.erase(
        std::remove_if(text.begin(), text.end(), [](char c) { return c == '[' || c == ']'; }),
        text.end());
    char* end = nullptr;
    double value = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0') continue;
    s.x.AddRow(r.fingerprint.indices, r.fingerprint.values);
    s.y.push_back(value);
    auto molecule = chem::Molecule::FromSmiles(r.smiles);
    auto graph = molecule ? chem::BuildMolGraph(*molecule)
                          : Result<chem::MolGraph>(tl::unexpected(molecule.error()));
    if (!graph) {
      return MakeError(ErrorCode::kInvalidArgument,
                       r.location + ": no molecular graph: " + graph.error().message);
    }
    s.graphs.push_back(std::move(*graph));
    smiles.push_back(r.smiles);
    locations.push_back(r.location);
  }
  if (!sets) return s;
  auto descriptors =
      chem::ComputeDescriptorsBySide(smiles, *sets, /*graphs=*/true, "descriptors", locations);
  if (!descriptors) return tl::unexpected(descriptors.error());
  s.descriptors = std::move(descriptors->fingerprint);
  s.graph_descriptors = std::move(descriptors->graph);
  return s;
}

namespace {
// The fingerprint rows with the descriptors appended as columns 2048.., scaled by `scaling`.
learners::SparseMatrix WithDescriptors(const TargetSet& s, const chem::DescriptorScaling& scaling) {
  std::vector<std::vector<float>> scaled;
  for (const auto& d : s.descriptors) scaled.push_back(scaling.Apply(d));
  return s.x.AppendColumns(scaled);
}

}  // namespace

TargetSet Subset(const TargetSet& all, const std::vector<int64_t>& rows) {
  TargetSet s;
  s.x = all.x.Select(rows);
  for (int64_t r : rows) {
    s.y.push_back(all.y[r]);
    if (!all.descriptors.empty()) s.descriptors.push_back(all.descriptors[r]);
    if (!all.graph_descriptors.empty()) s.graph_descriptors.push_back(all.graph_descriptors[r]);
  }
  s.graphs = learners::SelectGraphs(all.graphs, rows);
  return s;
}

// With descriptors asked for: every set's rows get them, scaled by the training set's range.
void AddDescriptors(double weight, TargetSet& train, std::vector<TargetSet*> others) {
  if (!(weight > 0)) return;
  auto scaling = chem::DescriptorScaling::Fit(train.descriptors, weight);
  auto graph_scaling = chem::DescriptorScaling::Fit(train.graph_descriptors, weight);
  others.push_back(&train);
  for (TargetSet* s : others) {
    s->x = WithDescriptors(*s, scaling);
    for (size_t i = 0; i < s->graphs.size(); ++i) {  // the D-MPNN's readout reads them
      s->graphs[i].features = graph_scaling.Apply(s->graph_descriptors[i]);
    }
  }
}

}  // namespace labloop::cli
