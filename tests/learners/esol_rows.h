#pragma once
// ESOL molecules for learner tests: fingerprints, graphs and targets of tests/data/esol150.csv.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <vector>

#include "core/chem/fingerprint.h"
#include "core/chem/graph.h"
#include "core/chem/molecule.h"
#include "learners/sparse_matrix.h"

namespace labloop::learners {

struct Molecules {
  SparseMatrix x{1024};  // count Morgan fingerprints (the D-MPNN ignores them; gp_dmpnn reads)
  std::vector<chem::MolGraph> graphs;
  std::vector<double> y;
};

// ESOL rows [first, first + count) of tests/data/esol150.csv.
inline Molecules Esol(size_t first, size_t count) {
  std::ifstream in(std::string(LABLOOP_TEST_DATA) + "/esol150.csv");
  std::string line;
  std::getline(in, line);
  Molecules m;
  for (size_t row = 0; std::getline(in, line) && m.y.size() < count; ++row) {
    if (row < first) continue;
    auto comma = line.find(',');
    auto molecule = chem::Molecule::FromSmiles(line.substr(0, comma));
    REQUIRE(molecule);
    auto graph = chem::BuildMolGraph(*molecule);
    REQUIRE(graph);
    chem::MorganOptions morgan;
    morgan.size = 1024;
    auto fp = chem::MorganFingerprint(*molecule, morgan);
    m.x.AddRow(std::vector<int>(fp.indices.begin(), fp.indices.end()), fp.values);
    m.graphs.push_back(*graph);
    m.y.push_back(std::stod(line.substr(comma + 1)));
  }
  return m;
}

}  // namespace labloop::learners
