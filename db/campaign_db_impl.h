#pragma once
// Private to db/: the state behind a CampaignDb, shared by the files that implement it
// (campaign_db.cpp: writes and the engine's reads; browse.cpp: what the GUI and server show).

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>

#include "db/campaign_db.h"
#include "db/schema.h"
#include "db/sqlite.h"

namespace labloop::db {

using detail::Exec;
using detail::Statement;
using detail::Transaction;

struct CampaignDb::Impl {
  sqlite3* db = nullptr;
  std::string path;
  int schema_version = 0;
  bool read_only = false;
  std::function<void()> before_commit_hook;
  int lock_fd = -1;  // holds the writer's flock for the connection's lifetime

  ~Impl() {
    if (db) sqlite3_close_v2(db);
    if (lock_fd >= 0) ::close(lock_fd);  // releases the flock
  }

  // One writer per campaign: an exclusive flock on the sidecar FILE-lock. Not on the database
  // file itself: closing any descriptor of it would drop SQLite's own POSIX locks. The kernel
  // drops the flock when the process dies, even by SIGKILL, so a crashed writer never blocks.
  Status LockForWriting() {
    std::string lock_path = path + "-lock";
    lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd < 0) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "cannot create the lock file '" + lock_path + "': " + std::strerror(errno));
    }
    if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "campaign file '" + path +
                           "' is already open for writing by another labloop process (a running "
                           "'labloop run'?); wait for it to finish or stop it");
    }
    return {};
  }

  Result<int> UserVersion() {
    Statement version(db, "PRAGMA user_version");  // finalized on return: no snapshot kept open
    auto row = version.Step();
    if (!row) return tl::unexpected(row.error());
    return static_cast<int>(version.Int(0));
  }

  Status Migrate() {
    auto version = UserVersion();
    if (!version) return tl::unexpected(version.error());
    schema_version = *version;
    const auto& migrations = detail::Migrations();
    if (schema_version > static_cast<int>(migrations.size())) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "campaign file '" + path + "' has schema version " +
                           std::to_string(schema_version) + ", newer than this labloop (" +
                           std::to_string(migrations.size()) + "): upgrade labloop");
    }
    if (read_only) {
      if (schema_version < static_cast<int>(migrations.size())) {
        return MakeError(ErrorCode::kFailedPrecondition,
                         "campaign file '" + path + "' has schema version " +
                             std::to_string(schema_version) +
                             "; open it once read-write (labloop run) to migrate it");
      }
      return {};
    }
    while (schema_version < static_cast<int>(migrations.size())) {
      Transaction tx(db);
      LABLOOP_TRY(tx.begun());
      // Read again under the write lock: another process (run and serve started together) may
      // have applied this step meanwhile.
      auto current = UserVersion();
      if (!current) return tl::unexpected(current.error());
      schema_version = *current;
      if (schema_version >= static_cast<int>(migrations.size())) break;
      LABLOOP_TRY(Exec(db, migrations[schema_version]));
      LABLOOP_TRY(Exec(db, "PRAGMA user_version = " + std::to_string(schema_version + 1)));
      LABLOOP_TRY(tx.Commit());
      ++schema_version;
    }
    return {};
  }
};

}  // namespace labloop::db
