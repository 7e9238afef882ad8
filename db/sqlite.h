#pragma once
// Private to db/: thin RAII over the SQLite C API. SQLite errors become Error values here.

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>

#include "core/result.h"

namespace labloop::db::detail {

Error SqliteError(sqlite3* db, int rc, const std::string& what);

class Statement {
 public:
  Statement(sqlite3* db, const char* sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return stmt_ != nullptr; }
  const Error& error() const { return error_; }

  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, int value) { return Bind(index, static_cast<int64_t>(value)); }
  Statement& Bind(int index, double value);
  Statement& Bind(int index, const std::string& value);
  Statement& BindBlob(int index, const std::string& bytes);
  Statement& Bind(int index, std::optional<double> value);
  Statement& BindNull(int index);

  // SQLITE_ROW -> true, SQLITE_DONE -> false; anything else -> error.
  Result<bool> Step();
  // Step until done, for statements that return no rows.
  Status Run();
  // Calls row() once per result row, reading columns from this statement.
  template <typename F>
  Status ForEachRow(F&& row) {
    for (;;) {
      auto more = Step();
      if (!more) return tl::unexpected(more.error());
      if (!*more) return {};
      row();
    }
  }
  void Reset();

  int64_t Int(int column) const;
  double Double(int column) const;
  bool IsNull(int column) const;
  std::string Text(int column) const;
  std::string Blob(int column) const;

 private:
  Statement& Check(int rc, int index);

  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  Error error_;
  bool bind_failed_ = false;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back unless Commit() succeeded.
class Transaction {
 public:
  explicit Transaction(sqlite3* db);
  ~Transaction();
  const Status& begun() const { return begun_; }
  Status Commit();

 private:
  sqlite3* db_;
  Status begun_;
  bool done_ = false;
};

Status Exec(sqlite3* db, const std::string& sql);

}  // namespace labloop::db::detail
