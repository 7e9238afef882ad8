#include "db/campaign_db.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <unordered_map>

#include "db/campaign_db_impl.h"
#include "db/schema.h"
#include "db/sqlite.h"

namespace labloop::db {

using detail::Exec;
using detail::SqliteError;
using detail::Statement;
using detail::Transaction;

const char* RoundStateName(RoundState state) {
  switch (state) {
    case RoundState::kSelecting:
      return "selecting";
    case RoundState::kDispatched:
      return "dispatched";
    case RoundState::kDone:
      return "done";
  }
  return "?";
}

const char* JobStateName(JobState state) {
  switch (state) {
    case JobState::kQueued:
      return "queued";
    case JobState::kSubmitted:
      return "submitted";
    case JobState::kRunning:
      return "running";
    case JobState::kDone:
      return "done";
    case JobState::kFailed:
      return "failed";
    case JobState::kCancelled:
      return "cancelled";
  }
  return "?";
}

namespace {

JobState ParseJobState(const std::string& s) {
  if (s == "submitted") return JobState::kSubmitted;
  if (s == "running") return JobState::kRunning;
  if (s == "done") return JobState::kDone;
  if (s == "failed") return JobState::kFailed;
  if (s == "cancelled") return JobState::kCancelled;
  return JobState::kQueued;
}

RoundState ParseRoundState(const std::string& s) {
  if (s == "dispatched") return RoundState::kDispatched;
  if (s == "done") return RoundState::kDone;
  return RoundState::kSelecting;
}

std::string ParentDirectory(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

bool FileSystemSupportsWal(int64_t fs_type, std::string& name) {
  switch (static_cast<uint32_t>(fs_type)) {
    case 0x6969:
      name = "nfs";
      return false;
    case 0x517B:
      name = "smb";
      return false;
    case 0xFF534D42:
      name = "cifs";
      return false;
    case 0xFE534D42:
      name = "smb2";
      return false;
    case 0x65735546:
      name = "fuse";
      return true;  // sshfs and friends may still lack locking
    case 0x01021994:
      name = "tmpfs";
      return true;
    case 0xEF53:
      name = "ext4";
      return true;
    case 0x58465342:
      name = "xfs";
      return true;
    case 0x9123683E:
      name = "btrfs";
      return true;
    case 0x794C7630:
      name = "overlayfs";
      return true;
    default:
      name = "type 0x" + [&] {
        char buf[32];
        std::snprintf(buf, sizeof(buf), "%llx", static_cast<unsigned long long>(fs_type));
        return std::string(buf);
      }();
      return true;
  }
}

std::string NowUtc() {
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

namespace {

// synchronous=FULL for one write, NORMAL again after it: for the commits that a power cut must
// not undo because what follows them cannot be undone (a job handed to mpirun, Slurm or an
// instrument; a measurement acknowledged). Declared before the write's Transaction, so that it
// outlives its commit.
class FullSync {
 public:
  explicit FullSync(sqlite3* db) : db_(db), set_(Exec(db, "PRAGMA synchronous = FULL")) {}
  ~FullSync() {
    if (set_) (void)Exec(db_, "PRAGMA synchronous = NORMAL");
  }
  const Status& set() const { return set_; }

 private:
  sqlite3* db_;
  Status set_;
};

}  // namespace

CampaignDb::CampaignDb(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CampaignDb::~CampaignDb() = default;
const std::string& CampaignDb::Path() const { return impl_->path; }
int CampaignDb::SchemaVersion() const { return impl_->schema_version; }
void CampaignDb::SetBeforeCommitHook(std::function<void()> hook) {
  impl_->before_commit_hook = std::move(hook);
}

Result<std::unique_ptr<CampaignDb>> CampaignDb::Open(const std::string& path, OpenMode mode) {
  struct stat st {};
  bool exists = ::stat(path.c_str(), &st) == 0;
  if (mode == OpenMode::kCreate && exists) {
    return MakeError(
        ErrorCode::kFailedPrecondition,
        "campaign file '" + path + "' already exists; choose another name or remove it");
  }
  if (mode != OpenMode::kCreate && !exists) {
    return MakeError(ErrorCode::kNotFound, "campaign file '" + path + "' does not exist");
  }
  if (mode != OpenMode::kReadOnly) {
    struct statfs fs {};
    std::string where = exists ? path : ParentDirectory(path);
    if (::statfs(where.c_str(), &fs) != 0) {
      return MakeError(ErrorCode::kNotFound, "cannot reach the folder of '" + path + "'");
    }
    std::string fs_name;
    if (!FileSystemSupportsWal(static_cast<int64_t>(fs.f_type), fs_name)) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "campaign file '" + path + "' is on a " + fs_name +
                           " network file system, where SQLite's WAL journal cannot work; keep "
                           "campaign files on local or node-shared POSIX storage (for example "
                           "the node's scratch disk) and copy them back when done");
    }
  }

  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->read_only = mode == OpenMode::kReadOnly;
  if (mode == OpenMode::kReadWrite || mode == OpenMode::kCreate) {
    LABLOOP_TRY(impl->LockForWriting());
  }
  int flags = mode == OpenMode::kReadOnly ? SQLITE_OPEN_READONLY
              : mode == OpenMode::kCreate ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                                          : SQLITE_OPEN_READWRITE;
  int rc = sqlite3_open_v2(path.c_str(), &impl->db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    return tl::unexpected(SqliteError(impl->db, rc, "opening campaign file '" + path + "'"));
  }
  sqlite3_busy_timeout(impl->db, 10000);
  auto check = Exec(impl->db, "PRAGMA foreign_keys = ON");
  if (!check) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "'" + path + "' is not a labloop campaign file: " + check.error().message);
  }
  if (mode != OpenMode::kReadOnly) {
    Statement wal(impl->db, "PRAGMA journal_mode = WAL");
    auto row = wal.Step();
    if (!row) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "'" + path + "' is not a labloop campaign file: " + row.error().message);
    }
    if (wal.Text(0) != "wal") {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "campaign file '" + path +
                           "': the file system refused SQLite's WAL journal "
                           "(journal mode stays '" +
                           wal.Text(0) +
                           "'); keep campaign files on local "
                           "POSIX storage");
    }
    LABLOOP_TRY(Exec(impl->db, "PRAGMA synchronous = NORMAL"));
  }
  auto migrated = impl->Migrate();
  if (!migrated) {
    Error e = migrated.error();
    if (e.message.find("not a database") != std::string::npos) {
      e.message = "'" + path + "' is not a labloop campaign file (" + e.message + ")";
      e.code = ErrorCode::kInvalidArgument;
    }
    return tl::unexpected(e);
  }
  return std::unique_ptr<CampaignDb>(new CampaignDb(std::move(impl)));
}

Status CampaignDb::CreateCampaign(const CampaignRecord& record) {
  Transaction tx(impl_->db);
  LABLOOP_TRY(tx.begun());
  Statement insert(impl_->db,
                   "INSERT INTO campaign (id, name, config_given, config_resolved, created_at) "
                   "VALUES (1, ?, ?, ?, ?)");
  insert.Bind(1, record.name).Bind(2, record.config_given).Bind(3, record.config_resolved);
  insert.Bind(4, record.created_at.empty() ? NowUtc() : record.created_at);
  LABLOOP_TRY(insert.Run());
  Statement event(impl_->db,
                  "INSERT INTO event (time, actor, kind, detail) VALUES (?, 'labloop', "
                  "'campaign_created', ?)");
  event.Bind(1, NowUtc()).Bind(2, "{\"name\":\"" + record.name + "\"}");
  LABLOOP_TRY(event.Run());
  return tx.Commit();
}

