#include <catch2/catch.hpp>

#include "core/chem/reader.h"
#include "tests/support/temp_dir.h"

using namespace labloop;
using namespace labloop::chem;

namespace {
const std::string kData = LABLOOP_TEST_DATA;

const RejectedRecord* FindRejected(const ImportReport& report, const std::string& location) {
  for (const auto& r : report.rejected) {
    if (r.location == location) return &r;
  }
  return nullptr;
}
}  // namespace

TEST_CASE("SMILES files: bad records are rejected by line - the rest is read") {
  ReadOptions options;
  options.limits.max_heavy_atoms = 50;
  auto report = ReadMoleculeFile(kData + "/bad_lines.smi", options);
  REQUIRE(report);
  // ethanol, benzene, salt (-> chloride? no: largest fragment), acetic acid, ethanol again
  REQUIRE(report->records.size() == 5);
  CHECK(report->records[0].smiles == "CCO");
  CHECK(report->records[0].id == "ethanol");
  CHECK(report->records[0].location == "bad_lines.smi:2");
  CHECK(report->records[0].inchikey == "LFQSCWFLJHTTHZ-UHFFFAOYSA-N");
  CHECK(report->records[4].inchikey == report->records[0].inchikey);  // OCC == CCO
  REQUIRE(report->rejected.size() == 3);
  auto* ring = FindRejected(*report, "bad_lines.smi:4");
  REQUIRE(ring);
  CHECK(ring->id == "not-a-ring");
  CHECK(ring->ToString() == "bad_lines.smi:4 (id 'not-a-ring'): unparsable smiles 'C1CC'");
  REQUIRE(FindRejected(*report, "bad_lines.smi:5"));  // pentavalent sodium
  auto* big = FindRejected(*report, "bad_lines.smi:9");
  REQUIRE(big);
  CHECK(big->reason == "too many heavy atoms: 77 (limit 50)");
  CHECK(
      report->Summary() ==
      "bad_lines.smi: 5 molecules read, 3 rejected (2 unparsable smiles, 1 too many heavy atoms)");
}

TEST_CASE("CSV: the SMILES column is found - quotes are honoured - other columns kept") {
  auto report = ReadMoleculeFile(kData + "/with_props.csv");
  REQUIRE(report);
  REQUIRE(report->records.size() == 3);
  CHECK(report->records[1].id == "m2");
  CHECK(report->records[1].properties == std::vector<std::pair<std::string, std::string>>{
                                             {"value", "2.5"}, {"note", "quoted, with comma"}});
  REQUIRE(report->rejected.size() == 2);
  CHECK(report->rejected[0].ToString() ==
        "with_props.csv:4 (id 'm3'): unparsable smiles 'not_a_smiles'");
  CHECK(report->rejected[1].ToString() == "with_props.csv:6 (id 'm5'): empty smiles");
}

TEST_CASE("CSV without a SMILES column fails the import with the header named") {
  testing::TempDir dir;
  auto path = dir.Write("no_smiles.csv", "name,value\nx,1\n");
  auto report = ReadMoleculeFile(path);
  REQUIRE_FALSE(report);
  CHECK(report.error().message ==
        "no_smiles.csv: header 'name,value' has no column named like 'smiles'");
  ReadOptions options;
  options.smiles_column = "structure";
  auto named = ReadMoleculeFile(path, options);
  REQUIRE_FALSE(named);
  CHECK(named.error().message == "no_smiles.csv: header 'name,value' has no column 'structure'");
}

TEST_CASE("SDF: records with their data fields - a broken record is named by index") {
  auto report = ReadMoleculeFile(kData + "/small.sdf");
  REQUIRE(report);
  CHECK(report->records.size() == 6);
  REQUIRE(report->rejected.size() == 1);
  CHECK(report->rejected[0].location.rfind("small.sdf record 7 (line ", 0) == 0);
  CHECK(report->rejected[0].id == "broken");
  const auto& props = report->records[0].properties;
  bool has_solubility = false;
  for (const auto& [k, v] : props) has_solubility |= k == "SOL";
  CHECK(has_solubility);
}

TEST_CASE("Missing files and unknown formats are clear errors") {
  auto missing = ReadMoleculeFile("/nonexistent/pool.smi");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ErrorCode::kNotFound);
  CHECK(missing.error().message == "cannot open molecule file '/nonexistent/pool.smi'");
  auto format = ReadMoleculeFile("pool.xlsx");
  REQUIRE_FALSE(format);
  CHECK(format.error().message.rfind("unknown molecule file type 'pool.xlsx'", 0) == 0);
}

