#include "core/chem/depict.h"

#include <GraphMol/Depictor/RDDepictor.h>
#include <GraphMol/MolDraw2D/MolDraw2DSVG.h>
#include <GraphMol/MolDraw2D/MolDraw2DUtils.h>
#include <GraphMol/SmilesParse/SmilesParse.h>
#include <GraphMol/Substruct/SubstructMatch.h>

#include <exception>
#include <vector>

#include "core/chem/internal.h"

namespace labloop::chem {

struct SubstructureQuery::Impl {
  std::string smarts;
  std::unique_ptr<RDKit::ROMol> query;
};

SubstructureQuery::SubstructureQuery(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SubstructureQuery::SubstructureQuery(SubstructureQuery&&) noexcept = default;
SubstructureQuery& SubstructureQuery::operator=(SubstructureQuery&&) noexcept = default;
SubstructureQuery::~SubstructureQuery() = default;
const std::string& SubstructureQuery::Smarts() const { return impl_->smarts; }

Result<SubstructureQuery> SubstructureQuery::FromSmarts(const std::string& smarts) {
  detail::SilenceRdkitLogs();
  if (smarts.empty() || smarts.size() > 1000) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "substructure query must be 1 to 1000 characters of SMARTS");
  }
  auto impl = std::make_unique<Impl>();
  impl->smarts = smarts;
  try {
    impl->query.reset(RDKit::SmartsToMol(smarts));
  } catch (const std::exception& e) {
    impl->query.reset();
  }
  if (!impl->query) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "unparsable substructure query (SMARTS) '" + smarts + "'");
  }
  return SubstructureQuery(std::move(impl));
}

bool SubstructureQuery::Matches(const Molecule& molecule) const {
  RDKit::MatchVectType match;
  return RDKit::SubstructMatch(*molecule.impl().mol, *impl_->query, match);
}

Result<std::string> DepictSvg(const Molecule& molecule, int width, int height,
                              const SubstructureQuery* highlight) {
  if (width < 32 || height < 32 || width > 4000 || height > 4000) {
    return MakeError(ErrorCode::kInvalidArgument, "depiction size " + std::to_string(width) + "x" +
                                                      std::to_string(height) +
                                                      " is outside 32..4000 pixels");
  }
  try {
    RDKit::RWMol mol(*molecule.impl().mol);
    RDDepict::compute2DCoords(mol);
    std::vector<int> atoms;
    if (highlight) {
      std::vector<RDKit::MatchVectType> matches;
      RDKit::SubstructMatch(mol, *highlight->impl().query, matches);
      for (const auto& match : matches) {
        for (const auto& [query_atom, mol_atom] : match) atoms.push_back(mol_atom);
      }
    }
    RDKit::MolDraw2DSVG drawer(width, height);
    drawer.drawOptions().clearBackground = true;
    RDKit::MolDraw2DUtils::prepareAndDrawMolecule(drawer, mol, "",
                                                  atoms.empty() ? nullptr : &atoms);
    drawer.finishDrawing();
    return drawer.getDrawingText();
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal, std::string("depiction failed: ") + e.what());
  }
}

}  // namespace labloop::chem