Result<CampaignRecord> CampaignDb::GetCampaign() {
  Statement select(impl_->db,
                   "SELECT name, config_given, config_resolved, created_at, ready FROM campaign");
  auto row = select.Step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "campaign file '" + impl_->path + "' has no campaign record (init failed?)");
  }
  return CampaignRecord{select.Text(0), select.Text(1), select.Text(2), select.Text(3),
                        select.Int(4) != 0};
}

Status CampaignDb::MarkCampaignReady() {
  Transaction tx(impl_->db);
  LABLOOP_TRY(tx.begun());
  LABLOOP_TRY(Exec(impl_->db, "UPDATE campaign SET ready = 1"));
  return tx.Commit();
}

namespace {

// Inserts new candidates (duplicates by InChIKey only counted), inside the caller's transaction.
Result<AddCandidatesResult> InsertCandidates(sqlite3* db,
                                             const std::vector<NewCandidate>& candidates) {
  AddCandidatesResult result;
  Statement find(db,
                 "SELECT c.location FROM molecule m LEFT JOIN candidate c ON c.molecule_id = m.id "
                 "WHERE m.inchikey = ?");
  Statement molecule(db, "INSERT INTO molecule (smiles, inchikey, fingerprint) VALUES (?, ?, ?)");
  Statement candidate(db,
                      "INSERT INTO candidate (molecule_id, source, source_id, location, "
                      "round_added) VALUES (?, ?, ?, ?, ?)");
  for (const auto& c : candidates) {
    find.Reset();
    find.Bind(1, c.inchikey);
    auto found = find.Step();
    if (!found) return tl::unexpected(found.error());
    if (*found) {
      ++result.duplicates;
      result.ids.push_back(0);
      result.duplicates_of.emplace_back(c.location, find.Text(0));
      continue;
    }
    molecule.Reset();
    molecule.Bind(1, c.smiles).Bind(2, c.inchikey).BindBlob(3, c.fingerprint);
    LABLOOP_TRY(molecule.Run());
    candidate.Reset();
    candidate.Bind(1, static_cast<int64_t>(sqlite3_last_insert_rowid(db)))
        .Bind(2, c.source)
        .Bind(3, c.source_id)
        .Bind(4, c.location)
        .Bind(5, c.round_added);
    LABLOOP_TRY(candidate.Run());
    result.ids.push_back(static_cast<int64_t>(sqlite3_last_insert_rowid(db)));
    ++result.added;
  }
  return result;
}

// Inserts rejected inputs, inside the caller's transaction.
Status InsertRejected(sqlite3* db, const std::vector<RejectedInput>& rejected) {
  Statement insert(db,
                   "INSERT INTO rejected_input (source, location, record_id, input, reason, "
                   "created_at) VALUES (?, ?, ?, ?, ?, ?)");
  std::string now = NowUtc();
  for (const auto& r : rejected) {
    insert.Reset();
    insert.Bind(1, r.source).Bind(2, r.location).Bind(3, r.record_id).Bind(4, r.input);
    insert.Bind(5, r.reason).Bind(6, now);
    LABLOOP_TRY(insert.Run());
  }
  return {};
}

}  // namespace

Result<AddCandidatesResult> CampaignDb::AddCandidates(const std::vector<NewCandidate>& candidates) {
  Transaction tx(impl_->db);
  LABLOOP_TRY(tx.begun());
  auto result = InsertCandidates(impl_->db, candidates);
  if (!result) return result;
  LABLOOP_TRY(tx.Commit());
  return result;
}

Status CampaignDb::AddRejectedInputs(const std::vector<RejectedInput>& rejected) {
  if (rejected.empty()) return {};
  Transaction tx(impl_->db);
  LABLOOP_TRY(tx.begun());
  LABLOOP_TRY(InsertRejected(impl_->db, rejected));
  return tx.Commit();
}

Result<AddCandidatesResult> CampaignDb::AddGeneratedCandidates(
    int round, const std::vector<NewCandidate>& candidates,
    const std::vector<RejectedInput>& rejected,
    const std::function<std::string(const AddCandidatesResult&)>& event) {
  Transaction tx(impl_->db);
  LABLOOP_TRY(tx.begun());
  auto result = InsertCandidates(impl_->db, candidates);
  if (!result) return result;
  LABLOOP_TRY(InsertRejected(impl_->db, rejected));
  // The round is set here, whatever the caller's detail says of it: GeneratedIn reads it back.
  Statement insert(impl_->db,
                   "INSERT INTO event (time, actor, kind, detail) VALUES (?, 'labloop', "
                   "'candidates_generated', json_set(?, '$.round', ?))");
  insert.Bind(1, NowUtc()).Bind(2, event(*result)).Bind(3, round);
  LABLOOP_TRY(insert.Run());
  LABLOOP_TRY(tx.Commit());
  return result;
}

Result<bool> CampaignDb::GeneratedIn(int round) {
  Statement select(impl_->db,
                   "SELECT 1 FROM event WHERE kind = 'candidates_generated' AND "
                   "json_extract(detail, '$.round') = ? LIMIT 1");
  select.Bind(1, round);
  return select.Step();
}

Result<std::vector<CandidateRow>> CampaignDb::ListCandidates() {
  Statement select(impl_->db,
                   "SELECT c.id, m.smiles, m.inchikey, m.fingerprint, c.source, c.source_id, "
                   "c.round_added FROM candidate c JOIN molecule m ON m.id = c.molecule_id "
                   "ORDER BY c.id");
  std::vector<CandidateRow> rows;
  LABLOOP_TRY(select.ForEachRow([&] {
    rows.push_back({select.Int(0), select.Text(1), select.Text(2), select.Blob(3), select.Text(4),
                    select.Text(5), static_cast<int>(select.Int(6))});
  }));
  return rows;
}

Result<std::vector<RejectedInput>> CampaignDb::ListRejectedInputs() {
  Statement select(impl_->db,
                   "SELECT source, location, record_id, input, reason FROM rejected_input "
                   "ORDER BY id");
  std::vector<RejectedInput> rows;
  LABLOOP_TRY(select.ForEachRow([&] {
    rows.push_back(
        {select.Text(0), select.Text(1), select.Text(2), select.Text(3), select.Text(4)});
  }));
  return rows;
}

Result<std::optional<RoundRow>> CampaignDb::LastRound() {
  Statement select(impl_->db,
                   "SELECT number, state, model_id FROM round ORDER BY number DESC LIMIT 1");
  auto row = select.Step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return std::optional<RoundRow>();
  RoundRow round;
  round.number = static_cast<int>(select.Int(0));
  round.state = ParseRoundState(select.Text(1));
  if (!select.IsNull(2)) round.model_id = select.Int(2);
  return std::optional<RoundRow>(round);
}

Status CampaignDb::StartRound(int number) {
  Transaction tx(impl_->db);
  LABLOOP_TRY(tx.begun());
  Statement insert(impl_->db,
                   "INSERT INTO round (number, state, started_at) VALUES (?, 'selecting', ?)");
  insert.Bind(1, number).Bind(2, NowUtc());
  LABLOOP_TRY(insert.Run());
  return tx.Commit();
}

