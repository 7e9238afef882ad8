#pragma once
// The library pool: a uniform random sample of a molecule file of millions of records.
//
// The file is streamed once (reservoir sampling, Vitter's algorithm R, seeded): memory holds the
// sample, not the file. Sampled records are parsed, standardized and deduplicated by InChIKey;
// unusable ones are replaced from a reserve drawn in the same pass (another pass with a larger
// reserve when it runs short), so `n` distinct molecules come back whenever the file has them.
// Provenance: {"file": ..., "line": N}. Report(): records sampled, unusable (the first named,
// also in the log) and duplicates.

#include <memory>

#include "generators/generator.h"

namespace labloop::generators {

Result<std::unique_ptr<Generator>> CreatePoolGenerator(const GeneratorOptions& options);

}  // namespace labloop::generators
