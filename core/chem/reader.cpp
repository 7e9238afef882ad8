#include "core/chem/reader.h"

#include <boost/iostreams/copy.hpp>
#include <boost/iostreams/filter/gzip.hpp>
#include <boost/iostreams/filtering_stream.hpp>
#include <boost/iostreams/filtering_streambuf.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "core/log.h"
#include "core/parallel.h"
#include "core/progress.h"

namespace labloop::chem {

namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string BaseName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

// Whether `text` leaves a double-quoted CSV field open: an odd number of quotes ("" inside a
// field counts two). Such a field goes on after the line break (labloop writes multi-line SDF
// values so), up to kMaxRecordLines lines; a quote still open then was a stray one.
bool OpensQuote(const std::string& text) {
  return std::count(text.begin(), text.end(), '"') % 2 == 1;
}
constexpr size_t kMaxRecordLines = 100;

// A record before parsing: where it is and what it says.
struct RawRecord {
  std::string location;
  std::string id;
  std::string smiles;     // SMILES input, or
  std::string mol_block;  // SDF input
  std::vector<std::pair<std::string, std::string>> properties;
};

Result<std::vector<RawRecord>> SplitSmilesFile(const std::string& name,
                                               const std::vector<std::string>& lines) {
  std::vector<RawRecord> raw;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string line = Trim(lines[i]);
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.find_first_of(" \t");
    std::string smiles = line.substr(0, space);
    if (i == 0 && (Lower(smiles) == "smiles" || Lower(smiles) == "smi")) continue;  // header
    RawRecord r;
    r.location = name + ":" + std::to_string(i + 1);
    r.smiles = smiles;
    if (space != std::string::npos) r.id = Trim(line.substr(space));
    raw.push_back(std::move(r));
  }
  return raw;
}

// The SMILES column of a CSV/TSV header: the one named in the options, else the first whose name
// contains "smiles".
Result<int> FindSmilesColumn(const std::string& name, const std::string& header_line,
                             char delimiter, const ReadOptions& options) {
  std::vector<std::string> header = SplitDelimited(header_line, delimiter);
  for (size_t c = 0; c < header.size(); ++c) {
    const std::string h = Lower(Trim(header[c]));
    if (options.smiles_column.empty() ? h.find("smiles") != std::string::npos
                                      : Trim(header[c]) == options.smiles_column) {
      return static_cast<int>(c);
    }
  }
  std::string wanted = options.smiles_column.empty() ? "column named like 'smiles'"
                                                     : "column '" + options.smiles_column + "'";
  return MakeError(ErrorCode::kInvalidArgument,
                   name + ": header '" + header_line + "' has no " + wanted);
}

Result<std::vector<RawRecord>> SplitDelimitedFile(const std::string& name,
                                                  const std::vector<std::string>& lines,
                                                  char delimiter, const ReadOptions& options,
                                                  TableHeader& table_header) {
  size_t header_line = 0;
  while (header_line < lines.size() && Trim(lines[header_line]).empty()) ++header_line;
  if (header_line == lines.size()) return std::vector<RawRecord>{};
  std::vector<std::string> header = SplitDelimited(lines[header_line], delimiter);
  auto smiles_column = FindSmilesColumn(name, lines[header_line], delimiter, options);
  if (!smiles_column) return tl::unexpected(smiles_column.error());
  const int smiles_col = *smiles_column;
  int id_col = -1;
  for (size_t c = 0; c < header.size(); ++c) {
    std::string h = Lower(Trim(header[c]));
    if (!options.id_column.empty()) {
      if (Trim(header[c]) == options.id_column) id_col = static_cast<int>(c);
    } else if (id_col < 0 && (h == "id" || h == "name")) {
      id_col = static_cast<int>(c);
    }
  }
  if (!options.id_column.empty() && id_col < 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     name + ": header has no id column '" + options.id_column + "'");
  }
  for (const auto& column : header) table_header.columns.push_back(Trim(column));
  table_header.smiles = smiles_col;
  table_header.id = id_col;
  std::vector<RawRecord> raw;
  for (size_t i = header_line + 1; i < lines.size(); ++i) {
    if (Trim(lines[i]).empty()) continue;
    const size_t first = i;
    std::string record = lines[i];
    if (OpensQuote(record)) {  // a quoted field with line breaks: the record goes on
      std::string joined = record;
      size_t last = i;
      while (OpensQuote(joined) && last + 1 < lines.size() && last - i < kMaxRecordLines) {
        joined += "\n" + lines[++last];
      }
      if (!OpensQuote(joined)) record = std::move(joined), i = last;
    }
    std::vector<std::string> fields = SplitDelimited(record, delimiter);
    RawRecord r;
    r.location = name + ":" + std::to_string(first + 1);
    if (static_cast<int>(fields.size()) > smiles_col) r.smiles = Trim(fields[smiles_col]);
    if (id_col >= 0 && static_cast<int>(fields.size()) > id_col) r.id = Trim(fields[id_col]);
    for (size_t c = 0; c < header.size(); ++c) {
      if (static_cast<int>(c) == smiles_col || static_cast<int>(c) == id_col) continue;
      r.properties.emplace_back(Trim(header[c]), c < fields.size() ? Trim(fields[c]) : "");
    }
    raw.push_back(std::move(r));
  }
  return raw;
}

