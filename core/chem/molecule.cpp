#include "core/chem/molecule.h"

#include <GraphMol/Chirality.h>
#include <GraphMol/Depictor/RDDepictor.h>
#include <GraphMol/FileParsers/FileParsers.h>
#include <GraphMol/MolOps.h>
#include <GraphMol/MolStandardize/Charge.h>
#include <GraphMol/MolStandardize/Fragment.h>
#include <GraphMol/MolStandardize/Metal.h>
#include <GraphMol/MolStandardize/MolStandardize.h>
#include <GraphMol/MolStandardize/Normalize.h>
#include <GraphMol/RWMol.h>
#include <GraphMol/SmilesParse/SmilesParse.h>
#include <GraphMol/SmilesParse/SmilesWrite.h>
#include <RDGeneral/RDLog.h>

#include <cstdlib>
#include <mutex>

#include "core/chem/internal.h"
#include "core/parallel.h"

namespace labloop::chem {

namespace {

// RDKit 2022.09's SmilesToMol sets RDK_USE_LEGACY_STEREO_PERCEPTION with setenv on every call and
// restores it after. The first call adds the variable, and glibc then reallocates the environment
// array while parses on other threads read it through getenv: a rare segfault in any parallel
// import. With the variable set (to RDKit's default) before main starts any thread, later setenv
// calls only swap one entry in place, which concurrent getenv calls may read safely.
const bool kLegacyStereoVariableSet = [] {
  setenv(RDKit::Chirality::useLegacyStereoEnvVar,
         RDKit::Chirality::useLegacyStereoDefaultVal ? "1" : "0", /*overwrite=*/0);
  return true;
}();

}  // namespace

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
    return MakeError(ErrorCode::kInvalidArgument, "too many heavy atoms: " + std::to_string(heavy) +
                                                      " (limit " +
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
  return CheckLimits(GuardRdkit("unparsable smiles '" + smiles + "'",
                                [&]() -> Result<Molecule> {
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
  return CheckLimits(
      GuardRdkit("unreadable mol block",
                 [&]() -> Result<Molecule> {
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

std::set<std::string> Molecule::Elements() const {
  std::set<std::string> out;
  for (const auto* atom : impl_->mol->atoms()) {
    out.insert(atom->getSymbol());
    if (atom->getTotalNumHs() > 0) out.insert("H");
  }
  return out;
}

int Molecule::FormalCharge() const {
  int charge = 0;
  for (const auto* atom : impl_->mol->atoms()) charge += atom->getFormalCharge();
  return charge;
}

Result<std::string> Molecule::MolBlock() const {
  return GuardRdkit("writing a mol block failed", [&]() -> Result<std::string> {
    RDKit::RWMol copy(*impl_->mol);
    RDDepict::compute2DCoords(copy);
    return RDKit::MolToMolBlock(copy);
  });
}

namespace {

// True when no RDKit cleanup rule can change the molecule: every normalization, reionization and
// uncharging rule involves N, S, P, a metal, a charge, a radical, several fragments or a lone
// atom. Skipping the standardizer for these (most of QM9, many drug fragments) triples import
// speed.
bool AlreadyStandard(const RDKit::ROMol& mol) {
  if (mol.getNumAtoms() < 2) return false;
  for (const auto* atom : mol.atoms()) {
    switch (atom->getAtomicNum()) {
      case 1:
      case 6:
      case 8:
      case 9:
      case 17:
      case 35:
      case 53:
        break;
      default:
        return false;
    }
    if (atom->getFormalCharge() != 0 || atom->getNumRadicalElectrons() != 0) return false;
  }
  std::vector<int> fragment_of;
  return RDKit::MolOps::getMolFrags(mol, fragment_of) == 1;
}

}  // namespace

namespace {

// RDKit's cleanup + fragmentParent + uncharge, with the rule catalogs parsed once per thread:
// the one-call helpers rebuild them for every molecule, which made standardization 10x slower
// than everything else an import does. The steps and their order are those of
// RDKit::MolStandardize::cleanup and fragmentParent.
struct Standardizer {
  RDKit::MolStandardize::MetalDisconnector metal;
  RDKit::MolStandardize::Normalizer normalizer;
  RDKit::MolStandardize::Reionizer reionizer;
  // The largest organic fragment, as documented: methylamine sulfate is methylamine, not
  // sulfuric acid (RDKit's default would take the heavier inorganic one on a tie in atoms).
  RDKit::MolStandardize::LargestFragmentChooser largest{/*preferOrganic=*/true};
  RDKit::MolStandardize::Uncharger uncharger;

  std::unique_ptr<RDKit::ROMol> Run(const RDKit::ROMol& input) {
    std::unique_ptr<RDKit::RWMol> mol(new RDKit::RWMol(input));
    RDKit::MolOps::removeHs(*mol);
    metal.disconnect(*mol);
    std::unique_ptr<RDKit::ROMol> normalized(normalizer.normalize(*mol));
    std::unique_ptr<RDKit::ROMol> reionized(reionizer.reionize(*normalized));
    RDKit::MolOps::assignStereochemistry(*reionized);
    std::unique_ptr<RDKit::ROMol> parent(largest.choose(*reionized));
    return std::unique_ptr<RDKit::ROMol>(uncharger.uncharge(*parent));
  }
};

}  // namespace

Result<Molecule> Molecule::Standardized() const {
  if (AlreadyStandard(*impl_->mol)) return *this;
  return GuardRdkit("standardization failed", [&]() -> Result<Molecule> {
    thread_local Standardizer standardizer;
    std::unique_ptr<RDKit::ROMol> parent = standardizer.Run(*impl_->mol);
    if (!parent) return MakeError(ErrorCode::kInvalidArgument, "standardization failed");
    return Molecule(std::make_unique<Impl>(Impl{std::move(parent)}));
  });
}

std::vector<std::string> CanonicalSmilesOf(const std::vector<std::string>& smiles) {
  std::vector<std::string> out(smiles.size());
  ParallelFor(static_cast<int64_t>(smiles.size()), 0, [&](int64_t i) {
    if (smiles[i].empty()) return;
    auto molecule = Molecule::FromSmiles(smiles[i]);
    if (molecule) out[i] = molecule->CanonicalSmiles();
  });
  return out;
}

}  // namespace labloop::chem
