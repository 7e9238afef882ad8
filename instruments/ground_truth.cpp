#include "instruments/ground_truth.h"

#include <algorithm>
#include <cmath>

#include "core/chem/descriptors.h"
#include "core/chem/molecule.h"
#include "core/chem/sa_score.h"

namespace labloop::instruments {

namespace {
double Descriptor(const std::vector<double>& values, const std::string& name) {
  const auto& names = chem::DescriptorNames();
  return values[std::find(names.begin(), names.end(), name) - names.begin()];
}
}  // namespace

Result<TrueActivity> GroundTruth(const std::string& smiles) {
  auto molecule = chem::Molecule::FromSmiles(smiles);
  if (!molecule) return tl::unexpected(molecule.error());
  const auto d = chem::ComputeDescriptors(*molecule);
  const double hbd = Descriptor(d, "hbd");
  double pic50 = 5 + 0.5 * (Descriptor(d, "clogp") - 2.5) + 0.35 * Descriptor(d, "aromatic_rings") -
                 0.012 * (Descriptor(d, "tpsa") - 75) -
                 0.004 * std::abs(Descriptor(d, "mol_wt") - 380) +
                 ((hbd == 1 || hbd == 2) ? 0.25 : 0.0);
  TrueActivity truth;
  truth.pic50 = std::clamp(pic50, 3.5, 9.5);
  return truth;
}

Result<double> ExpectedYield(const std::string& smiles) {
  auto molecule = chem::Molecule::FromSmiles(smiles);
  if (!molecule) return tl::unexpected(molecule.error());
  auto scorer = chem::SaScorer::Default();
  if (!scorer) return tl::unexpected(scorer.error());
  return std::clamp(0.9 - 0.08 * ((*scorer)->Score(*molecule) - 2), 0.05, 0.95);
}

}  // namespace labloop::instruments