Result<int64_t> CampaignDb::StoreModel(const ModelRow& model) {
  Transaction tx(impl_->db);
  LABLOOP_TRY(tx.begun());
  // A round that selects again after a crash replaces its model of this property (and that
  // model's predictions) rather than keeping both.
  for (const char* sql :
       {"DELETE FROM prediction WHERE model_id IN (SELECT id FROM model WHERE round = ? AND "
        "property = ?)",
        "UPDATE round SET model_id = NULL WHERE model_id IN (SELECT id FROM model WHERE round = ? "
        "AND property = ?)",
        "DELETE FROM model WHERE round = ? AND property = ?"}) {
    Statement remove(impl_->db, sql);
    remove.Bind(1, model.round).Bind(2, model.property);
    LABLOOP_TRY(remove.Run());
  }
  Statement insert(impl_->db,
                   "INSERT INTO model (round, kind, property, training_size, metrics, weights, "
                   "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
  insert.Bind(1, model.round).Bind(2, model.kind).Bind(3, model.property);
  insert.Bind(4, model.training_size).Bind(5, model.metrics_json).BindBlob(6, model.weights);
  insert.Bind(7, NowUtc());
  LABLOOP_TRY(insert.Run());
  int64_t id = sqlite3_last_insert_rowid(impl_->db);
  Statement update(impl_->db, "UPDATE round SET model_id = ? WHERE number = ?");
  update.Bind(1, id).Bind(2, model.round);
  LABLOOP_TRY(update.Run());
  LABLOOP_TRY(tx.Commit());
  return id;
}

Result<ModelRow> CampaignDb::GetModel(int64_t id) {
  Statement select(impl_->db,
                   "SELECT id, round, kind, property, training_size, metrics, weights FROM model "
                   "WHERE id = ?");
  select.Bind(1, id);
  auto row = select.Step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return MakeError(ErrorCode::kNotFound, "no model " + std::to_string(id));
  return ModelRow{select.Int(0),  static_cast<int>(select.Int(1)),
                  select.Text(2), select.Text(3),
                  select.Int(4),  select.Text(5),
                  select.Blob(6)};
}

Status CampaignDb::StorePredictions(int64_t model_id,
                                    const std::vector<PredictionRow>& predictions) {
  std::vector<const PredictionRow*> sorted;
  sorted.reserve(predictions.size());
  for (const auto& p : predictions) sorted.push_back(&p);
  std::sort(sorted.begin(), sorted.end(),
            [](auto* a, auto* b) { return a->candidate_id < b->candidate_id; });
  Transaction tx(impl_->db);
  LABLOOP_TRY(tx.begun());
  Statement insert(impl_->db,
                   "INSERT OR REPLACE INTO prediction (model_id, candidate_id, mean, sigma, "
                   "sigma_epistemic, sigma_aleatoric) VALUES (?, ?, ?, ?, ?, ?)");
  if (!insert.ok()) return tl::unexpected(insert.error());
  for (const PredictionRow* p : sorted) {
    insert.Reset();
    insert.Bind(1, model_id).Bind(2, p->candidate_id).Bind(3, p->mean).Bind(4, p->sigma);
    insert.Bind(5, p->sigma_epistemic).Bind(6, p->sigma_aleatoric);
    LABLOOP_TRY(insert.Run());
  }
  return tx.Commit();
}

Result<int64_t> CampaignDb::CountPredictions(int64_t model_id) {
  Statement count(impl_->db, "SELECT COUNT(*) FROM prediction WHERE model_id = ?");
  count.Bind(1, model_id);
  auto row = count.Step();
  if (!row) return tl::unexpected(row.error());
  return count.Int(0);
}

namespace {
// The request id an instrument sees: unique across campaign files sharing an instrument (a random
// token), fixed once stored.
std::string NewRequestId(int64_t job_id, int step) {
  static std::mt19937_64 rng(
      std::random_device{}() ^
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  char token[17];
  std::snprintf(token, sizeof token, "%016llx", static_cast<unsigned long long>(rng()));
  return std::string("ll-") + token + "-j" + std::to_string(job_id) + "-s" + std::to_string(step);
}

Status InsertExperiment(sqlite3* db, int64_t job_id, int step, const ExperimentStep& e,
                        const std::string& state, const std::string& now) {
  Statement insert(db,
                   "INSERT INTO experiment (job_id, step, kind, instrument, request_id, "
                   "parameters, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  insert.Bind(1, job_id).Bind(2, step).Bind(3, e.kind).Bind(4, e.instrument);
  insert.Bind(5, NewRequestId(job_id, step)).Bind(6, e.parameters).Bind(7, state);
  insert.Bind(8, now).Bind(9, now);
  return insert.Run();
}
}  // namespace

namespace {

// The decisions' rows and, for simulate and experiment routes, their queued jobs (and experiment
// steps), inside the caller's transaction.
Status InsertDecisions(sqlite3* db, int round, const std::vector<DecisionRow>& decisions,
                       const std::string& job_kind, const std::string& backend,
                       const std::vector<ExperimentStep>& experiment_steps) {
  Statement decision(db,
                     "INSERT INTO decision (round, candidate_id, route, acquisition, "
                     "acquisition_value, mean, sigma, cost, reasons, created_at, needs_approval) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  Statement job(db,
                "INSERT INTO job (decision_id, candidate_id, round, kind, backend, state, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)");
  std::string now = NowUtc();
  for (const auto& d : decisions) {
    decision.Reset();
    decision.Bind(1, round).Bind(2, d.candidate_id).Bind(3, d.route).Bind(4, d.acquisition);
    decision.Bind(5, d.acquisition_value).Bind(6, d.mean).Bind(7, d.sigma).Bind(8, d.cost);
    decision.Bind(9, d.reasons_json).Bind(10, now).Bind(11, d.needs_approval ? 1 : 0);
    LABLOOP_TRY(decision.Run());
    if (d.route != "simulate" && d.route != "experiment") continue;
    const bool lab = d.route == "experiment";
    if (lab && experiment_steps.empty()) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "an experiment decision needs the experiment's steps (instruments)");
    }
    job.Reset();
    job.Bind(1, static_cast<int64_t>(sqlite3_last_insert_rowid(db)));
    job.Bind(2, d.candidate_id).Bind(3, round);
    job.Bind(4, lab ? std::string("experiment") : job_kind);
    job.Bind(5, lab ? std::string("lab") : backend);
    job.Bind(6, now).Bind(7, now);
    LABLOOP_TRY(job.Run());
    if (!lab) continue;
    const int64_t job_id = sqlite3_last_insert_rowid(db);
    for (size_t k = 0; k < experiment_steps.size(); ++k) {
      LABLOOP_TRY(InsertExperiment(db, job_id, static_cast<int>(k), experiment_steps[k],
                                   d.needs_approval ? "requested" : "approved", now));
    }
  }
  return {};
}

}  // namespace

Status CampaignDb::DispatchRound(int round, const std::vector<DecisionRow>& decisions,
                                 const std::string& job_kind, const std::string& backend,
                                 const std::vector<ExperimentStep>& experiment_steps) {
  FullSync full(impl_->db);  // the jobs are launched next
  LABLOOP_TRY(full.set());
  Transaction tx(impl_->db);
  LABLOOP_TRY(tx.begun());
  LABLOOP_TRY(InsertDecisions(impl_->db, round, decisions, job_kind, backend, experiment_steps));
  Statement update(impl_->db, "UPDATE round SET state = 'dispatched' WHERE number = ?");
  update.Bind(1, round);
  LABLOOP_TRY(update.Run());
  return tx.Commit();
}

Status CampaignDb::AddToOpenRound(const std::vector<DecisionRow>& decisions,
                                  const std::string& job_kind, const std::string& backend,
                                  const std::vector<ExperimentStep>& experiment_steps,
                                  int64_t budget, const std::string& who) {
  Transaction tx(impl_->db);
  LABLOOP_TRY(tx.begun());
  // The budget, counted as Summary counts it (jobs not cancelled), in the same transaction.
  Statement spent(impl_->db, "SELECT COUNT(*) FROM job WHERE state != 'cancelled'");
  LABLOOP_TRY(spent.Step());
  const int64_t after = spent.Int(0) + static_cast<int64_t>(decisions.size());
  if (after > budget) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "adding " + std::to_string(decisions.size()) + " would spend " +
                         std::to_string(after) + " evaluations, over the budget of " +
                         std::to_string(budget) + "; reject some of the batch first");
  }
  // The round must wait at the approval gate, checked inside this write transaction: the engine
  // stops while any decision is pending, so it cannot finish the round before the added jobs run.
  Statement open(impl_->db,
                 "SELECT r.number FROM round r WHERE r.state = 'dispatched' AND EXISTS (SELECT 1 "
                 "FROM decision d WHERE d.round = r.number AND d.needs_approval = 1 AND "
                 "d.approved_by IS NULL AND d.rejected_by IS NULL) ORDER BY r.number DESC LIMIT 1");
  auto row = open.Step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "no batch waits for approval: a batch can be edited only while it waits "
                     "at the approval gate");
  }
  const int round = static_cast<int>(open.Int(0));
  Statement exists(impl_->db, "SELECT COUNT(*) FROM candidate WHERE id = ?");
  Statement decided(impl_->db,
                    "SELECT COUNT(*) FROM decision WHERE round = ? AND candidate_id = ?");
  Statement evaluated(impl_->db,
                      "SELECT COUNT(*) FROM job WHERE candidate_id = ? AND state != 'cancelled'");
  std::string ids;
  for (const auto& d : decisions) {
    exists.Reset();
    exists.Bind(1, d.candidate_id);
    LABLOOP_TRY(exists.Step());
    if (exists.Int(0) == 0) {
      return MakeError(ErrorCode::kNotFound,
                       "candidate " + std::to_string(d.candidate_id) + " does not exist");
    }
    decided.Reset();
    decided.Bind(1, round).Bind(2, d.candidate_id);
    LABLOOP_TRY(decided.Step());
    if (decided.Int(0) > 0) {
      return MakeError(ErrorCode::kInvalidArgument, "candidate " + std::to_string(d.candidate_id) +
                                                        " already has a decision in round " +
                                                        std::to_string(round));
    }
    evaluated.Reset();
    evaluated.Bind(1, d.candidate_id);
    LABLOOP_TRY(evaluated.Step());
    if (evaluated.Int(0) > 0) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "candidate " + std::to_string(d.candidate_id) +
                           " was evaluated already or is being evaluated");
    }
    ids += (ids.empty() ? "" : ",") + std::to_string(d.candidate_id);
  }
  LABLOOP_TRY(InsertDecisions(impl_->db, round, decisions, job_kind, backend, experiment_steps));
  LABLOOP_TRY(LogEvent(who, "batch_edited",
                       "{\"round\":" + std::to_string(round) + ",\"added\":[" + ids + "]}"));
  LABLOOP_TRY(tx.Commit());
  return {};
}