Result<std::vector<RawRecord>> SplitSdfFile(const std::string& name,
                                            const std::vector<std::string>& lines) {
  std::vector<RawRecord> raw;
  size_t i = 0;
  int index = 0;
  while (i < lines.size()) {
    size_t start = i;
    while (i < lines.size() && lines[i].rfind("$$$$", 0) != 0) ++i;
    bool has_content = false;
    for (size_t k = start; k < i; ++k) has_content |= !Trim(lines[k]).empty();
    if (has_content) {
      RawRecord r;
      ++index;
      r.location =
          name + " record " + std::to_string(index) + " (line " + std::to_string(start + 1) + ")";
      r.id = Trim(lines[start]);
      size_t k = start;
      for (; k < i; ++k) {
        r.mol_block += lines[k] + "\n";
        if (lines[k].rfind("M  END", 0) == 0) {
          ++k;
          break;
        }
      }
      // Data items: "> <name>" then value lines up to a blank line.
      while (k < i) {
        const std::string& line = lines[k];
        size_t open = line.find('<'), close = line.find('>', open == std::string::npos ? 0 : open);
        if (line.rfind(">", 0) == 0 && open != std::string::npos && close != std::string::npos) {
          std::string key = line.substr(open + 1, close - open - 1);
          std::string value;
          for (++k; k < i && !Trim(lines[k]).empty(); ++k) {
            value += (value.empty() ? "" : "\n") + Trim(lines[k]);
          }
          r.properties.emplace_back(key, value);
        } else {
          ++k;
        }
      }
      raw.push_back(std::move(r));
    }
    ++i;  // past "$$$$"
  }
  return raw;
}

Result<MoleculeRecord> FinishUnguarded(Result<Molecule> parsed, const ReadOptions& options) {
  if (!parsed) return tl::unexpected(parsed.error());
  if (options.standardize) {
    parsed = parsed->Standardized();
    if (!parsed) return tl::unexpected(parsed.error());
  }
  MoleculeRecord record;
  record.smiles = parsed->CanonicalSmiles();
  auto key = parsed->InchiKey();
  if (!key) return tl::unexpected(key.error());
  record.inchikey = *key;
  if (options.fingerprint) record.fingerprint = MorganFingerprint(*parsed, *options.fingerprint);
  return record;
}

Result<MoleculeRecord> Finish(Result<Molecule> parsed, const ReadOptions& options) {
  // Runs inside ParallelFor, whose body must not throw: any RDKit exception becomes a rejection.
  try {
    return FinishUnguarded(std::move(parsed), options);
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInvalidArgument, std::string("rdkit failed: ") + e.what());
  }
}

// "unparsable smiles 'C1CC'" -> "unparsable smiles": the kind of a rejection, for the summary.
std::string ReasonKind(const std::string& reason) {
  size_t cut = reason.find_first_of(":'(0123456789");
  return Trim(reason.substr(0, cut));
}

}  // namespace

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(ErrorCode::kNotFound, "cannot open molecule file '" + path + "'");
  try {
    std::ostringstream out;
    if (EndsWith(Lower(path), ".gz")) {
      boost::iostreams::filtering_streambuf<boost::iostreams::input> gz;
      gz.push(boost::iostreams::gzip_decompressor());
      gz.push(in);
      boost::iostreams::copy(gz, out);
    } else {
      out << in.rdbuf();
    }
    return out.str();
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "cannot read '" + path + "': " + std::string(e.what()));
  }
}

Result<FileFormat> DetectFormat(const std::string& path) {
  std::string p = Lower(path);
  if (EndsWith(p, ".gz")) p = p.substr(0, p.size() - 3);
  if (EndsWith(p, ".smi") || EndsWith(p, ".smiles") || EndsWith(p, ".txt")) {
    return FileFormat::kSmiles;
  }
  if (EndsWith(p, ".csv")) return FileFormat::kCsv;
  if (EndsWith(p, ".tsv")) return FileFormat::kTsv;
  if (EndsWith(p, ".sdf") || EndsWith(p, ".sd")) return FileFormat::kSdf;
  return MakeError(ErrorCode::kInvalidArgument,
                   "unknown molecule file type '" + path +
                       "' (expected .smi, .smiles, .txt, .csv, .tsv, .sdf or .sd, optionally .gz)");
}

