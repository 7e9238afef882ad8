#include "core/chem/sa_score.h"

#include <GraphMol/Chirality.h>
#include <GraphMol/Descriptors/MolDescriptors.h>
#include <GraphMol/Fingerprints/MorganFingerprints.h>
#include <GraphMol/MolOps.h>
#include <GraphMol/ROMol.h>
#include <GraphMol/RingInfo.h>

#include <cmath>
#include <cstdlib>
#include <mutex>
#include <sstream>

#include "core/chem/internal.h"
#include "core/chem/reader.h"

namespace labloop::chem {

namespace {
constexpr const char* kDebianTable = "/usr/share/RDKit/Contrib/SA_Score/fpscores.pkl.gz";
}  // namespace

Result<SaScorer> SaScorer::Load(const std::string& path) {
  std::string file = path;
  if (file.empty()) {
    const char* env = std::getenv("LABLOOP_SA_FRAGMENTS");
    file = env != nullptr && *env ? env : kDebianTable;
  }
  auto text = ReadWholeFile(file);
  if (!text) {
    return MakeError(ErrorCode::kNotFound,
                     "SA score fragment table: " + text.error().message +
                         " (Debian package rdkit-data, or set LABLOOP_SA_FRAGMENTS)");
  }
  // A protocol-0 pickle of lists [score, fragment, fragment, ...]: "(lp0\nF-0.04\naI123\na..."
  // Lines that begin with F start a list's score; with I (or L) add a fragment to it.
  SaScorer scorer;
  std::istringstream lines(*text);
  std::string line;
  float score = 0;
  bool have_score = false;
  while (std::getline(lines, line)) {
    // Opcodes without arguments ("(", "l", "a") may prefix the next one on the same line.
    size_t at = line.find_first_not_of("(la");
    if (at == std::string::npos) continue;
    const char op = line[at];
    const char* value = line.c_str() + at + 1;
    if (op == 'F') {
      score = std::strtof(value, nullptr);
      have_score = true;
    } else if ((op == 'I' || op == 'L') && have_score) {
      scorer.scores_[static_cast<uint32_t>(std::strtoll(value, nullptr, 10))] = score;
    }
  }
  if (scorer.scores_.size() < 1000) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'" + file + "' is not an SA score fragment table (" +
                         std::to_string(scorer.scores_.size()) + " fragments read)");
  }
  return scorer;
}

Result<const SaScorer*> SaScorer::Default() {
  static std::once_flag once;
  static std::unique_ptr<SaScorer> scorer;
  static Error error;
  std::call_once(once, [] {
    auto loaded = Load();
    if (loaded) {
      scorer = std::make_unique<SaScorer>(std::move(*loaded));
    } else {
      error = loaded.error();
    }
  });
  if (!scorer) return tl::unexpected(error);
  return scorer.get();
}

double SaScorer::Score(const Molecule& molecule) const {
  RDKit::ROMol mol(*molecule.impl().mol);  // stereo perception writes properties: a copy
  // Fragment score: unfolded Morgan radius-2 counts against the table (-4 for unknown ones).
  std::unique_ptr<RDKit::SparseIntVect<uint32_t>> fp(
      RDKit::MorganFingerprints::getFingerprint(mol, 2));
  double score1 = 0;
  int n_fragments = 0;
  for (const auto& [bit, count] : fp->getNonzeroElements()) {
    auto it = scores_.find(bit);
    score1 += (it == scores_.end() ? -4.0 : it->second) * count;
    n_fragments += count;
  }
  score1 /= std::max(1, n_fragments);

  // Complexity penalties. Stereocenters as RDKit's FindMolChiralCenters(includeUnassigned=True).
  const int atoms = static_cast<int>(mol.getNumAtoms());
  RDKit::MolOps::assignStereochemistry(mol, /*cleanIt=*/true, /*force=*/true,
                                       /*flagPossibleStereoCenters=*/true);
  int chiral = 0;
  for (const auto* atom : mol.atoms()) {
    if (atom->hasProp(RDKit::common_properties::_CIPCode) ||
        atom->hasProp(RDKit::common_properties::_ChiralityPossible)) {
      ++chiral;
    }
  }
  const int spiro = static_cast<int>(RDKit::Descriptors::calcNumSpiroAtoms(mol));
  const int bridgeheads = static_cast<int>(RDKit::Descriptors::calcNumBridgeheadAtoms(mol));
  bool macrocycle = false;
  for (const auto& ring : mol.getRingInfo()->atomRings()) macrocycle |= ring.size() > 8;
  const double size_penalty = std::pow(atoms, 1.005) - atoms;
  double score2 = -size_penalty - std::log10(chiral + 1.0) - std::log10(spiro + 1.0) -
                  std::log10(bridgeheads + 1.0) - (macrocycle ? std::log10(2.0) : 0.0);
  // Fingerprint density: symmetric molecules are easier than their size says.
  const auto distinct = static_cast<int>(fp->getNonzeroElements().size());
  double score3 = atoms > distinct ? 0.5 * std::log(static_cast<double>(atoms) / distinct) : 0.0;

  double raw = score1 + score2 + score3;
  constexpr double kMin = -4.0, kMax = 2.5;
  double sa = 11.0 - (raw - kMin + 1.0) / (kMax - kMin) * 9.0;
  if (sa > 8.0) sa = 8.0 + std::log(sa + 1.0 - 9.0);
  return std::clamp(sa, 1.0, 10.0);
}

}  // namespace labloop::chem
