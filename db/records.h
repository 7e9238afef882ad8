#pragma once
// Plain records of the campaign file (DESIGN.md §4), as the rest of labloop sees them.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace labloop::db {

struct CampaignRecord {
  std::string name;
  std::string config_given;     // the TOML as the user wrote it
  std::string config_resolved;  // the TOML with defaults filled in and paths made absolute
  std::string created_at;       // ISO 8601, UTC
  bool ready = false;           // init finished importing the library
};

// A molecule entering the campaign; duplicates (same InChIKey) are skipped on insert.
struct NewCandidate {
  std::string smiles;
  std::string inchikey;
  std::string fingerprint;  // serialized chem::SparseFingerprint, may be empty
  std::string source;       // "library:pool.smi", "generator:ga"
  std::string source_id;    // the record's id in its source
  std::string location;     // "pool.smi:12"
  int round_added = 0;
};

struct CandidateRow {
  int64_t id = 0;
  std::string smiles;
  std::string inchikey;
  std::string fingerprint;
  std::string source;
  std::string source_id;
  int round_added = 0;
};

struct RejectedInput {
  std::string source;
  std::string location;
  std::string record_id;
  std::string input;
  std::string reason;
};

struct AddCandidatesResult {
  int64_t added = 0;
  int64_t duplicates = 0;
  std::vector<int64_t> ids;  // per input: the new candidate's id, or 0 for a duplicate
  // (location of the duplicate, location of the first record of that molecule)
  std::vector<std::pair<std::string, std::string>> duplicates_of;
};

enum class RoundState { kSelecting, kDispatched, kDone };
const char* RoundStateName(RoundState state);

struct RoundRow {
  int number = 0;
  RoundState state = RoundState::kSelecting;
  std::optional<int64_t> model_id;
};

struct ModelRow {
  int64_t id = 0;
  int round = 0;
  std::string kind;
  std::string property;
  int64_t training_size = 0;
  std::string metrics_json;
  std::string weights;  // opaque blob from PropertyModel::Save
};

struct PredictionRow {
  int64_t candidate_id = 0;
  double mean = 0, sigma = 0, sigma_epistemic = 0, sigma_aleatoric = 0;
};

struct DecisionRow {
  int64_t candidate_id = 0;
  std::string route;  // trust | simulate | experiment | reject
  std::string acquisition;
  double acquisition_value = 0;
  std::optional<double> mean, sigma;
  double cost = 1;
  std::string reasons_json;
  bool needs_approval = false;  // its job waits for `labloop approve` before it may run
};

// A decision waiting for a person: approve it and its job runs; reject it and its job is
// cancelled.
struct PendingApproval {
  int64_t decision_id = 0;
  int64_t candidate_id = 0;
  int round = 0;
  std::string route;
  std::string smiles;
  std::optional<double> mean, sigma;
  double acquisition_value = 0;
};

enum class JobState { kQueued, kSubmitted, kRunning, kDone, kFailed, kCancelled };
const char* JobStateName(JobState state);

struct JobRow {
  int64_t id = 0;
  int64_t candidate_id = 0;
  int round = 0;
  std::string kind;     // simulation | experiment
  std::string backend;  // xtb, lookup, ...
  JobState state = JobState::kQueued;
  int attempts = 0;
  std::string error;
  std::string smiles;              // of the candidate, for the back-end
  bool awaiting_approval = false;  // queued, but its decision is not yet approved
  std::string external_id;         // the launcher's batch ("slurm 1234 round-0003-job-17")
};

// One step of an experiment job on one instrument (synthesis, then the assay, ...). Its life:
// requested -> approved -> sent -> running -> done | failed | aborted, stored before anything is
// sent; request_id is what the instrument sees, the same on every resend.
struct ExperimentStep {
  std::string kind;        // synthesis, assay
  std::string instrument;  // the [instruments.NAME] that runs it
  std::string parameters;  // JSON: what is sent besides the molecule
};

struct ExperimentRow {
  int64_t id = 0;
  int64_t job_id = 0;
  int64_t candidate_id = 0;
  int round = 0;
  int step = 0;  // 0, 1, ...: a step starts once the one before is done
  std::string kind, instrument, request_id, parameters;
  std::string state;  // requested | approved | sent | running | done | failed | aborted
  int sends = 0;      // times the request went out
  std::string raw, result, error;
  std::string smiles;
  std::string updated_at;
  std::string job_state;  // queued | running | done | failed | cancelled
};

struct EmergencyStopState {
  bool active = false;
  std::string actor, reason, since;
};

struct MeasurementValue {
  std::string property;
  double value = 0;
  std::optional<double> uncertainty;
};

// What a finished job brings back: values, or an error that makes it a failed job.
struct JobOutcome {
  int64_t job_id = 0;
  bool ok = false;
  std::vector<MeasurementValue> values;
  std::string fidelity;  // simulation | experiment | lookup
  std::string raw_json;  // back-end specific details
  std::string error;     // when !ok
};

struct MeasurementRow {
  int64_t job_id = 0;
  int64_t candidate_id = 0;
  int round = 0;
  std::string smiles;
  std::string property;
  double value = 0;
  std::string fidelity;  // simulation | experiment | lookup
};

struct RequeueResult {
  int64_t requeued = 0;  // back in the queue
  int64_t failed = 0;    // interrupted too often: marked failed
};

struct CampaignSummary {
  int round = 0;  // the highest round started, 0 if none
  int64_t candidates = 0;
  int64_t measurements = 0;
  int64_t rejected_inputs = 0;
  std::map<std::string, int64_t> jobs;  // state name -> count, every state present
  int64_t evaluations_spent = 0;        // jobs ever created and not cancelled
};

// One row per candidate for export: latest prediction, latest decision, and measurements.
struct ExportRow {
  int64_t candidate_id = 0;
  std::string smiles, inchikey, source, source_id;
  std::optional<PredictionRow> prediction;
  std::optional<int64_t> prediction_model;
  std::optional<int> decision_round;
  std::string route;
  std::optional<double> acquisition_value;
  struct Measured {
    double value;
    int64_t job_id;
    int round;
  };
  std::map<std::string, Measured> measured;  // property -> measurement
  std::string job_state;                     // of the latest job, if any
  std::string job_error;
};

}  // namespace labloop::db
