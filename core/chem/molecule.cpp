#include "core/chem/molecule.h"

#include <GraphMol/Depictor/RDDepictor.h>
#include <GraphMol/FileParsers/FileParsers.h>
#include <GraphMol/MolStandardize/Charge.h>
#include <GraphMol/MolStandardize/MolStandardize.h>
#include <GraphMol/RWMol.h>
#include <GraphMol/SmilesParse/SmilesParse.h>
#include <GraphMol/SmilesParse/SmilesWrite.h>
#include <RDGeneral/RDLog.h>

#include <mutex>

#include "core/chem/internal.h"

namespace labloop::chem {

namespace detail {
void SilenceRdkitLogs() {
  static std::once_flag once;
  std::call_once(once, [] { boost::logging::disable_logs("rdApp.*"); });
}
}  // namespace detail

namespace {

Result<Molecule> CheckLimits(Result<Molecule> molecule, const MoleculeLimits& limits) {
  if (!molecule) return molecule;
  int heavy = molecule->HeavyAtomCount();
  if (heavy == 0) return MakeError(ErrorCode::kInvalidArgument, "empty molecule (no heavy atoms)");
  if (heavy > limits.max_heavy_atoms) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "too many heavy atoms: " + std::to_string(heavy) + " (limit " +
                         std::to_string(limits.max_heavy_atoms) + ")");
  }
  return molecule;
}

// Catches RDKit's exceptions at the adapter: they never cross a labloop header.
template <typename F>
auto GuardRdkit(const std::string& what, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInvalidArgument, what + ": " + e.what());
  }
}

}  // namespace

Molecule::Molecule(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Molecule::Molecule(Molecule&&) noexcept = default;
Molecule& Molecule::operator=(Molecule&&) noexcept = default;
Molecule::~Molecule() = default;
Molecule::Molecule(const Molecule& other)
    : impl_(std::make_unique<Impl>(Impl{std::make_unique<RDKit::ROMol>(*other.impl_->mol)})) {}
Molecule& Molecule::operator=(const Molecule& other) {
  if (this != &other) impl_->mol = std::make_unique<RDKit::ROMol>(*other.impl_->mol);
  return *this;
}

Result<Molecule> Molecule::FromSmiles(const std::string& smiles, const MoleculeLimits& limits) {
  detail::SilenceRdkitLogs();
  if (smiles.empty()) return MakeError(ErrorCode::kInvalidArgument, "empty smiles");
  if (static_cast<int>(smiles.size()) > limits.max_smiles_length) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "smiles too long: " + std::to_string(smiles.size()) + " characters (limit " +
                         std::to_string(limits.max_smiles_length) + ")");
  }
  return CheckLimits(GuardRdkit("unparsable smiles '" + smiles + "'", [&]() -> Result<Molecule> {
                       std::unique_ptr<RDKit::RWMol> mol(RDKit::SmilesToMol(smiles));
                       if (!mol) {
                         return MakeError(ErrorCode::kInvalidArgument,
                                          "unparsable smiles '" + smiles + "'");
                       }
                       return Molecule(std::make_unique<Impl>(Impl{std::move(mol)}));
                     }),
                     limits);
}

Result<Molecule> Molecule::FromMolBlock(const std::string& mol_block,
                                        const MoleculeLimits& limits) {
  detail::SilenceRdkitLogs();
  return CheckLimits(GuardRdkit("unreadable mol block", [&]() -> Result<Molecule> {
                       std::unique_ptr<RDKit::RWMol> mol(RDKit::MolBlockToMol(mol_block));
                       if (!mol) {
                         return MakeError(ErrorCode::kInvalidArgument, "unreadable mol block");
                       }
                       return Molecule(std::make_unique<Impl>(Impl{std::move(mol)}));
                     }),
                     limits);
}

std::string Molecule::CanonicalSmiles() const { return RDKit::MolToSmiles(*impl_->mol); }

Result<std::string> Molecule::InchiKey() const { return detail::ComputeInchiKey(*impl_->mol); }

int Molecule::HeavyAtomCount() const { return static_cast<int>(impl_->mol->getNumHeavyAtoms()); }

int Molecule::FormalCharge() const {
  int charge = 0;
  for (const auto* atom : impl_->mol->atoms()) charge += atom->getFormalCharge();
  return charge;
}

std::string Molecule::MolBlock() const {
  RDKit::RWMol copy(*impl_->mol);
  RDDepict::compute2DCoords(copy);
  return RDKit::MolToMolBlock(copy);
}

Result<Molecule> Molecule::Standardized() const {
  return GuardRdkit("standardization failed", [&]() -> Result<Molecule> {
    RDKit::RWMol input(*impl_->mol);
    // fragmentParent runs cleanup (normalize, reionize) first, then keeps the largest fragment.
    std::unique_ptr<RDKit::RWMol> parent(RDKit::MolStandardize::fragmentParent(input));
    if (!parent) return MakeError(ErrorCode::kInvalidArgument, "standardization failed");
    RDKit::MolStandardize::Uncharger uncharger;
    std::unique_ptr<RDKit::ROMol> neutral(uncharger.uncharge(*parent));
    if (!neutral) return MakeError(ErrorCode::kInvalidArgument, "neutralization failed");
    return Molecule(std::make_unique<Impl>(Impl{std::move(neutral)}));
  });
}

}  // namespace labloop::chem
