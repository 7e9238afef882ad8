#pragma once
// CampaignDb: the campaign file, one SQLite database per campaign (DESIGN.md §4).
//
// Durability rules kept here, so the engine cannot get them wrong:
// - WAL journal; every write transaction is BEGIN IMMEDIATE; measurements, and the writes that
//   precede launching jobs (dispatch, batch submission and its handle), commit with
//   synchronous=FULL. A file system where WAL cannot work (NFS, SMB) is refused with a clear error.
// - A job is written (queued) in the same transaction as the decision that made it, before any
//   process or instrument hears of it.
// - Results are ingested keyed by (job, candidate, property): ingesting twice changes nothing.
// - The schema version lives in PRAGMA user_version; Open() migrates older files forward.
//
// One CampaignDb per thread. A campaign has one writer at a time: a second read-write Open() of
// the same file fails with kFailedPrecondition while the first is open (an flock on the sidecar
// file FILE-lock, never on the database itself, whose POSIX locks belong to SQLite). Read-only
// connections (status, export, GUI) may be opened at any time, any number of them.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "db/browse.h"
#include "db/records.h"

namespace labloop::db {

enum class OpenMode {
  kCreate,     // a new file; fails if it exists
  kReadWrite,  // an existing campaign, as its single writer
  kReadOnly,   // an existing campaign, for readers
  // An existing campaign, for an operator's urgent write beside its running controller (the
  // emergency stop): no writer lock; SQLite serializes the two processes' transactions.
  kOperator,
};

// The schema version this build writes.
constexpr int kSchemaVersion = 4;

class CampaignDb {
 public:
  static Result<std::unique_ptr<CampaignDb>> Open(const std::string& path, OpenMode mode);
  ~CampaignDb();

  const std::string& Path() const;
  int SchemaVersion() const;

  // --- campaign ---
  Status CreateCampaign(const CampaignRecord& record);
  Result<CampaignRecord> GetCampaign();
  // Marks the campaign complete (init imported every library file); until then it must not run.
  Status MarkCampaignReady();

  // --- molecules and candidates ---
  // Adds molecules and candidates in one transaction, skipping InChIKeys already present.
  Result<AddCandidatesResult> AddCandidates(const std::vector<NewCandidate>& candidates);
  Status AddRejectedInputs(const std::vector<RejectedInput>& rejected);
  // A round's generated molecules in one transaction: the new candidates, the rejected ones, and
  // a 'candidates_generated' event whose detail `event(result)` writes (a JSON object; its
  // "round" is set to `round`), so that a round resumed after a kill finds all of them or none
  // (GeneratedIn).
  Result<AddCandidatesResult> AddGeneratedCandidates(
      int round, const std::vector<NewCandidate>& candidates,
      const std::vector<RejectedInput>& rejected,
      const std::function<std::string(const AddCandidatesResult&)>& event);
  // Whether round `round` has stored its generated molecules (AddGeneratedCandidates), even if
  // none of them was new.
  Result<bool> GeneratedIn(int round);
  Result<std::vector<CandidateRow>> ListCandidates();
  Result<std::vector<RejectedInput>> ListRejectedInputs();

  // --- rounds, models, predictions ---
  Result<std::optional<RoundRow>> LastRound();
  Status StartRound(int number);
  // Also sets the round's model; replaces an earlier model of the same round and property (a
  // round selected again after a crash) with its predictions.
  Result<int64_t> StoreModel(const ModelRow& model);
  Result<ModelRow> GetModel(int64_t id);
  // Stores predictions of one model in one transaction (prepared statement, sorted keys).
  Status StorePredictions(int64_t model_id, const std::vector<PredictionRow>& predictions);
  Result<int64_t> CountPredictions(int64_t model_id);

  // --- decisions and jobs ---
  // Stores the round's decisions and, for each simulate/experiment route, a queued job;
  // the round becomes dispatched. All in one transaction.
  // Experiment decisions get an "experiment" job (backend "lab") and one experiment row per step
  // of `experiment_steps`, requested (approved when the decision needs no approval).
  Status DispatchRound(int round, const std::vector<DecisionRow>& decisions,
                       const std::string& job_kind, const std::string& backend,
                       const std::vector<ExperimentStep>& experiment_steps = {});
  // A person edits the batch waiting at the approval gate: these decisions and their queued
  // jobs join its round, with an audit event naming `who`. Fails, adding nothing, when no batch
  // waits, a candidate does not exist, was evaluated already, or the jobs would spend more than
  // `budget` evaluations.
  Status AddToOpenRound(const std::vector<DecisionRow>& decisions, const std::string& job_kind,
                        const std::string& backend,
                        const std::vector<ExperimentStep>& experiment_steps, int64_t budget,
                        const std::string& who);
  Result<std::vector<JobRow>> ListJobs(const std::vector<JobState>& states);
  // Candidates with at least one decision of this route ("trust", "reject", ...).
  Result<std::vector<int64_t>> CandidatesWithRoute(const std::string& route);
  // Candidates whose decision a person rejected.
  Result<std::vector<int64_t>> CandidatesRejectedByPeople();