std::vector<std::string> SplitDelimited(const std::string& line, char delimiter) {
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == delimiter) {
      fields.push_back(std::move(field));
      field.clear();
    } else {
      field += c;
    }
  }
  fields.push_back(std::move(field));
  return fields;
}

std::string RejectedRecord::ToString() const {
  std::string out = location;
  if (!id.empty()) out += " (id '" + id + "')";
  return out + ": " + reason;
}

std::string ImportReport::Summary() const {
  std::ostringstream out;
  out << BaseName(path) << ": " << records.size() << " molecules read, " << rejected.size()
      << " rejected";
  if (!rejected.empty()) {
    std::map<std::string, int> counts;
    for (const auto& r : rejected) ++counts[ReasonKind(r.reason)];
    std::vector<std::pair<std::string, int>> kinds(counts.begin(), counts.end());
    std::stable_sort(kinds.begin(), kinds.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    out << " (";
    bool first = true;
    for (const auto& [kind, count] : kinds) {
      out << (first ? "" : ", ") << count << " " << kind;
      first = false;
    }
    out << ")";
  }
  return out.str();
}

Result<MoleculeRecord> ProcessSmiles(const std::string& smiles, const ReadOptions& options) {
  auto record = Finish(Molecule::FromSmiles(smiles, options.limits), options);
  if (record) record->input = smiles;
  return record;
}

Result<ImportReport> ReadMoleculeFile(const std::string& path, const ReadOptions& options) {
  auto format = DetectFormat(path);
  if (!format) return tl::unexpected(format.error());
  auto text = ReadWholeFile(path);
  if (!text) return tl::unexpected(text.error());
  if (text->rfind("\xEF\xBB\xBF", 0) == 0) text->erase(0, 3);  // a UTF-8 BOM (spreadsheets)
  const std::string name = BaseName(path);
  std::vector<std::string> lines = SplitLines(*text);
  text->clear();

  Result<std::vector<RawRecord>> raw;
  TableHeader header;
  switch (*format) {
    case FileFormat::kSmiles:
      raw = SplitSmilesFile(name, lines);
      break;
    case FileFormat::kCsv:
      raw = SplitDelimitedFile(name, lines, ',', options, header);
      break;
    case FileFormat::kTsv:
      raw = SplitDelimitedFile(name, lines, '\t', options, header);
      break;
    case FileFormat::kSdf:
      raw = SplitSdfFile(name, lines);
      break;
  }
  if (!raw) return tl::unexpected(raw.error());
  lines.clear();
  // Files big enough to take more than a few seconds get a progress bar.
  constexpr size_t kProgressThreshold = 5000;

  std::vector<Result<MoleculeRecord>> parsed(raw->size(), MakeError(ErrorCode::kInternal, ""));
  std::optional<Progress> progress;
  if (raw->size() >= kProgressThreshold) progress.emplace("reading " + name, raw->size());
  ParallelFor(static_cast<int64_t>(raw->size()), options.threads, [&](int64_t i) {
    if (progress) progress->Advance();
    const RawRecord& r = (*raw)[i];
    parsed[i] = r.mol_block.empty()
                    ? ProcessSmiles(r.smiles, options)
                    : Finish(Molecule::FromMolBlock(r.mol_block, options.limits), options);
  });

  ImportReport report;
  report.path = path;
  report.header = std::move(header);
  for (size_t i = 0; i < raw->size(); ++i) {
    RawRecord& r = (*raw)[i];
    if (parsed[i]) {
      MoleculeRecord record = std::move(*parsed[i]);
      record.location = r.location;
      record.id = r.id;
      record.input = r.smiles;
      record.properties = std::move(r.properties);
      report.records.push_back(std::move(record));
    } else {
      report.rejected.push_back({r.location, r.id, r.smiles, parsed[i].error().message});
    }
  }
  return report;
}

std::string CsvField(const std::string& field) {
  if (field.find_first_of(",\"\n\r") == std::string::npos) return field;
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

Status ForEachSmiles(const std::string& path, const ReadOptions& options,
                     const std::function<void(int64_t, const std::string&)>& on_record) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return MakeError(ErrorCode::kNotFound, "cannot open molecule file '" + path + "'");
  const std::string lower = Lower(path);
  const bool gz = EndsWith(lower, ".gz");
  const std::string base = gz ? lower.substr(0, lower.size() - 3) : lower;
  const std::string name = std::filesystem::path(path).filename().string();
  const bool sdf = EndsWith(base, ".sdf") || EndsWith(base, ".sd");
  const bool delimited = EndsWith(base, ".csv") || EndsWith(base, ".tsv");
  const char delimiter = EndsWith(base, ".tsv") ? '\t' : ',';
  boost::iostreams::filtering_istream in;
  if (gz) in.push(boost::iostreams::gzip_decompressor());
  in.push(file);
  std::string text;
  int64_t line = 0;
  int column = -1;
  // SDF: a record's mol block is gathered up to "M  END" and turned into SMILES at "$$$$"; the
  // record's first line number is what the callback gets. An unreadable record is named in a
  // warning and skipped.
  std::string mol_block;
  int64_t record_line = 0, record = 0;
  bool in_block = true;
  // CSV/TSV: a record whose quoted field holds line breaks, gathered line by line.
  std::vector<std::pair<int64_t, std::string>> pending;
  // A CSV/TSV record (one line, or several joined), its SMILES column to `on_record`.
  auto emit_delimited = [&](int64_t at, const std::string& record_text) {
    auto fields = SplitDelimited(record_text, delimiter);
    if (column < static_cast<int>(fields.size())) {
      on_record(at, Trim(fields[column]));
    } else {
      LogWarn("{} line {}: no column {} (the SMILES column): skipped", name, at, column + 1);
    }
  };
  try {
    while (std::getline(in, text)) {
      ++line;
      if (sdf) {
        if (record_line == 0) record_line = line, in_block = true;
        if (text.rfind("$$$$", 0) == 0) {
          ++record;
          auto molecule = Molecule::FromMolBlock(mol_block, options.limits);
          if (molecule) {
            on_record(record_line, molecule->CanonicalSmiles());
          } else {
            LogWarn("{} record {} (line {}): {}", name, record, record_line,
                    molecule.error().message);
          }
          mol_block.clear();
          record_line = 0;
        } else if (in_block) {
          mol_block += text + "\n";
          if (text.rfind("M  END", 0) == 0) in_block = false;
        }
        continue;
      }
      if (line == 1 && text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);  // a BOM
      if (!text.empty() && text.back() == '\r') text.pop_back();
      if (delimited && column >= 0) {
        // A quoted field with line breaks: the record goes on over the next lines. A quote still
        // open after kMaxRecordLines lines was a stray one: each line is then read as it is.
        if (!pending.empty() || OpensQuote(text)) {
          pending.emplace_back(line, text);
          std::string joined;
          for (const auto& [at, part] : pending) joined += (joined.empty() ? "" : "\n") + part;
          if (OpensQuote(joined) && pending.size() < kMaxRecordLines) continue;
          if (!OpensQuote(joined)) {
            emit_delimited(pending.front().first, joined);
          } else {
            LogWarn("{} line {}: an unclosed quote; its lines are read one by one", name,
                    pending.front().first);
            for (const auto& [at, part] : pending) {
              if (!Trim(part).empty()) emit_delimited(at, part);
            }
          }
          pending.clear();
          continue;
        }
      }
      // Only blank lines are skipped: trimming a CSV/TSV line would drop an empty first field
      // (a leading tab) and shift every column.
      if (Trim(text).empty() || (!delimited && Trim(text)[0] == '#')) continue;
      if (delimited && column < 0) {  // the header
        auto found = FindSmilesColumn(name, text, delimiter, options);
        if (!found) return tl::unexpected(found.error());
        column = *found;
        continue;
      }
      if (delimited) {
        emit_delimited(line, text);
      } else {
        text = Trim(text);
        const std::string smiles = text.substr(0, text.find_first_of(" \t"));
        if (line == 1 && (Lower(smiles) == "smiles" || Lower(smiles) == "smi")) continue;
        on_record(line, smiles);
      }
    }
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "reading '" + path + "' at line " + std::to_string(line) + ": " + e.what());
  }
  if (!pending.empty()) {  // the file ended inside a quote: a stray one
    LogWarn("{} line {}: an unclosed quote; its lines are read one by one", name,
            pending.front().first);
    for (const auto& [at, part] : pending) {
      if (!Trim(part).empty()) emit_delimited(at, part);
    }
  }
  // An SDF whose last record lacks its "$$$$" still counts that record.
  if (sdf && mol_block.find("M  END") != std::string::npos) {
    auto molecule = Molecule::FromMolBlock(mol_block, options.limits);
    if (molecule) {
      on_record(record_line, molecule->CanonicalSmiles());
    } else {
      LogWarn("{} record {} (line {}): {}", name, record + 1, record_line,
              molecule.error().message);
    }
  }
  // The stream swallows a decompressor's exception and only sets badbit: a damaged .gz.
  if (in.bad()) {
    return MakeError(ErrorCode::kInvalidArgument, "reading '" + path + "' failed after line " +
                                                      std::to_string(line) +
                                                      " (damaged or truncated file?)");
  }
  return {};
}

}  // namespace labloop::chem
