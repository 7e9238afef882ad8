#pragma once
// The flags of `labloop lm train`, shared with `labloop-gpu-check lm-train` so that a model
// trained on a GPU machine is made by the same options (docs/gpu.md).

#include "core/result.h"
#include "generators/smiles_lm.h"

namespace CLI {
class App;
}

namespace labloop::cli {

void AddLmTrainOptions(CLI::App& command, generators::LmTrainOptions& options);

// Trains with progress lines on stdout, then says where the model went.
Status RunLmTrain(generators::LmTrainOptions options);

}  // namespace labloop::cli
