#include "generators/pool_generator.h"

#include <algorithm>
#include <fstream>
#include <random>
#include <set>

#include <boost/iostreams/filter/gzip.hpp>
#include <boost/iostreams/filtering_stream.hpp>
#include <nlohmann/json.hpp>

#include "core/chem/reader.h"

namespace labloop::generators {

namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

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
    auto offer = [&](int64_t line, std::string smiles) {
      ++seen;
      if (static_cast<int64_t>(reservoir.size()) < size) {
        reservoir.push_back({line, std::move(smiles)});
      } else {
        std::uniform_int_distribution<int64_t> pick(0, seen - 1);
        int64_t slot = pick(rng);
        if (slot < size) reservoir[slot] = {line, std::move(smiles)};
      }
    };
    LABLOOP_TRY(Stream(offer));
    std::shuffle(reservoir.begin(), reservoir.end(), rng);  // the sample's order is random too

    chem::ReadOptions read;
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
  // Calls offer(line, smiles) for every record of the pool file.
  template <typename Offer>
  Status Stream(Offer&& offer) {
    std::ifstream file(options_.pool, std::ios::binary);
    if (!file) return MakeError(ErrorCode::kNotFound, "cannot open pool '" + options_.pool + "'");
    const std::string name = Lower(options_.pool);
    const std::string base = EndsWith(name, ".gz") ? name.substr(0, name.size() - 3) : name;
    if (EndsWith(base, ".sdf")) {
      // SDF records span lines: read whole (pools of millions are SMILES or CSV in practice).
      auto report = chem::ReadMoleculeFile(options_.pool);
      if (!report) return tl::unexpected(report.error());
      int64_t i = 0;
      for (const auto& r : report->records) offer(++i, r.smiles);
      return {};
    }
    boost::iostreams::filtering_istream in;
    if (EndsWith(name, ".gz")) in.push(boost::iostreams::gzip_decompressor());
    in.push(file);
    const bool csv = EndsWith(base, ".csv") || EndsWith(base, ".tsv");
    const char delimiter = EndsWith(base, ".tsv") ? '\t' : ',';
    std::string text;
    int64_t line = 0;
    int column = 0;
    try {
      if (csv) {
        if (!std::getline(in, text)) return {};
        ++line;
        if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);  // a UTF-8 byte-order mark
        if (!text.empty() && text.back() == '\r') text.pop_back();
        auto header = chem::SplitDelimited(text, delimiter);
        column = -1;
        for (size_t c = 0; c < header.size(); ++c) {
          const std::string h = Lower(header[c]);
          if (options_.smiles_column.empty() ? (h == "smiles" || h == "smi")
                                             : header[c] == options_.smiles_column) {
            column = static_cast<int>(c);
          }
        }
        if (column < 0) {
          return MakeError(ErrorCode::kInvalidArgument,
                           options_.pool + ": no SMILES column in the header '" + text + "'");
        }
      }
      while (std::getline(in, text)) {
        ++line;
        if (!text.empty() && text.back() == '\r') text.pop_back();
        if (text.empty() || text[0] == '#') continue;
        if (csv) {
          auto fields = chem::SplitDelimited(text, delimiter);
          if (column < static_cast<int>(fields.size())) offer(line, fields[column]);
        } else {
          offer(line, text.substr(0, text.find_first_of(" \t")));
        }
      }
    } catch (const std::exception& e) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          "reading pool '" + options_.pool + "' at line " + std::to_string(line) + ": " + e.what());
    }
    // The stream swallows a decompressor's exception and only sets badbit: a damaged .gz.
    if (in.bad()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "reading pool '" + options_.pool + "' failed after line " +
                           std::to_string(line) + " (damaged or truncated file?)");
    }
    return {};
  }

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
