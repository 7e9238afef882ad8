#include "core/chem/descriptors.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>

#include <GraphMol/Descriptors/Crippen.h>
#include <GraphMol/Descriptors/Lipinski.h>
#include <GraphMol/Descriptors/MQN.h>
#include <GraphMol/Descriptors/MolDescriptors.h>
#include <GraphMol/Descriptors/MolSurf.h>
#include <GraphMol/Descriptors/Property.h>
#include <GraphMol/SmilesParse/SmilesParse.h>
#include <GraphMol/Substruct/SubstructMatch.h>

#include "core/chem/internal.h"
#include "core/chem/reader.h"
#include "core/parallel.h"
#include "core/progress.h"

namespace labloop::chem {

namespace {

constexpr const char* kDebianFragments = "/usr/share/RDKit/Data/FragmentDescriptors.csv";

// The kRdkit2d set: its names, RDKit's property calculators and the fragment patterns, built once.
struct Rdkit2d {
  RDKit::Descriptors::Properties properties;
  std::vector<std::unique_ptr<RDKit::ROMol>> fragments;
  std::vector<std::string> names;

  std::vector<double> Compute(const RDKit::ROMol& mol) const {
    std::vector<double> out = properties.computeProperties(mol);
    for (double v : RDKit::Descriptors::calcSlogP_VSA(mol)) out.push_back(v);
    for (double v : RDKit::Descriptors::calcSMR_VSA(mol)) out.push_back(v);
    for (double v : RDKit::Descriptors::calcPEOE_VSA(mol)) out.push_back(v);
    for (unsigned v : RDKit::Descriptors::calcMQNs(mol)) out.push_back(v);
    RDKit::SubstructMatchParameters params;  // as RDKit's fr_*: unique matches, at most 1,000
    for (const auto& pattern : fragments) {
      out.push_back(static_cast<double>(RDKit::SubstructMatch(mol, *pattern, params).size()));
    }
    return out;
  }
};

// Reads "name<TAB>"description"<TAB>SMARTS<TAB>..." lines; '#' starts a comment line.
Result<std::unique_ptr<Rdkit2d>> LoadRdkit2d() {
  const char* env = std::getenv("LABLOOP_FRAGMENT_DESCRIPTORS");
  const std::string file = env != nullptr && *env ? env : kDebianFragments;
  auto text = ReadWholeFile(file);
  if (!text) {
    return MakeError(ErrorCode::kNotFound,
                     "the rdkit2d descriptors' fragment table: " + text.error().message +
                         " (Debian package rdkit-data, or set LABLOOP_FRAGMENT_DESCRIPTORS)");
  }
  auto set = std::make_unique<Rdkit2d>();
  for (const auto& name : set->properties.getPropertyNames()) set->names.push_back(name);
  // The binned descriptors' names, counted on a molecule: RDKit's bin edges fix how many.
  std::unique_ptr<RDKit::ROMol> methane(RDKit::SmilesToMol("C"));
  auto binned = [&](const std::string& prefix, size_t count) {
    for (size_t i = 1; i <= count; ++i) set->names.push_back(prefix + std::to_string(i));
  };
  binned("SlogP_VSA", RDKit::Descriptors::calcSlogP_VSA(*methane).size());
  binned("SMR_VSA", RDKit::Descriptors::calcSMR_VSA(*methane).size());
  binned("PEOE_VSA", RDKit::Descriptors::calcPEOE_VSA(*methane).size());
  binned("MQN", RDKit::Descriptors::calcMQNs(*methane).size());
  std::istringstream lines(*text);
  std::string line;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    if (line.empty() || line[0] == '#') continue;
    const std::vector<std::string> fields = SplitDelimited(line, '\t');
    if (fields.size() < 3) continue;
    // Named as RDKit's Python names them ("fr_C=O" is fr_C_O), so that columns join with theirs.
    std::string name = fields[0];
    std::replace(name.begin(), name.end(), '=', '_');
    std::replace(name.begin(), name.end(), '-', '_');
    // rdkit-data lists fr_sulfone twice; RDKit's Python keeps one, and so does labloop.
    if (std::find(set->names.begin(), set->names.end(), name) != set->names.end()) continue;
    std::unique_ptr<RDKit::ROMol> pattern;
    try {
      pattern.reset(RDKit::SmartsToMol(fields[2]));
    } catch (const std::exception&) {
    }
    if (!pattern || pattern->getNumAtoms() == 0) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          file + ":" + std::to_string(number) + ": SMARTS '" + fields[2] + "' does not parse");
    }
    set->names.push_back(name);
    set->fragments.push_back(std::move(pattern));
  }
  if (set->fragments.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, file + " holds no fragment patterns");
  }
  return set;
}

