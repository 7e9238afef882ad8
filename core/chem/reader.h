#pragma once
// Reading molecule files: SMILES (.smi), CSV/TSV with a SMILES column, and SDF, optionally gzipped.
//
// Every record is parsed, checked against the limits, standardized (optional) and given a canonical
// SMILES and an InChIKey. A record that fails is rejected with a reason and its location
// ("pool.smi:12", "set.sdf record 3"); the rest of the file is still read. Only a file that cannot
// be opened, or a CSV without a SMILES column, fails the whole call.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/chem/fingerprint.h"
#include "core/chem/molecule.h"
#include "core/result.h"

namespace labloop::chem {

enum class FileFormat { kSmiles, kCsv, kTsv, kSdf };

// From the extension, looking through a trailing ".gz": .smi/.smiles/.txt, .csv, .tsv, .sdf/.sd.
Result<FileFormat> DetectFormat(const std::string& path);

struct ReadOptions {
  MoleculeLimits limits;
  bool standardize = true;
  // CSV/TSV: the SMILES column; empty picks the first column named like "smiles" (any case).
  std::string smiles_column;
  // CSV/TSV: the id column; empty picks "id" or "name" (any case) when present.
  std::string id_column;
  // When set, each record also gets this fingerprint (saves parsing the molecule twice).
  std::optional<MorganOptions> fingerprint;
  int threads = 0;  // 0: one per core
};

struct MoleculeRecord {
  std::string location;  // "pool.smi:12" or "set.sdf record 3"
  std::string id;        // the record's own name, if the file gives one
  std::string input;     // the SMILES as written (empty for SDF)
  std::string smiles;    // canonical SMILES after standardization
  std::string inchikey;
  std::vector<std::pair<std::string, std::string>> properties;  // other columns / SDF data fields
  SparseFingerprint fingerprint;                                // if ReadOptions::fingerprint
};

struct RejectedRecord {
  std::string location;
  std::string id;
  std::string input;
  std::string reason;

  // "pool.smi:12 (id 'mol7'): unparsable smiles 'C1CC'".
  std::string ToString() const;
};

// A CSV/TSV file's header: its columns in file order, and which hold the SMILES and the id (-1:
// none). Empty for SMILES and SDF files.
struct TableHeader {
  std::vector<std::string> columns;
  int smiles = -1, id = -1;
};

struct ImportReport {
  std::string path;
  TableHeader header;
  std::vector<MoleculeRecord> records;  // in file order
  std::vector<RejectedRecord> rejected;

  // "pool.smi: 1998 molecules read, 2 rejected (1 unparsable smiles, 1 too many heavy atoms)".
  std::string Summary() const;
};

// Parses one SMILES into a record (no location set). Used by the reader and by anything that takes
// SMILES from a user.
Result<MoleculeRecord> ProcessSmiles(const std::string& smiles, const ReadOptions& options);

Result<ImportReport> ReadMoleculeFile(const std::string& path, const ReadOptions& options = {});

// Splits one CSV/TSV line into fields, honouring double quotes ("a,b" and "" escapes).
std::vector<std::string> SplitDelimited(const std::string& line, char delimiter);
// The field as written to a CSV file: quoted (with "" for ") when it holds a comma, a quote or a
// line break; as it is otherwise. SplitDelimited reads it back.
std::string CsvField(const std::string& field);

// A whole file as text, gunzipped when its name ends in .gz.
Result<std::string> ReadWholeFile(const std::string& path);

// Streams the SMILES of a SMILES, CSV/TSV or SDF file (optionally .gz) record by record, calling
// on_record(line number, SMILES): for files too big to hold, such as library pools. SMILES are
// passed on unparsed; columns are found as ReadMoleculeFile finds them; an SDF record becomes its
// canonical SMILES (an unreadable one is skipped with a warning naming it). A damaged file is an
// error that says after which line.
Status ForEachSmiles(const std::string& path, const ReadOptions& options,
                     const std::function<void(int64_t, const std::string&)>& on_record);

}  // namespace labloop::chem
