#include "generators/pool_generator.h"

#include <algorithm>
#include <fstream>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "core/chem/reader.h"

namespace labloop::generators {

namespace {

struct Sampled {
  int64_t line = 0;
  std::string smiles;
};

class PoolGenerator final : public Generator {
 public:
  explicit PoolGenerator(GeneratorOptions options) : options_(std::move(options)) {}
  std::string Kind() const override { return "pool"; }

  Result<std::vector<Proposal>> Generate(int64_t n) override {
    if (n <= 0) return std::vector<Proposal>();
    // One pass: a reservoir of n + reserve records, the reserve replacing unusable ones.
    if (n > 100000000) {
      return MakeError(ErrorCode::kInvalidArgument, "the pool generator samples at most 10^8");
    }
    const int64_t size = n + std::max<int64_t>(16, n);
    std::vector<Sampled> reservoir;
    reservoir.reserve(static_cast<size_t>(std::min<int64_t>(size, 1 << 20)));
    std::mt19937_64 rng(options_.seed);
    int64_t seen = 0;
    chem::ReadOptions read;
    read.smiles_column = options_.smiles_column;
    auto offer = [&](int64_t line, const std::string& smiles) {
      ++seen;
      if (static_cast<int64_t>(reservoir.size()) < size) {
        reservoir.push_back({line, smiles});
      } else {
        std::uniform_int_distribution<int64_t> pick(0, seen - 1);
        int64_t slot = pick(rng);
        if (slot < size) reservoir[slot] = {line, smiles};
      }
    };
    LABLOOP_TRY(chem::ForEachSmiles(options_.pool, read, offer));
    std::shuffle(reservoir.begin(), reservoir.end(), rng);  // the sample's order is random too

    std::set<std::string> keys;
    std::vector<Proposal> out;
    for (const auto& s : reservoir) {
      if (static_cast<int64_t>(out.size()) >= n) break;
      auto record = chem::ProcessSmiles(s.smiles, read);
      if (!record || !keys.insert(record->inchikey).second) continue;
      nlohmann::json provenance = {{"file", options_.pool}, {"line", s.line}};
      out.push_back({record->smiles, record->inchikey, "pool", provenance.dump()});
    }
    return out;
  }

 private:
  GeneratorOptions options_;
};

}  // namespace

Result<std::unique_ptr<Generator>> CreatePoolGenerator(const GeneratorOptions& options) {
  if (options.pool.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "the pool generator needs a pool file");
  }
  if (!std::ifstream(options.pool)) {
    return MakeError(ErrorCode::kNotFound, "cannot open pool '" + options.pool + "'");
  }
  return std::unique_ptr<Generator>(new PoolGenerator(options));
}

}  // namespace labloop::generators
