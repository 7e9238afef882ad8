#pragma once
// Private to core/chem: the RDKit molecule behind a Molecule. Never include outside core/chem.

#include <memory>
#include <string>

#include <GraphMol/ROMol.h>

#include "core/chem/molecule.h"

namespace labloop::chem {

struct Molecule::Impl {
  std::unique_ptr<RDKit::ROMol> mol;
};

namespace detail {

// Turns off RDKit's own error and warning log lines; labloop reports errors itself. Idempotent.
void SilenceRdkitLogs();

// The standard InChIKey of an RDKit molecule, through the IUPAC InChI library (Debian's RDKit has
// no InChI support). Serialized internally: the InChI library is not reentrant.
Result<std::string> ComputeInchiKey(const RDKit::ROMol& mol);

}  // namespace detail
}  // namespace labloop::chem
