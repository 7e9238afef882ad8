#pragma once
// The flags of `labloop lm train`, shared with `labloop-gpu-check lm-train` so that a model
// trained on a GPU machine is made by the same options (docs/gpu.md).

#include "generators/smiles_lm.h"

namespace CLI {
class App;
}

namespace labloop::cli {

void AddLmTrainOptions(CLI::App& command, generators::LmTrainOptions& options);

}  // namespace labloop::cli
