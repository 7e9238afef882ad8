#pragma once
// The emulated lab's hidden ground truth: what labloop-emulator's plate reader "measures", so a
// campaign run against it has a known answer.
//
//   pIC50 = 5 + 0.5 (cLogP - 2.5) + 0.35 aromatic rings - 0.012 (TPSA - 75)
//             - 0.004 |MW - 380| + 0.25 (HBD == 1 or 2)
//   clamped to [3.5, 9.5]
//
// (RDKit Crippen cLogP, TPSA, average molecular weight, Lipinski HBD, aromatic ring count.)
// Hill slope 1; the curve's top is 100 (% activity) and its bottom 0. The synthesizer's yield is
// 0.9 - 0.08 (SA score - 2), clamped to [0.05, 0.95], before noise.

#include <string>

#include "core/result.h"

namespace labloop::instruments {

struct TrueActivity {
  double pic50 = 0;
  double hill = 1;
  double top = 100, bottom = 0;
};

Result<TrueActivity> GroundTruth(const std::string& smiles);
// The expected synthesis yield (fraction) before noise.
Result<double> ExpectedYield(const std::string& smiles);

}  // namespace labloop::instruments