TEST_CASE("Gzipped SMILES files are read", "[integration][slow]") {
  auto report =
      ReadMoleculeFile(std::string(LABLOOP_SHARED_DATA) + "/qm9/qm9_130k.smi.gz", ReadOptions{});
  REQUIRE(report);
  CHECK(report->records.size() > 130000);
}

TEST_CASE("SplitDelimited handles quotes and escaped quotes") {
  CHECK(SplitDelimited("a,\"b,c\",\"d\"\"e\",", ',') ==
        std::vector<std::string>{"a", "b,c", "d\"e", ""});
  CHECK(SplitDelimited("x\ty", '\t') == std::vector<std::string>{"x", "y"});
}

TEST_CASE("ForEachSmiles streams SDF records as canonical SMILES - skips a broken one") {
  std::vector<std::pair<int64_t, std::string>> seen;
  REQUIRE(ForEachSmiles(
      kData + "/small.sdf", ReadOptions{},
      [&](int64_t line, const std::string& smiles) { seen.emplace_back(line, smiles); }));
  auto report = ReadMoleculeFile(kData + "/small.sdf");
  REQUIRE(report);
  REQUIRE(seen.size() == report->records.size());  // the broken record 7 is skipped
  CHECK(seen.front().first == 1);
  for (size_t i = 0; i < seen.size(); ++i) {
    // The same molecules as the full reader (which also standardizes: compare unstandardized).
    auto molecule = Molecule::FromSmiles(seen[i].second);
    REQUIRE(molecule);
  }
}

TEST_CASE("TSV with an empty first field and CSV with a byte-order mark are read as written") {
  testing::TempDir dir;
  // The streaming reader (pools, reference sets) keeps the empty id: the SMILES column stays 2.
  const std::string tsv = dir.Write("k.tsv", "id\tsmiles\tsolvent\n\tCCO\tCl\nm2\tCCN\tO\n");
  std::vector<std::string> streamed;
  REQUIRE(ForEachSmiles(tsv, ReadOptions{},
                        [&](int64_t, const std::string& s) { streamed.push_back(s); }));
  CHECK(streamed == std::vector<std::string>{"CCO", "CCN"});
  // A spreadsheet's UTF-8 BOM is not part of the first column's name.
  const std::string csv = dir.Write("bom.csv", "\xEF\xBB\xBFname,smiles\nethanol,CCO\n");
  ReadOptions by_name;
  by_name.smiles_column = "smiles";
  auto report = ReadMoleculeFile(csv, by_name);
  REQUIRE(report);
  REQUIRE(report->records.size() == 1);
  CHECK(report->records[0].id == "ethanol");
  CHECK(report->header.columns.front() == "name");
}

TEST_CASE("A quoted CSV field may hold line breaks, as labloop writes them") {
  testing::TempDir dir;
  // Row 2's note spans two lines; row 3 has a stray quote and is read as it is.
  const std::string csv = dir.Write(
      "notes.csv",
      "smiles,note,logS\nCCO,\"first line\nsecond line\",1.1\nCCN,plain,2.2\nCCC,\"stray,3.3\n");
  auto report = ReadMoleculeFile(csv, ReadOptions{});
  REQUIRE(report);
  REQUIRE(report->records.size() == 3);
  CHECK(report->records[0].location == "notes.csv:2");
  CHECK(report->records[0].properties == std::vector<std::pair<std::string, std::string>>{
                                             {"note", "first line\nsecond line"}, {"logS", "1.1"}});
  CHECK(report->records[1].location == "notes.csv:4");
  CHECK(report->records[1].properties.back().second == "2.2");
  CHECK(report->records[2].smiles == "CCC");
  // The streaming reader agrees, by record and first line.
  std::vector<std::pair<int64_t, std::string>> streamed;
  REQUIRE(ForEachSmiles(csv, ReadOptions{}, [&](int64_t line, const std::string& s) {
    streamed.emplace_back(line, s);
  }));
  CHECK(streamed ==
        std::vector<std::pair<int64_t, std::string>>{{2, "CCO"}, {4, "CCN"}, {5, "CCC"}});
}