Result<std::vector<JobRow>> CampaignDb::ListJobs(const std::vector<JobState>& states) {
  Statement select(
      impl_->db,
      "SELECT j.id, j.candidate_id, j.round, j.kind, j.backend, j.state, j.attempts, "
      "j.error, m.smiles, COALESCE(d.needs_approval = 1 AND d.approved_by IS NULL, 0), "
      "COALESCE(j.external_id, '') FROM job j JOIN candidate c ON c.id = j.candidate_id "
      "JOIN molecule m ON m.id = c.molecule_id "
      "LEFT JOIN decision d ON d.id = j.decision_id ORDER BY j.id");
  std::vector<JobRow> jobs;
  LABLOOP_TRY(select.ForEachRow([&] {
    JobRow job{select.Int(0),
               select.Int(1),
               static_cast<int>(select.Int(2)),
               select.Text(3),
               select.Text(4),
               ParseJobState(select.Text(5)),
               static_cast<int>(select.Int(6)),
               select.Text(7),
               select.Text(8),
               select.Int(9) != 0,
               select.Text(10)};
    if (states.empty() || std::find(states.begin(), states.end(), job.state) != states.end()) {
      jobs.push_back(std::move(job));
    }
  }));
  return jobs;
}

namespace {
// The distinct candidate ids of the decisions matching `where` (one optional text parameter).
Result<std::vector<int64_t>> DecidedCandidates(sqlite3* db, const std::string& where,
                                               const std::string& parameter = "") {
  std::string sql = "SELECT DISTINCT candidate_id FROM decision WHERE " + where + " ORDER BY 1";
  Statement select(db, sql.c_str());
  if (!parameter.empty()) select.Bind(1, parameter);
  std::vector<int64_t> ids;
  LABLOOP_TRY(select.ForEachRow([&] { ids.push_back(select.Int(0)); }));
  return ids;
}
}  // namespace

Result<std::vector<int64_t>> CampaignDb::CandidatesWithRoute(const std::string& route) {
  return DecidedCandidates(impl_->db, "route = ?", route);
}

Result<std::vector<int64_t>> CampaignDb::CandidatesRejectedByPeople() {
  return DecidedCandidates(impl_->db, "rejected_by IS NOT NULL");
}

Result<std::vector<PendingApproval>> CampaignDb::ListPendingApprovals() {
  Statement select(impl_->db,
                   "SELECT d.id, d.candidate_id, d.round, d.route, m.smiles, d.mean, d.sigma, "
                   "d.acquisition_value FROM decision d "
                   "JOIN candidate c ON c.id = d.candidate_id "
                   "JOIN molecule m ON m.id = c.molecule_id "
                   "WHERE d.needs_approval = 1 AND d.approved_by IS NULL AND d.rejected_by IS NULL "
                   "ORDER BY d.id");
  std::vector<PendingApproval> pending;
  LABLOOP_TRY(select.ForEachRow([&] {
    PendingApproval p;
    p.decision_id = select.Int(0);
    p.candidate_id = select.Int(1);
    p.round = static_cast<int>(select.Int(2));
    p.route = select.Text(3);
    p.smiles = select.Text(4);
    if (!select.IsNull(5)) p.mean = select.Double(5);
    if (!select.IsNull(6)) p.sigma = select.Double(6);
    p.acquisition_value = select.Double(7);
    pending.push_back(std::move(p));
  }));
  return pending;
}

