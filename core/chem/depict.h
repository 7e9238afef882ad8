#pragma once
// Pictures of molecules and substructure queries, for the GUI and the server.

#include <memory>
#include <string>

#include "core/chem/molecule.h"
#include "core/result.h"

namespace labloop::chem {

// An SVG of the molecule's 2D depiction (RDKit's MolDraw2DSVG), `width` x `height` pixels, on a
// white background. Atoms matching `highlight` (a substructure query, may be null) are
// highlighted. Thread-safe.
class SubstructureQuery;
Result<std::string> DepictSvg(const Molecule& molecule, int width, int height,
                              const SubstructureQuery* highlight = nullptr);

// A substructure query from SMARTS (or SMILES, which is valid SMARTS). Thread-safe for
// concurrent Matches().
class SubstructureQuery {
 public:
  static Result<SubstructureQuery> FromSmarts(const std::string& smarts);
  SubstructureQuery(SubstructureQuery&&) noexcept;
  SubstructureQuery& operator=(SubstructureQuery&&) noexcept;
  ~SubstructureQuery();

  bool Matches(const Molecule& molecule) const;
  const std::string& Smarts() const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit SubstructureQuery(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace labloop::chem
