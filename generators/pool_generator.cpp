#include "generators/pool_generator.h"

#include <algorithm>
#include <fstream>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "core/chem/reader.h"
#include "core/log.h"

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
  std::string Report() const override { return report_.dump(); }

  Result<std::vector<Proposal>> Generate(int64_t n) override {
    if (n <= 0) return std::vector<Proposal>();
    // One pass: a reservoir of n + reserve records, the reserve replacing unusable ones.
    if (n > 100000000) {
      return MakeError(ErrorCode::kInvalidArgument, "the pool generator samples at most 10^8");
    }
    // A reservoir of n + reserve records, the reserve replacing unusable ones (unparsable,
    // duplicates). When the sample comes up short and the file has more records than it held,
    // it is drawn again, from a fresh pass, with four times the reserve.
    int64_t reserve = std::max<int64_t>(16, n);
    std::vector<Proposal> out;
    for (;;) {
      const int64_t size = n + reserve;
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
      out.clear();
      int64_t unusable = 0, duplicates = 0;
      std::string first_unusable;
      for (const auto& s : reservoir) {
        if (static_cast<int64_t>(out.size()) >= n) break;
        auto record = chem::ProcessSmiles(s.smiles, read);
        if (!record) {
          if (unusable++ == 0) {
            first_unusable =
                options_.pool + ":" + std::to_string(s.line) + ": " + record.error().message;
          }
          continue;
        }
        if (!keys.insert(record->inchikey).second) {
          ++duplicates;
          continue;
        }
        nlohmann::json provenance = {{"file", options_.pool}, {"line", s.line}};
        out.push_back({record->smiles, record->inchikey, "pool", provenance.dump()});
      }
      report_ = {{"sampled", out.size()},
                 {"records", seen},
                 {"unusable", unusable},
                 {"duplicates", duplicates}};
      if (unusable > 0) {
        report_["first_unusable"] = first_unusable;
        LogWarn("pool {}: {} sampled records unusable (the first: {})", options_.pool, unusable,
                first_unusable);
      }
      if (static_cast<int64_t>(out.size()) >= n || size >= seen) break;
      reserve *= 4;
    }
    return out;
  }

 private:
  GeneratorOptions options_;
  nlohmann::json report_ = nlohmann::json::object();
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