namespace {

// The pending decisions of `candidate_ids` (all pending when empty), or an error naming the first
// candidate without one.
Result<std::vector<PendingApproval>> Select(CampaignDb& db,
                                            const std::vector<int64_t>& candidate_ids) {
  auto pending = db.ListPendingApprovals();
  if (!pending || candidate_ids.empty()) return pending;
  std::vector<PendingApproval> chosen;
  std::vector<int64_t> ids = candidate_ids;
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  for (int64_t id : ids) {
    auto it = std::find_if(pending->begin(), pending->end(),
                           [id](const PendingApproval& p) { return p.candidate_id == id; });
    if (it == pending->end()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "candidate " + std::to_string(id) + " has no decision waiting for approval");
    }
    chosen.push_back(*it);
  }
  return chosen;
}

std::string IdList(const std::vector<PendingApproval>& decisions) {
  std::string list = "[";
  for (size_t i = 0; i < decisions.size(); ++i) {
    list += (i ? "," : "") + std::to_string(decisions[i].candidate_id);
  }
  return list + "]";
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof(buffer), "\\u%04x", c);
      out += buffer;
      continue;
    }
    out += c;
  }
  return out + "\"";
}

}  // namespace

Result<int64_t> CampaignDb::ApproveDecisions(const std::vector<int64_t>& candidate_ids,
                                             const std::string& who) {
  // Read and written in one write transaction: what is logged and counted is what changed.
  Transaction tx(impl_->db);
  LABLOOP_TRY(tx.begun());
  auto chosen = Select(*this, candidate_ids);
  if (!chosen) return tl::unexpected(chosen.error());
  if (chosen->empty()) return int64_t{0};  // nothing waits: nothing to record
  // Guarded all the same: no decision is approved twice, or after a rejection.
  Statement update(impl_->db,
                   "UPDATE decision SET approved_by = ?, approved_at = ? WHERE id = ? AND "
                   "approved_by IS NULL AND rejected_by IS NULL");
  std::string now = NowUtc();
  Statement approve(impl_->db,
                    "UPDATE experiment SET state = 'approved', updated_at = ? WHERE state = "
                    "'requested' AND job_id IN (SELECT id FROM job WHERE decision_id = ?)");
  std::vector<PendingApproval> approved;
  for (const auto& p : *chosen) {
    update.Reset();
    update.Bind(1, who).Bind(2, now).Bind(3, p.decision_id);
    LABLOOP_TRY(update.Run());
    if (sqlite3_changes(impl_->db) == 0) continue;
    approved.push_back(p);
    approve.Reset();
    approve.Bind(1, now).Bind(2, p.decision_id);
    LABLOOP_TRY(approve.Run());
  }
  if (!approved.empty()) {
    LABLOOP_TRY(LogEvent(who, "approved",
                         "{\"candidates\":" + IdList(approved) +
                             ",\"count\":" + std::to_string(approved.size()) + "}"));
  }
  LABLOOP_TRY(tx.Commit());
  return static_cast<int64_t>(approved.size());
}

Result<int64_t> CampaignDb::RejectDecisions(const std::vector<int64_t>& candidate_ids,
                                            const std::string& who, const std::string& reason) {
  if (candidate_ids.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "name the candidates to reject");
  }
  Transaction tx(impl_->db);
  LABLOOP_TRY(tx.begun());
  auto chosen = Select(*this, candidate_ids);
  if (!chosen) return tl::unexpected(chosen.error());
  // Guarded all the same: an approved decision (its job may be running) is left as it is.
  Statement decision(impl_->db,
                     "UPDATE decision SET rejected_by = ?, rejected_at = ?, rejected_reason = ? "
                     "WHERE id = ? AND approved_by IS NULL AND rejected_by IS NULL");
  Statement job(impl_->db,
                "UPDATE job SET state = 'cancelled', error = ?, updated_at = ? "
                "WHERE decision_id = ? AND state = 'queued'");
  std::string now = NowUtc();
  std::vector<PendingApproval> rejected;
  for (const auto& p : *chosen) {
    decision.Reset();
    decision.Bind(1, who).Bind(2, now).Bind(3, reason).Bind(4, p.decision_id);
    LABLOOP_TRY(decision.Run());
    if (sqlite3_changes(impl_->db) == 0) continue;
    rejected.push_back(p);
    job.Reset();
    job.Bind(1, "rejected by " + who + ": " + reason).Bind(2, now).Bind(3, p.decision_id);
    LABLOOP_TRY(job.Run());
    Statement experiments(impl_->db,
                          "UPDATE experiment SET state = 'aborted', error = ?, updated_at = ? "
                          "WHERE state = 'requested' AND job_id IN (SELECT id FROM job WHERE "
                          "decision_id = ?)");
    experiments.Bind(1, "rejected by " + who + ": " + reason).Bind(2, now).Bind(3, p.decision_id);
    LABLOOP_TRY(experiments.Run());
  }
  if (!rejected.empty()) {
    LABLOOP_TRY(LogEvent(
        who, "rejected",
        "{\"candidates\":" + IdList(rejected) + ",\"reason\":" + JsonString(reason) + "}"));
  }
  LABLOOP_TRY(tx.Commit());
  return static_cast<int64_t>(rejected.size());
}

Status CampaignDb::MarkJobsRunning(const std::vector<int64_t>& job_ids) {
  Transaction tx(impl_->db);
  LABLOOP_TRY(tx.begun());
  Statement update(impl_->db,
                   "UPDATE job SET state = 'running', attempts = attempts + 1, updated_at = ? "
                   "WHERE id = ? AND state IN ('queued', 'submitted')");
  std::string now = NowUtc();
  for (int64_t id : job_ids) {
    update.Reset();
    update.Bind(1, now).Bind(2, id);
    LABLOOP_TRY(update.Run());
  }
  return tx.Commit();
}

Status CampaignDb::MarkJobsSubmitted(const std::vector<int64_t>& job_ids,
                                     const std::string& external_id) {
  FullSync full(impl_->db);  // the batch is submitted next
  LABLOOP_TRY(full.set());
  Transaction tx(impl_->db);
  LABLOOP_TRY(tx.begun());
  Statement update(impl_->db,
                   "UPDATE job SET state = 'submitted', attempts = attempts + 1, external_id = ?, "
                   "updated_at = ? WHERE id = ? AND state = 'queued'");
  std::string now = NowUtc();
  for (int64_t id : job_ids) {
    update.Reset();
    update.Bind(1, external_id).Bind(2, now).Bind(3, id);
    LABLOOP_TRY(update.Run());
  }
  Statement event(impl_->db,
                  "INSERT INTO event (time, actor, kind, detail) VALUES (?, 'labloop', "
                  "'batch_submitted', ?)");
  event.Bind(1, now).Bind(2, "{\"external_id\":" + JsonString(external_id) +
                                 ",\"jobs\":" + std::to_string(job_ids.size()) + "}");
  LABLOOP_TRY(event.Run());
  return tx.Commit();
}

Result<int64_t> CampaignDb::SetExternalId(const std::vector<int64_t>& job_ids,
                                          const std::string& external_id) {
  FullSync full(impl_->db);  // the batch runs: its handle must not be lost
  LABLOOP_TRY(full.set());
  Transaction tx(impl_->db);
  LABLOOP_TRY(tx.begun());
  Statement update(impl_->db,
                   "UPDATE job SET external_id = ?, updated_at = ? "
                   "WHERE id = ? AND state = 'submitted'");
  std::string now = NowUtc();
  int64_t changed = 0;
  for (int64_t id : job_ids) {
    update.Reset();
    update.Bind(1, external_id).Bind(2, now).Bind(3, id);
    LABLOOP_TRY(update.Run());
    changed += sqlite3_changes(impl_->db);
  }
  LABLOOP_TRY(tx.Commit());
  return changed;
}

