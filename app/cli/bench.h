#pragma once
// `labloop bench ...`: benchmark programs that print a table and write JSON (BENCHMARKS.md).

#include <string>

#include "core/result.h"

namespace labloop::cli {

struct StorePredictionsBench {
  int64_t predictions = 1000000;
  std::string json_path;
};
Status RunStorePredictionsBench(const StorePredictionsBench& options);

struct FastLoopBench {
  std::string library;  // SMILES file (optionally .gz) with at least `candidates` molecules
  int64_t candidates = 100000;
  int64_t training = 1000;
  int batch = 100;
  int repeats = 3;
  int epochs = 0;      // 0: the model's default
  int batch_size = 0;  // training minibatch; 0: the model's default
  int threads = 0;     // LibTorch threads; 0: one per core
  std::string json_path;
};
Status RunFastLoopBench(const FastLoopBench& options);

}  // namespace labloop::cli