// The process-wide set, loaded on first use.
const Result<std::unique_ptr<Rdkit2d>>& SharedRdkit2d() {
  static const Result<std::unique_ptr<Rdkit2d>> set = [] {
    detail::SilenceRdkitLogs();
    return LoadRdkit2d();
  }();
  return set;
}

const Rdkit2d& RequireRdkit2d() {
  const auto& set = SharedRdkit2d();
  if (!set) throw std::runtime_error(set.error().message);
  return **set;
}

}  // namespace

Result<DescriptorSet> ParseDescriptorSet(const std::string& name) {
  if (name == "basic") return DescriptorSet::kBasic;
  if (name == "rdkit2d") {
    const auto& set = SharedRdkit2d();
    if (!set) return tl::unexpected(set.error());
    return DescriptorSet::kRdkit2d;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   "unknown descriptor set '" + name + "' (known: basic, rdkit2d)");
}

std::string DescriptorSetName(DescriptorSet set) {
  return set == DescriptorSet::kBasic ? "basic" : "rdkit2d";
}

const std::vector<std::string>& DescriptorNames(DescriptorSet set) {
  if (set == DescriptorSet::kRdkit2d) return RequireRdkit2d().names;
  static const std::vector<std::string> names = {"mol_wt",
                                                 "exact_mol_wt",
                                                 "clogp",
                                                 "mr",
                                                 "tpsa",
                                                 "labute_asa",
                                                 "hbd",
                                                 "hba",
                                                 "rotatable_bonds",
                                                 "rings",
                                                 "aromatic_rings",
                                                 "heteroatoms",
                                                 "fraction_csp3",
                                                 "heavy_atoms",
                                                 "stereocenters",
                                                 "formal_charge"};
  return names;
}

std::vector<double> ComputeDescriptors(const Molecule& molecule, DescriptorSet set) {
  const RDKit::ROMol& mol = *molecule.impl().mol;
  if (set == DescriptorSet::kRdkit2d) return RequireRdkit2d().Compute(mol);
  double logp = 0.0, mr = 0.0;
  RDKit::Descriptors::calcCrippenDescriptors(mol, logp, mr);
  return {
      RDKit::Descriptors::calcAMW(mol),
      RDKit::Descriptors::calcExactMW(mol),
      logp,
      mr,
      RDKit::Descriptors::calcTPSA(mol),
      RDKit::Descriptors::calcLabuteASA(mol),
      static_cast<double>(RDKit::Descriptors::calcNumHBD(mol)),
      static_cast<double>(RDKit::Descriptors::calcNumHBA(mol)),
      static_cast<double>(RDKit::Descriptors::calcNumRotatableBonds(mol)),
      static_cast<double>(RDKit::Descriptors::calcNumRings(mol)),
      static_cast<double>(RDKit::Descriptors::calcNumAromaticRings(mol)),
      static_cast<double>(RDKit::Descriptors::calcNumHeteroatoms(mol)),
      RDKit::Descriptors::calcFractionCSP3(mol),
      static_cast<double>(mol.getNumHeavyAtoms()),
      static_cast<double>(RDKit::Descriptors::numAtomStereoCenters(mol)),
      static_cast<double>(molecule.FormalCharge()),
  };
}

