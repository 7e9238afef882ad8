#pragma once
// The embedded demo campaign: the smallest GFN2-xTB HOMO-LUMO gap among 2,000 QM9 molecules,
// 8 rounds of 32 xtb evaluations, then the same number of random evaluations for comparison.
// The config and the pool are compiled into the binary (examples/qm9-gap/), so the demo needs no
// files; it writes them into the demo folder beside the campaign file.

#include <ostream>
#include <string>

#include "core/result.h"

namespace labloop::engine {

struct DemoOptions {
  std::string dir = "labloop-demo";  // created if missing; an existing demo campaign is resumed
};

// Runs the demo and writes its summary to `out`.
Status RunDemo(const DemoOptions& options, std::ostream& out);

// The embedded files (generated from examples/qm9-gap/ at build time).
const char* DemoConfigText();
const char* DemoPoolText();

}  // namespace labloop::engine
