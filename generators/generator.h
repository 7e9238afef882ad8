#pragma once
// Generators propose molecules for a campaign or for `labloop generate` (DESIGN.md §3).
//
// Every proposal is a valid, sanitized, canonical molecule with its InChIKey and its provenance:
// which generator made it and from what (a file and line, parents, a reaction, a model version).
// A generator never proposes the same InChIKey twice in one call.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/registry.h"
#include "core/result.h"

namespace labloop::generators {

struct Proposal {
  std::string smiles;  // canonical
  std::string inchikey;
  std::string generator;   // "pool", ...
  std::string provenance;  // JSON object: where it came from
};

struct GeneratorOptions {
  std::string kind = "pool";
  uint64_t seed = 0;
  // pool: a SMILES, CSV or SDF file of any size (optionally .gz), read as a stream.
  std::string pool;
  std::string smiles_column;  // CSV: empty picks the column named like "smiles"
};

class Generator {
 public:
  virtual ~Generator() = default;
  virtual std::string Kind() const = 0;
  // Up to `n` distinct proposals (fewer when the source has fewer).
  virtual Result<std::vector<Proposal>> Generate(int64_t n) = 0;
};

using GeneratorRegistry = Registry<Generator, const GeneratorOptions&>;
void RegisterBuiltinGenerators(GeneratorRegistry& registry);

}  // namespace labloop::generators
