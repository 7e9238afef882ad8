#pragma once
// The campaign engine: creates campaigns, runs rounds, reports status, exports. Qt-free, so it
// runs headless on login nodes and under MPI.
//
// A round is: train on every measurement so far -> predict the pool -> acquire a batch ->
// persist decisions and queued jobs (one transaction) -> evaluate -> ingest each result as it
// arrives. Because decisions and jobs are rows before they are work, a run killed at any point
// resumes where it stopped: interrupted jobs go back to the queue, a round killed before its
// decisions were stored is selected again, and results are ingested exactly once.

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "db/records.h"

namespace labloop::db {
class CampaignDb;
}

namespace labloop::engine {

// Creates `campaign_path` from the TOML config at `config_path` and imports its library.
Status InitCampaign(const std::string& campaign_path, const std::string& config_path);
// The same from TOML text; relative paths resolve against `base_dir`.
Status InitCampaignFromText(const std::string& campaign_path, const std::string& toml_text,
                            const std::string& source, const std::string& base_dir);

struct RunOptions {
  int max_rounds = 0;  // stop after this many rounds in this call (0: until the budget is spent)
  // Set from another thread: the run stops at its next safe point (between rounds, or while it
  // waits on a batch or an instrument), leaving the round open as a killed run would; the next
  // run resumes it. Null: run to the end.
  const std::atomic<bool>* stop = nullptr;
};

struct RunSummary {
  int rounds_run = 0;
  int64_t evaluations = 0;        // ingested in this call
  std::string stop_reason;        // "budget spent", "pool exhausted", "round limit", ...
  int64_t awaiting_approval = 0;  // decisions that stopped the run until a person decides
};

Result<RunSummary> RunCampaign(const std::string& campaign_path, const RunOptions& options = {});

struct BestMeasurement {
  int64_t candidate_id = 0;
  std::string smiles;
  double value = 0;
  int64_t job_id = 0;
  int round = 0;
};

struct CampaignStatus {
  std::string name;
  std::string path;
  std::string property;
  std::string direction;
  db::CampaignSummary summary;
  int64_t budget_total = 0;
  std::optional<BestMeasurement> best;
  std::vector<BestMeasurement> top;  // best first, up to 10
  std::vector<db::PendingApproval> pending_approval;
  db::EmergencyStopState emergency_stop;
  std::map<std::string, int64_t> experiments;  // step state -> count
};

Result<CampaignStatus> GetStatus(const std::string& campaign_path);
// The same over a connection already open (the server's, the GUI's), with the campaign's config
// already read (it is parsed from the file otherwise).
struct CampaignConfig;
Result<CampaignStatus> GetStatus(db::CampaignDb& db, const CampaignConfig& config);
std::string StatusTable(const CampaignStatus& status);
std::string StatusJson(const CampaignStatus& status);

// The approval gate: approve the pending decisions of these candidates (every pending one when
// `all`), or reject them with a reason; `who` and the time go into the decision and the audit
// log. Returns how many decisions changed.
Result<int64_t> ApproveCandidates(const std::string& campaign_path,
                                  const std::vector<int64_t>& candidate_ids, bool all,
                                  const std::string& who);
Result<int64_t> RejectCandidates(const std::string& campaign_path,
                                 const std::vector<int64_t>& candidate_ids, const std::string& who,
                                 const std::string& reason);

// Edits the batch of the open round: these candidates join it on `route` (simulate or
// experiment), chosen by `who` (in the audit log), their jobs queued at once with no approval
// needed. Returns how many joined.
Result<int64_t> AddToBatch(const std::string& campaign_path,
                           const std::vector<int64_t>& candidate_ids, const std::string& route,
                           const std::string& who);

// A job's result reported from outside labloop (a robot, through `labloop serve`): its values,
// or the error that failed it. Ingested exactly once, like every result: a second submission
// for a finished job changes nothing and says so.
struct JobResultSubmission {
  int64_t job_id = 0;
  std::vector<db::MeasurementValue> values;
  std::string error;  // non-empty: the job failed
  std::string fidelity = "experiment";
  std::string raw_json = "{}";
};
// Returns "ingested", or "already finished" when the job had ended before.
Result<std::string> SubmitJobResult(const std::string& campaign_path,
                                    const JobResultSubmission& submission, const std::string& who);

// Stops every batch still running for the campaign (scancel, or a signal to the mpirun batch) and
// cancels every job not finished, queued ones included; `who` goes into the audit log. A later
// `labloop run` selects new candidates for the budget those jobs leave.
struct CancelSummary {
  int64_t jobs = 0;                  // jobs cancelled
  std::vector<std::string> batches;  // "slurm 1234", "mpirun 5678": the batches stopped
};
Result<CancelSummary> CancelUnfinishedJobs(const std::string& campaign_path,
                                           const std::string& who);

enum class ExportFormat { kCsv, kSdf };
// One row (or SDF record) per candidate; returns the number written.
Result<int64_t> ExportCampaign(const std::string& campaign_path, ExportFormat format,
                               const std::string& output_path);

// The input records rejected at import (location, record id, input, reason) as CSV; returns how
// many were written.
Result<int64_t> ExportRejected(const std::string& campaign_path, const std::string& output_path);

}  // namespace labloop::engine
