// Standard InChIKey through the IUPAC InChI library's structure input (inchi_Input).
//
// Stereo is passed the way a molfile passes it: 2D coordinates with wedge and dash bonds, from
// which InChI perceives tetrahedral and double-bond stereo itself. Molecules without stereo skip
// the 2D layout, which is the costly part.

#include <GraphMol/Depictor/RDDepictor.h>
#include <GraphMol/FileParsers/MolFileStereochem.h>
#include <GraphMol/MolOps.h>
#include <GraphMol/RWMol.h>
#include <inchi_api.h>

#include <cstring>
#include <mutex>
#include <vector>

#include "core/chem/internal.h"

namespace labloop::chem::detail {

namespace {

bool HasStereo(const RDKit::ROMol& mol) {
  for (const auto* atom : mol.atoms()) {
    if (atom->getChiralTag() != RDKit::Atom::CHI_UNSPECIFIED) return true;
  }
  for (const auto* bond : mol.bonds()) {
    if (bond->getStereo() > RDKit::Bond::STEREOANY) return true;
  }
  return false;
}

S_CHAR BondType(const RDKit::Bond& bond) {
  switch (bond.getBondType()) {
    case RDKit::Bond::SINGLE:
      return INCHI_BOND_TYPE_SINGLE;
    case RDKit::Bond::DOUBLE:
      return INCHI_BOND_TYPE_DOUBLE;
    case RDKit::Bond::TRIPLE:
      return INCHI_BOND_TYPE_TRIPLE;
    case RDKit::Bond::AROMATIC:
      return INCHI_BOND_TYPE_ALTERN;
    default:
      return INCHI_BOND_TYPE_NONE;
  }
}

std::mutex& InchiMutex() {
  static std::mutex mutex;
  return mutex;
}

}  // namespace

Result<std::string> ComputeInchiKey(const RDKit::ROMol& input) {
  RDKit::RWMol mol(input);
  try {
    // InChI wants Kekulé bonds and explicit hydrogen counts.
    RDKit::MolOps::Kekulize(mol, true);
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInvalidArgument, std::string("cannot kekulize: ") + e.what());
  }
  const bool stereo = HasStereo(mol);
  const RDKit::Conformer* conformer = nullptr;
  if (stereo) {
    try {
      RDDepict::compute2DCoords(mol);
      conformer = &mol.getConformer();
      RDKit::WedgeMolBonds(mol, conformer);
    } catch (const std::exception& e) {
      return MakeError(ErrorCode::kInvalidArgument,
                       std::string("2d layout for inchi failed: ") + e.what());
    }
  }

  const int n = static_cast<int>(mol.getNumAtoms());
  if (n > 1023) return MakeError(ErrorCode::kInvalidArgument, "too many atoms for inchi");
  std::vector<inchi_Atom> atoms(n);
  std::memset(atoms.data(), 0, sizeof(inchi_Atom) * atoms.size());
  for (const auto* atom : mol.atoms()) {
    inchi_Atom& a = atoms[atom->getIdx()];
    std::strncpy(a.elname, atom->getSymbol().c_str(), ATOM_EL_LEN - 1);
    a.num_iso_H[0] = static_cast<S_CHAR>(atom->getTotalNumHs());
    a.charge = static_cast<S_CHAR>(atom->getFormalCharge());
    if (atom->getIsotope() > 0) a.isotopic_mass = static_cast<AT_NUM>(atom->getIsotope());
    switch (atom->getNumRadicalElectrons()) {
      case 0:
        break;
      case 1:
        a.radical = INCHI_RADICAL_DOUBLET;
        break;
      case 2:
        a.radical = INCHI_RADICAL_TRIPLET;
        break;
      default:
        return MakeError(ErrorCode::kInvalidArgument, "unsupported radical for inchi");
    }
    if (conformer != nullptr) {
      const auto& p = conformer->getAtomPos(atom->getIdx());
      a.x = p.x;
      a.y = p.y;
    }
  }
  // Each bond is listed once, on its begin atom, where RDKit also puts the narrow end of a wedge.
  for (const auto* bond : mol.bonds()) {
    inchi_Atom& a = atoms[bond->getBeginAtomIdx()];
    if (a.num_bonds >= MAXVAL)
      return MakeError(ErrorCode::kInvalidArgument, "atom valence too high for inchi");
    a.neighbor[a.num_bonds] = static_cast<AT_NUM>(bond->getEndAtomIdx());
    a.bond_type[a.num_bonds] = BondType(*bond);
    if (bond->getBondDir() == RDKit::Bond::BEGINWEDGE) {
      a.bond_stereo[a.num_bonds] = INCHI_BOND_STEREO_SINGLE_1UP;
    } else if (bond->getBondDir() == RDKit::Bond::BEGINDASH) {
      a.bond_stereo[a.num_bonds] = INCHI_BOND_STEREO_SINGLE_1DOWN;
    } else if (bond->getBondType() == RDKit::Bond::DOUBLE &&
               bond->getStereo() == RDKit::Bond::STEREOANY) {
      a.bond_stereo[a.num_bonds] = INCHI_BOND_STEREO_DOUBLE_EITHER;
    }
    ++a.num_bonds;
  }

  inchi_Input in;
  std::memset(&in, 0, sizeof(in));
  in.atom = atoms.data();
  in.num_atoms = static_cast<AT_NUM>(n);
  char options[] = "";
  in.szOptions = options;

  std::lock_guard<std::mutex> lock(InchiMutex());
  inchi_Output out;
  std::memset(&out, 0, sizeof(out));
  int rc = GetStdINCHI(&in, &out);
  if (rc != inchi_Ret_OKAY && rc != inchi_Ret_WARNING) {
    std::string message = out.szMessage ? out.szMessage : "unknown error";
    FreeStdINCHI(&out);
    return MakeError(ErrorCode::kInvalidArgument, "inchi failed: " + message);
  }
  char key[32] = {0};
  int key_rc = GetStdINCHIKeyFromStdINCHI(out.szInChI, key);
  FreeStdINCHI(&out);
  if (key_rc != 0) {
    return MakeError(ErrorCode::kInternal, "inchikey failed with code " + std::to_string(key_rc));
  }
  return std::string(key);
}

}  // namespace labloop::chem::detail