Result<std::vector<std::vector<double>>> ComputeDescriptorRows(
    const std::vector<std::string>& smiles, DescriptorSet set, int threads,
    const std::string& label, const std::vector<std::string>& names,
    std::vector<std::string>* failures) {
  const int64_t n = static_cast<int64_t>(smiles.size());
  std::vector<std::vector<double>> rows(smiles.size());
  std::vector<std::string> errors(smiles.size());
  std::optional<Progress> progress;
  if (n >= 5000) progress.emplace(label, n);
  ParallelFor(n, threads, [&](int64_t i) {
    if (progress) progress->Advance();
    auto molecule = Molecule::FromSmiles(smiles[i]);
    if (!molecule) {
      errors[i] = molecule.error().message;
      return;
    }
    try {
      rows[i] = ComputeDescriptors(*molecule, set);
    } catch (const std::exception& e) {
      errors[i] = e.what();
      return;
    }
    // A NaN or infinity would poison the scaling of every row (and the GP's kernel).
    const auto& names_of_set = DescriptorNames(set);
    for (size_t j = 0; j < rows[i].size(); ++j) {
      if (!std::isfinite(rows[i][j])) {
        errors[i] = names_of_set[j] + " is " + std::to_string(rows[i][j]);
        rows[i].clear();
        return;
      }
    }
  });
  if (failures != nullptr) failures->assign(smiles.size(), "");
  for (int64_t i = 0; i < n; ++i) {
    if (errors[i].empty()) continue;
    const std::string who =
        i < static_cast<int64_t>(names.size()) ? names[i] : "molecule " + std::to_string(i + 1);
    std::string message = who + ": no descriptors for '" + smiles[i] + "': " + errors[i];
    if (failures == nullptr) return MakeError(ErrorCode::kInvalidArgument, message);
    rows[i].clear();
    (*failures)[i] = std::move(message);
  }
  return rows;
}

Result<DescriptorsBySide> ComputeDescriptorsBySide(const std::vector<std::string>& smiles,
                                                   DescriptorSets sets, bool graphs,
                                                   const std::string& label,
                                                   const std::vector<std::string>& names,
                                                   std::vector<std::string>* failures) {
  DescriptorsBySide out;
  auto rows = ComputeDescriptorRows(smiles, sets.fingerprint, 0, label, names, failures);
  if (!rows) return tl::unexpected(rows.error());
  out.fingerprint = std::move(*rows);
  if (!graphs) return out;
  if (sets.graph == sets.fingerprint) {
    out.graph = out.fingerprint;
    return out;
  }
  std::vector<std::string> graph_failures;
  rows = ComputeDescriptorRows(smiles, sets.graph, 0, label + " (graphs)", names,
                               failures != nullptr ? &graph_failures : nullptr);
  if (!rows) return tl::unexpected(rows.error());
  out.graph = std::move(*rows);
  if (failures != nullptr) {
    for (size_t i = 0; i < smiles.size(); ++i) {
      if ((*failures)[i].empty() && !graph_failures[i].empty()) {
        (*failures)[i] = std::move(graph_failures[i]);
      }
      if (!(*failures)[i].empty()) out.fingerprint[i].clear(), out.graph[i].clear();
    }
  }
  return out;
}

DescriptorScaling DescriptorScaling::Fit(const std::vector<std::vector<double>>& rows,
                                         double weight) {
  DescriptorScaling s;
  s.weight = weight;
  const size_t k = rows.empty() ? 0 : rows.front().size();
  s.min.assign(k, 0.0);
  s.max.assign(k, 0.0);
  for (size_t j = 0; j < k; ++j) {
    for (size_t i = 0; i < rows.size(); ++i) {
      if (i == 0 || rows[i][j] < s.min[j]) s.min[j] = rows[i][j];
      if (i == 0 || rows[i][j] > s.max[j]) s.max[j] = rows[i][j];
    }
  }
  return s;
}

std::vector<float> DescriptorScaling::Apply(const std::vector<double>& values) const {
  if (values.size() != min.size()) {
    throw std::invalid_argument("DescriptorScaling::Apply: " + std::to_string(values.size()) +
                                " values for a scaling of " + std::to_string(min.size()));
  }
  std::vector<float> out(values.size());
  for (size_t j = 0; j < values.size(); ++j) {
    double range = max[j] - min[j];
    double t = range > 0 ? (values[j] - min[j]) / range : 0.0;
    out[j] = static_cast<float>(weight * std::clamp(t, 0.0, 1.0));
  }
  return out;
}

}  // namespace labloop::chem