Result<RequeueResult> CampaignDb::RequeueJobs(const std::vector<int64_t>& job_ids, int max_attempts,
                                              const std::string& why) {
  Transaction tx(impl_->db);
  LABLOOP_TRY(tx.begun());
  RequeueResult result;
  std::string now = NowUtc();
  Statement fail(impl_->db,
                 "UPDATE job SET state = 'failed', error = ?, updated_at = ? "
                 "WHERE id = ? AND state IN ('submitted', 'running') AND attempts >= ?");
  Statement requeue(impl_->db,
                    "UPDATE job SET state = 'queued', external_id = NULL, updated_at = ? "
                    "WHERE id = ? AND state IN ('submitted', 'running')");
  std::string error = why + " (attempt limit " + std::to_string(max_attempts) + " reached)";
  for (int64_t id : job_ids) {
    fail.Reset();
    fail.Bind(1, error).Bind(2, now).Bind(3, id).Bind(4, max_attempts);
    LABLOOP_TRY(fail.Run());
    result.failed += sqlite3_changes(impl_->db);
    requeue.Reset();
    requeue.Bind(1, now).Bind(2, id);
    LABLOOP_TRY(requeue.Run());
    result.requeued += sqlite3_changes(impl_->db);
  }
  if (result.requeued + result.failed > 0) {
    Statement event(impl_->db,
                    "INSERT INTO event (time, actor, kind, detail) VALUES (?, 'labloop', "
                    "'jobs_requeued', ?)");
    event.Bind(1, now).Bind(2, "{\"requeued\":" + std::to_string(result.requeued) +
                                   ",\"failed\":" + std::to_string(result.failed) +
                                   ",\"why\":" + JsonString(why) + "}");
    LABLOOP_TRY(event.Run());
  }
  LABLOOP_TRY(tx.Commit());
  return result;
}

Result<int64_t> CampaignDb::CancelJobs(const std::vector<int64_t>& job_ids, const std::string& who,
                                       const std::string& why) {
  Transaction tx(impl_->db);
  LABLOOP_TRY(tx.begun());
  std::string now = NowUtc();
  Statement cancel(impl_->db,
                   "UPDATE job SET state = 'cancelled', error = ?, updated_at = ? "
                   "WHERE id = ? AND state IN ('queued', 'submitted', 'running')");
  int64_t changed = 0;
  for (int64_t id : job_ids) {
    cancel.Reset();
    cancel.Bind(1, why).Bind(2, now).Bind(3, id);
    LABLOOP_TRY(cancel.Run());
    changed += sqlite3_changes(impl_->db);
  }
  Statement event(
      impl_->db,
      "INSERT INTO event (time, actor, kind, detail) VALUES (?, ?, 'jobs_cancelled', ?)");
  event.Bind(1, now).Bind(2, who).Bind(
      3, "{\"jobs\":" + std::to_string(changed) + ",\"why\":" + JsonString(why) + "}");
  LABLOOP_TRY(event.Run());
  LABLOOP_TRY(tx.Commit());
  return changed;
}

// Experiment jobs are left alone: their steps' states say what the instruments were asked, and
// the experiment runner picks them up from there (a resend reuses the request id).
Result<RequeueResult> CampaignDb::RequeueInterruptedJobs(int max_attempts) {
  Transaction tx(impl_->db);
  LABLOOP_TRY(tx.begun());
  RequeueResult result;
  std::string now = NowUtc();
  Statement fail(
      impl_->db,
      "UPDATE job SET state = 'failed', updated_at = ?, error = 'aborted: the "
      "controller died ' || attempts || ' times while this job ran; marked failed so "
      "the campaign can go on' WHERE state IN ('running', 'submitted') AND attempts >= ? "
      "AND kind != 'experiment'");
  fail.Bind(1, now).Bind(2, max_attempts);
  LABLOOP_TRY(fail.Run());
  result.failed = sqlite3_changes(impl_->db);
  Statement update(impl_->db,
                   "UPDATE job SET state = 'queued', updated_at = ? "
                   "WHERE state IN ('running', 'submitted') AND kind != 'experiment'");
  update.Bind(1, now);
  LABLOOP_TRY(update.Run());
  result.requeued = sqlite3_changes(impl_->db);
  if (result.requeued + result.failed > 0) {
    Statement event(impl_->db,
                    "INSERT INTO event (time, actor, kind, detail) VALUES (?, 'labloop', "
                    "'jobs_requeued', ?)");
    event.Bind(1, now).Bind(2, "{\"requeued\":" + std::to_string(result.requeued) +
                                   ",\"failed\":" + std::to_string(result.failed) + "}");
    LABLOOP_TRY(event.Run());
  }
  LABLOOP_TRY(tx.Commit());
  return result;
}

namespace {

// The outcome's measurements and the job's end, inside the caller's transaction.
Status WriteOutcome(sqlite3* db, int64_t candidate_id, const JobOutcome& outcome) {
  std::string now = NowUtc();
  if (outcome.ok) {
    Statement insert(db,
                     "INSERT OR IGNORE INTO measurement (job_id, candidate_id, property, value, "
                     "uncertainty, fidelity, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
    for (const auto& v : outcome.values) {
      insert.Reset();
      insert.Bind(1, outcome.job_id).Bind(2, candidate_id).Bind(3, v.property);
      insert.Bind(4, v.value).Bind(5, v.uncertainty).Bind(6, outcome.fidelity).Bind(7, now);
      LABLOOP_TRY(insert.Run());
    }
  }
  Statement update(db, "UPDATE job SET state = ?, error = ?, raw = ?, updated_at = ? WHERE id = ?");
  update.Bind(1, std::string(outcome.ok ? "done" : "failed"));
  if (outcome.ok) {
    update.BindNull(2);
  } else {
    update.Bind(2, outcome.error);
  }
  update.Bind(3, outcome.raw_json).Bind(4, now).Bind(5, outcome.job_id);
  return update.Run();
}

}  // namespace

Status CampaignDb::IngestOutcome(const JobOutcome& outcome) {
  // A measurement is the one record that must survive a power cut once acknowledged.
  FullSync full(impl_->db);
  LABLOOP_TRY(full.set());
  {
    Transaction tx(impl_->db);
    LABLOOP_TRY(tx.begun());
    Statement job(impl_->db, "SELECT candidate_id, state FROM job WHERE id = ?");
    job.Bind(1, outcome.job_id);
    auto row = job.Step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) {
      return MakeError(ErrorCode::kNotFound, "no job " + std::to_string(outcome.job_id));
    }
    int64_t candidate_id = job.Int(0);
    JobState state = ParseJobState(job.Text(1));
    if (state == JobState::kDone || state == JobState::kFailed || state == JobState::kCancelled) {
      return {};  // already ingested
    }
    LABLOOP_TRY(WriteOutcome(impl_->db, candidate_id, outcome));
    if (impl_->before_commit_hook) impl_->before_commit_hook();
    return tx.Commit();
  }
}

