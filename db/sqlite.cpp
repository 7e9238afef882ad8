#include "db/sqlite.h"

namespace labloop::db::detail {

Error SqliteError(sqlite3* db, int rc, const std::string& what) {
  ErrorCode code = ErrorCode::kInternal;
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) code = ErrorCode::kUnavailable;
  if (rc == SQLITE_CONSTRAINT) code = ErrorCode::kInvalidArgument;
  if (rc == SQLITE_READONLY || rc == SQLITE_CANTOPEN || rc == SQLITE_FULL || rc == SQLITE_IOERR) {
    code = ErrorCode::kFailedPrecondition;
  }
  std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return Error{code, what + ": " + detail};
}

Statement::Statement(sqlite3* db, const char* sql) : db_(db) {
  int rc = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  if (rc != SQLITE_OK) {
    error_ = SqliteError(db, rc, std::string("preparing '") + sql + "'");
    stmt_ = nullptr;
  }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::Bind(int index, int64_t value) {
  return Check(sqlite3_bind_int64(stmt_, index, value), index);
}
Statement& Statement::Bind(int index, double value) {
  return Check(sqlite3_bind_double(stmt_, index, value), index);
}
Statement& Statement::Bind(int index, const std::string& value) {
  return Check(
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
      index);
}
Statement& Statement::BindBlob(int index, const std::string& bytes) {
  if (bytes.empty()) return BindNull(index);
  return Check(sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT),
               index);
}
Statement& Statement::Bind(int index, std::optional<double> value) {
  return value ? Bind(index, *value) : BindNull(index);
}
Statement& Statement::BindNull(int index) { return Check(sqlite3_bind_null(stmt_, index), index); }

Statement& Statement::Check(int rc, int index) {
  // The first failed bind (a value over SQLite's size limit, a wrong index) fails the next Step.
  if (rc != SQLITE_OK && stmt_ != nullptr && !bind_failed_) {
    bind_failed_ = true;
    error_ = SqliteError(db_, rc,
                         "binding parameter " + std::to_string(index) + " of '" +
                             std::string(sqlite3_sql(stmt_)) + "'");
  }
  return *this;
}

Result<bool> Statement::Step() {
  if (!stmt_ || bind_failed_) return tl::unexpected(error_);
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return tl::unexpected(
      SqliteError(db_, rc, "executing '" + std::string(sqlite3_sql(stmt_)) + "'"));
}

Status Statement::Run() {
  for (;;) {
    auto row = Step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return {};
  }
}

void Statement::Reset() {
  if (!stmt_) return;  // a failed prepare: Step() reports its error
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_failed_ = false;
}

int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }
double Statement::Double(int column) const { return sqlite3_column_double(stmt_, column); }
bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}
std::string Statement::Text(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  return text
             ? std::string(reinterpret_cast<const char*>(text), sqlite3_column_bytes(stmt_, column))
             : std::string();
}
std::string Statement::Blob(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  return data ? std::string(static_cast<const char*>(data), sqlite3_column_bytes(stmt_, column))
              : std::string();
}

Status Exec(sqlite3* db, const std::string& sql) {
  char* message = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string text = message ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    Error error = SqliteError(nullptr, rc, "");
    error.message = "'" + sql.substr(0, 60) + (sql.size() > 60 ? "...'" : "'") + " on '" +
                    (sqlite3_db_filename(db, "main") ? sqlite3_db_filename(db, "main") : "?") +
                    "': " + text;
    return tl::unexpected(error);
  }
  return {};
}

Transaction::Transaction(sqlite3* db) : db_(db), begun_(Exec(db, "BEGIN IMMEDIATE")) {}

Transaction::~Transaction() {
  if (begun_ && !done_) Exec(db_, "ROLLBACK");
}

Status Transaction::Commit() {
  if (!begun_) return begun_;
  auto status = Exec(db_, "COMMIT");
  if (status) done_ = true;
  return status;
}

}  // namespace labloop::db::detail