  // --- the approval gate ---
  Result<std::vector<PendingApproval>> ListPendingApprovals();
  // Approves the pending decisions of these candidates (all pending ones when empty); their jobs
  // may then run. `who` is recorded with the time, and in the audit log, in one transaction.
  // Fails, changing nothing, when a candidate has no pending decision. Returns how many.
  Result<int64_t> ApproveDecisions(const std::vector<int64_t>& candidate_ids,
                                   const std::string& who);
  // Rejects them: their jobs are cancelled (and cost no budget) and they are not proposed again.
  Result<int64_t> RejectDecisions(const std::vector<int64_t>& candidate_ids, const std::string& who,
                                  const std::string& reason);
  Status MarkJobsRunning(const std::vector<int64_t>& job_ids);
  // Queued jobs handed to a launcher: submitted, one more attempt, the batch's external id kept
  // (and an audit event).
  Status MarkJobsSubmitted(const std::vector<int64_t>& job_ids, const std::string& external_id);
  // The batch reference of submitted jobs, once the launcher gave its handle. Returns how many
  // jobs took it: jobs cancelled meanwhile do not.
  Result<int64_t> SetExternalId(const std::vector<int64_t>& job_ids,
                                const std::string& external_id);
  // Submitted or running jobs whose batch ended without their result go back to the queue, or
  // fail with `why` once attempted `max_attempts` times. Done jobs are left alone.
  Result<RequeueResult> RequeueJobs(const std::vector<int64_t>& job_ids, int max_attempts,
                                    const std::string& why);
  // Jobs not yet finished become cancelled, with `why`, and an audit event names `who`.
  Result<int64_t> CancelJobs(const std::vector<int64_t>& job_ids, const std::string& who,
                             const std::string& why);
  // Jobs left running or submitted by a controller that died go back to the queue, unless they
  // were already attempted `max_attempts` times: a job that kills its process (a segfault in
  // external code, memory exhaustion) would otherwise stop the campaign forever; it is failed.
  Result<RequeueResult> RequeueInterruptedJobs(int max_attempts);
  // Records a job's outcome and its measurements in one synchronous=FULL transaction. A job that
  // is already done or failed is left as it is, so ingesting twice changes nothing.
  Status IngestOutcome(const JobOutcome& outcome);
  // A result reported from outside labloop (a robot through the server), checked and written in
  // one transaction: the job must be queued and approved, with no step on an instrument; its
  // unsent steps are aborted. Returns false, changing nothing, when the job had already ended.
  Result<bool> IngestReportedOutcome(const JobOutcome& outcome, const std::string& who);
  Status FinishRound(int round);

  // --- experiments on instruments ---
  // Experiment steps in these states (all when empty), by job then step.
  Result<std::vector<ExperimentRow>> ListExperiments(const std::vector<std::string>& states);
  // Moves a step to `state` (sent also counts one more send), keeping raw/result/error when given
  // non-empty, with an audit event; the job follows: running while a step is sent or running.
  // A step that already ended (done, failed, aborted) is left as it is.
  Status UpdateExperiment(int64_t id, const std::string& state, const std::string& raw = "",
                          const std::string& result = "", const std::string& error = "");
  // A step that failed or was aborted ends its job: failed (or cancelled for aborted), the later
  // steps aborted, all in one transaction.
  Status EndExperimentJob(int64_t job_id, bool cancelled, const std::string& why);
  // The emergency stop: set (with who and why) or cleared, in the audit log.
  Status SetEmergencyStop(bool active, const std::string& who, const std::string& reason);
  Result<EmergencyStopState> GetEmergencyStop();

  // --- reading ---
  Result<std::vector<MeasurementRow>> ListMeasurements(const std::string& property);
  Result<CampaignSummary> Summary();
  Result<std::vector<ExportRow>> ExportRows();

  // --- browsing (the GUI and server; browse.cpp) ---
  // Candidate ids in the order of `query`, filtered by it: the rows of a table view, fetched
  // page by page with CandidateRows. Predictions are the latest model's.
  Result<std::vector<int64_t>> CandidateIds(const CandidateQuery& query);
  // One row per id, in the order given; ids that do not exist are skipped.
  Result<std::vector<CandidateListRow>> CandidateRows(const std::vector<int64_t>& ids,
                                                      const std::string& property);
  // Calls f(id, smiles) for every candidate with id > after_id, in id order (substructure
  // search); stops when f returns false.
  Status ForEachCandidateSmiles(int64_t after_id,
                                const std::function<bool(int64_t, const std::string&)>& f);
  Result<CandidateDetail> GetCandidateDetail(int64_t candidate_id);
  Result<std::vector<ModelSummary>> ListModels();
  // Audit-log events with id > after_id, oldest first, at most `limit`.
  Result<std::vector<EventRow>> ListEvents(int64_t after_id, int limit);
  Result<std::vector<RouteCost>> RouteCosts();
  // Each measured candidate's prediction at the time it was chosen (the decision's μ and σ, so
  // out of sample) beside the measurement of `property`: parity and calibration plots.
  Result<std::vector<DecisionOutcome>> DecisionOutcomes(const std::string& property);

  // --- API tokens (only their SHA-256 hashes are stored) ---
  Status AddApiToken(const std::string& name, const std::string& role, const std::string& hash);
  Result<std::vector<ApiToken>> ListApiTokens();  // revoked ones included
  Status RevokeApiToken(const std::string& name, const std::string& who);

  // --- audit log ---
  Status LogEvent(const std::string& actor, const std::string& kind,
                  const std::string& detail_json);

  // Changes whenever another connection commits to the file (PRAGMA data_version): a reader's
  // cue that what it showed is stale.
  Result<int64_t> DataVersion();

  // Runs PRAGMA integrity_check; "ok" when the file is sound.
  Result<std::string> IntegrityCheck();

  // Test hook: a function called inside IngestOutcome's transaction just before COMMIT.
  void SetBeforeCommitHook(std::function<void()> hook);

  struct Impl;

 private:
  explicit CampaignDb(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Whether a file system (statfs f_type) supports SQLite's WAL shared-memory locking; false for
// network file systems. `name` receives a readable name of the file system.
bool FileSystemSupportsWal(int64_t fs_type, std::string& name);

// Current UTC time, ISO 8601 ("2026-11-25T10:00:00Z").
std::string NowUtc();

}  // namespace labloop::db