Result<bool> CampaignDb::IngestReportedOutcome(const JobOutcome& outcome, const std::string& who) {
  FullSync full(impl_->db);  // a measurement, as IngestOutcome
  LABLOOP_TRY(full.set());
  {
    Transaction tx(impl_->db);
    LABLOOP_TRY(tx.begun());
    const std::string name = "job " + std::to_string(outcome.job_id);
    Statement job(impl_->db,
                  "SELECT j.candidate_id, j.state, COALESCE(d.needs_approval, 0), d.approved_by "
                  "FROM job j LEFT JOIN decision d ON d.id = j.decision_id WHERE j.id = ?");
    job.Bind(1, outcome.job_id);
    auto row = job.Step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return MakeError(ErrorCode::kNotFound, "no " + name);
    const int64_t candidate_id = job.Int(0);
    const std::string state = job.Text(1);
    if (state == "done" || state == "failed" || state == "cancelled") return false;
    if (state != "queued") {
      return MakeError(ErrorCode::kFailedPrecondition,
                       name + " is " + state +
                           " under labloop (a launcher or an instrument has it); its result "
                           "comes from there");
    }
    if (job.Int(2) != 0 && job.IsNull(3)) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       name + " waits for a person's approval; approve it before reporting");
    }
    Statement sent(impl_->db,
                   "SELECT COUNT(*) FROM experiment WHERE job_id = ? AND state IN ('sent', "
                   "'running')");
    sent.Bind(1, outcome.job_id);
    LABLOOP_TRY(sent.Step());
    if (sent.Int(0) > 0) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       name + " has a step on an instrument; its result comes from there");
    }
    LABLOOP_TRY(WriteOutcome(impl_->db, candidate_id, outcome));
    // Steps not yet sent never will be: the work was done outside.
    Statement abort(impl_->db,
                    "UPDATE experiment SET state = 'aborted', error = 'result reported by ' || ?, "
                    "updated_at = ? WHERE job_id = ? AND state IN ('requested', 'approved')");
    abort.Bind(1, who).Bind(2, NowUtc()).Bind(3, outcome.job_id);
    LABLOOP_TRY(abort.Run());
    LABLOOP_TRY(LogEvent(who, "result_reported",
                         "{\"job\":" + std::to_string(outcome.job_id) +
                             ",\"ok\":" + (outcome.ok ? "true" : "false") + "}"));
    LABLOOP_TRY(tx.Commit());
    return true;
  }
}

Status CampaignDb::FinishRound(int round) {
  Transaction tx(impl_->db);
  LABLOOP_TRY(tx.begun());
  Statement update(impl_->db, "UPDATE round SET state = 'done', finished_at = ? WHERE number = ?");
  update.Bind(1, NowUtc()).Bind(2, round);
  LABLOOP_TRY(update.Run());
  return tx.Commit();
}

Result<std::vector<MeasurementRow>> CampaignDb::ListMeasurements(const std::string& property) {
  Statement select(impl_->db,
                   "SELECT me.job_id, me.candidate_id, j.round, mo.smiles, me.property, me.value, "
                   "me.fidelity FROM measurement me JOIN job j ON j.id = me.job_id "
                   "JOIN candidate c ON c.id = me.candidate_id "
                   "JOIN molecule mo ON mo.id = c.molecule_id "
                   "WHERE ? = '' OR me.property = ? ORDER BY me.id");
  select.Bind(1, property).Bind(2, property);
  std::vector<MeasurementRow> rows;
  LABLOOP_TRY(select.ForEachRow([&] {
    rows.push_back({select.Int(0), select.Int(1), static_cast<int>(select.Int(2)), select.Text(3),
                    select.Text(4), select.Double(5), select.Text(6)});
  }));
  return rows;
}

Result<CampaignSummary> CampaignDb::Summary() {
  CampaignSummary summary;
  for (JobState s : {JobState::kQueued, JobState::kSubmitted, JobState::kRunning, JobState::kDone,
                     JobState::kFailed, JobState::kCancelled}) {
    summary.jobs[JobStateName(s)] = 0;
  }
  auto scalar = [&](const char* sql) -> Result<int64_t> {
    Statement s(impl_->db, sql);
    auto row = s.Step();
    if (!row) return tl::unexpected(row.error());
    return *row ? s.Int(0) : 0;
  };
  auto round = scalar("SELECT COALESCE(MAX(number), 0) FROM round");
  auto candidates = scalar("SELECT COUNT(*) FROM candidate");
  auto measurements = scalar("SELECT COUNT(*) FROM measurement");
  auto rejected = scalar("SELECT COUNT(*) FROM rejected_input");
  auto spent = scalar("SELECT COUNT(*) FROM job WHERE state != 'cancelled'");
  for (auto* r : {&round, &candidates, &measurements, &rejected, &spent}) {
    if (!*r) return tl::unexpected(r->error());
  }
  summary.round = static_cast<int>(*round);
  summary.candidates = *candidates;
  summary.measurements = *measurements;
  summary.rejected_inputs = *rejected;
  summary.evaluations_spent = *spent;
  Statement jobs(impl_->db, "SELECT state, COUNT(*) FROM job GROUP BY state");
  LABLOOP_TRY(jobs.ForEachRow([&] { summary.jobs[jobs.Text(0)] = jobs.Int(1); }));
  return summary;
}

Result<std::vector<ExportRow>> CampaignDb::ExportRows() {
  std::vector<ExportRow> rows;
  std::unordered_map<int64_t, size_t> index;
  {
    Statement s(impl_->db,
                "SELECT c.id, m.smiles, m.inchikey, c.source, c.source_id FROM candidate c "
                "JOIN molecule m ON m.id = c.molecule_id ORDER BY c.id");
    LABLOOP_TRY(s.ForEachRow([&] {
      ExportRow r;
      r.candidate_id = s.Int(0);
      r.smiles = s.Text(1);
      r.inchikey = s.Text(2);
      r.source = s.Text(3);
      r.source_id = s.Text(4);
      index[r.candidate_id] = rows.size();
      rows.push_back(std::move(r));
    }));
  }
  {  // the latest model's predictions
    Statement s(impl_->db,
                "SELECT candidate_id, mean, sigma, sigma_epistemic, sigma_aleatoric, model_id "
                "FROM prediction WHERE model_id = (SELECT MAX(id) FROM model)");
    LABLOOP_TRY(s.ForEachRow([&] {
      auto it = index.find(s.Int(0));
      if (it == index.end()) return;
      rows[it->second].prediction =
          PredictionRow{s.Int(0), s.Double(1), s.Double(2), s.Double(3), s.Double(4)};
      rows[it->second].prediction_model = s.Int(5);
    }));
  }
  {  // each candidate's latest decision
    Statement s(impl_->db,
                "SELECT candidate_id, round, route, acquisition_value FROM decision ORDER BY id");
    LABLOOP_TRY(s.ForEachRow([&] {
      auto it = index.find(s.Int(0));
      if (it == index.end()) return;
      ExportRow& r = rows[it->second];
      r.decision_round = static_cast<int>(s.Int(1));
      r.route = s.Text(2);
      if (!s.IsNull(3)) r.acquisition_value = s.Double(3);
    }));
  }
  {
    Statement s(impl_->db, "SELECT candidate_id, state, error FROM job ORDER BY id");
    LABLOOP_TRY(s.ForEachRow([&] {
      auto it = index.find(s.Int(0));
      if (it == index.end()) return;
      rows[it->second].job_state = s.Text(1);
      rows[it->second].job_error = s.Text(2);
    }));
  }
  auto measurements = ListMeasurements("");
  if (!measurements) return tl::unexpected(measurements.error());
  for (const auto& m : *measurements) {
    auto it = index.find(m.candidate_id);
    if (it == index.end()) continue;
    rows[it->second].measured[m.property] = {m.value, m.job_id, m.round};
  }
  return rows;
}

Status CampaignDb::LogEvent(const std::string& actor, const std::string& kind,
                            const std::string& detail_json) {
  Statement insert(impl_->db, "INSERT INTO event (time, actor, kind, detail) VALUES (?, ?, ?, ?)");
  insert.Bind(1, NowUtc()).Bind(2, actor).Bind(3, kind).Bind(4, detail_json);
  return insert.Run();
}

Result<std::vector<ExperimentRow>> CampaignDb::ListExperiments(
    const std::vector<std::string>& states) {
  Statement select(impl_->db,
                   "SELECT e.id, e.job_id, j.candidate_id, j.round, e.step, e.kind, e.instrument, "
                   "e.request_id, e.parameters, e.state, e.sends, COALESCE(e.raw, ''), "
                   "COALESCE(e.result, ''), COALESCE(e.error, ''), m.smiles, e.updated_at, j.state "
                   "FROM experiment e JOIN job j ON j.id = e.job_id "
                   "JOIN candidate c ON c.id = j.candidate_id "
                   "JOIN molecule m ON m.id = c.molecule_id ORDER BY e.job_id, e.step");
  std::vector<ExperimentRow> out;
  LABLOOP_TRY(select.ForEachRow([&] {
    ExperimentRow e;
    e.id = select.Int(0);
    e.job_id = select.Int(1);
    e.candidate_id = select.Int(2);
    e.round = static_cast<int>(select.Int(3));
    e.step = static_cast<int>(select.Int(4));
    e.kind = select.Text(5);
    e.instrument = select.Text(6);
    e.request_id = select.Text(7);
    e.parameters = select.Text(8);
    e.state = select.Text(9);
    e.sends = static_cast<int>(select.Int(10));
    e.raw = select.Text(11);
    e.result = select.Text(12);
    e.error = select.Text(13);
    e.smiles = select.Text(14);
    e.updated_at = select.Text(15);
    e.job_state = select.Text(16);
    if (states.empty() || std::find(states.begin(), states.end(), e.state) != states.end()) {
      out.push_back(std::move(e));
    }
  }));
  return out;
}

Status CampaignDb::UpdateExperiment(int64_t id, const std::string& state, const std::string& raw,
                                    const std::string& result, const std::string& error) {
  Transaction tx(impl_->db);
  LABLOOP_TRY(tx.begun());
  const std::string now = NowUtc();
  Statement update(impl_->db,
                   "UPDATE experiment SET state = ?, sends = sends + ?, raw = COALESCE(?, raw), "
                   "result = COALESCE(?, result), error = COALESCE(?, error), updated_at = ? "
                   "WHERE id = ? AND state NOT IN ('done', 'failed', 'aborted')");
  update.Bind(1, state).Bind(2, state == "sent" ? 1 : 0);
  raw.empty() ? update.BindNull(3) : update.Bind(3, raw);
  result.empty() ? update.BindNull(4) : update.Bind(4, result);
  error.empty() ? update.BindNull(5) : update.Bind(5, error);
  update.Bind(6, now).Bind(7, id);
  LABLOOP_TRY(update.Run());
  if (sqlite3_changes(impl_->db) == 0) return tx.Commit();  // already ended: nothing changes
  if (state == "sent" || state == "running") {
    Statement job(impl_->db,
                  "UPDATE job SET state = 'running', updated_at = ? WHERE id = (SELECT job_id "
                  "FROM experiment WHERE id = ?) AND state IN ('queued', 'submitted')");
    job.Bind(1, now).Bind(2, id);
    LABLOOP_TRY(job.Run());
  }
  std::string detail = "{\"experiment\":" + std::to_string(id) + ",\"state\":" + JsonString(state);
  if (!error.empty()) detail += ",\"error\":" + JsonString(error);
  LABLOOP_TRY(LogEvent("labloop", "experiment_" + state, detail + "}"));
  return tx.Commit();
}

Status CampaignDb::EndExperimentJob(int64_t job_id, bool cancelled, const std::string& why) {
  Transaction tx(impl_->db);
  LABLOOP_TRY(tx.begun());
  const std::string now = NowUtc();
  Statement steps(impl_->db,
                  "UPDATE experiment SET state = 'aborted', error = COALESCE(error, ?), "
                  "updated_at = ? WHERE job_id = ? AND state NOT IN ('done', 'failed', "
                  "'aborted')");
  steps.Bind(1, why).Bind(2, now).Bind(3, job_id);
  LABLOOP_TRY(steps.Run());
  Statement job(impl_->db,
                "UPDATE job SET state = ?, error = ?, updated_at = ? WHERE id = ? AND state NOT "
                "IN ('done', 'failed', 'cancelled')");
  job.Bind(1, cancelled ? std::string("cancelled") : std::string("failed"));
  job.Bind(2, why).Bind(3, now).Bind(4, job_id);
  LABLOOP_TRY(job.Run());
  LABLOOP_TRY(LogEvent("labloop", cancelled ? "experiment_cancelled" : "experiment_failed",
                       "{\"job\":" + std::to_string(job_id) + ",\"why\":" + JsonString(why) + "}"));
  return tx.Commit();
}

Status CampaignDb::SetEmergencyStop(bool active, const std::string& who,
                                    const std::string& reason) {
  Transaction tx(impl_->db);
  LABLOOP_TRY(tx.begun());
  Statement upsert(impl_->db,
                   "INSERT INTO control (key, value, actor, reason, updated_at) VALUES "
                   "('estop', ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
                   "actor = excluded.actor, reason = excluded.reason, "
                   "updated_at = excluded.updated_at");
  upsert.Bind(1, active ? std::string("active") : std::string("clear")).Bind(2, who);
  upsert.Bind(3, reason).Bind(4, NowUtc());
  LABLOOP_TRY(upsert.Run());
  LABLOOP_TRY(LogEvent(who, active ? "emergency_stop" : "emergency_stop_cleared",
                       "{\"reason\":" + JsonString(reason) + "}"));
  return tx.Commit();
}

Result<EmergencyStopState> CampaignDb::GetEmergencyStop() {
  Statement select(impl_->db,
                   "SELECT value, actor, COALESCE(reason, ''), updated_at FROM control WHERE key "
                   "= 'estop'");
  EmergencyStopState state;
  LABLOOP_TRY(select.ForEachRow([&] {
    state.active = select.Text(0) == "active";
    state.actor = select.Text(1);
    state.reason = select.Text(2);
    state.since = select.Text(3);
  }));
  return state;
}

Result<std::string> CampaignDb::IntegrityCheck() {
  Statement check(impl_->db, "PRAGMA integrity_check");
  auto row = check.Step();
  if (!row) return tl::unexpected(row.error());
  return check.Text(0);
}

}  // namespace labloop::db
