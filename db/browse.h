#pragma once
// Records for browsing a campaign (GUI, server): the candidates table, a molecule's page, plots.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace labloop::db {

// The columns the candidates table sorts by.
enum class CandidateSort { kId, kSmiles, kSource, kRound, kMean, kSigma, kAcquisition, kMeasured };

struct CandidateQuery {
  CandidateSort sort = CandidateSort::kId;
  bool descending = false;
  std::string text;   // a substring of the SMILES or the source, or an InChIKey
  std::string route;  // only candidates whose latest decision took this route
  bool measured_only = false;
  std::string property;  // the measured column and measured_only refer to this property
};

struct CandidateListRow {
  int64_t id = 0;
  std::string smiles, source;
  int round_added = 0;
  std::optional<double> mean, sigma;  // the latest model's prediction
  std::string route;                  // the latest decision's, "" when never decided
  std::optional<double> acquisition_value;
  std::optional<double> measured;  // the latest measurement of the property
  std::string job_state;           // the latest job's
};

struct CandidatePrediction {
  int64_t model_id = 0;
  int round = 0;
  std::string kind;
  double mean = 0, sigma = 0;
  std::optional<double> sigma_epistemic, sigma_aleatoric;
};

struct CandidateDecision {
  int64_t id = 0;
  int round = 0;
  std::string route, acquisition;
  std::optional<double> acquisition_value, mean, sigma;
  double cost = 0;
  std::string reasons_json;
  bool needs_approval = false;
  std::string approved_by, approved_at, rejected_by, rejected_reason, created_at;
};

struct CandidateMeasurement {
  int64_t id = 0, job_id = 0;
  std::string property;
  double value = 0;
  std::optional<double> uncertainty;
  std::string fidelity, created_at;
};

struct CandidateJob {
  int64_t id = 0;
  int round = 0;
  std::string kind, backend, state, error, external_id, updated_at;
  int attempts = 0;
};

struct CandidateDetail {
  int64_t id = 0;
  std::string smiles, inchikey, source, source_id, location, parents;
  int round_added = 0;
  std::vector<CandidatePrediction> predictions;  // one per model version, newest first
  std::vector<CandidateDecision> decisions;
  std::vector<CandidateMeasurement> measurements;
  std::vector<CandidateJob> jobs;
};

struct ModelSummary {  // a model version without its weights
  int64_t id = 0;
  int round = 0;
  std::string kind, property, metrics_json;
  int64_t training_size = 0;
};

struct EventRow {
  int64_t id = 0;
  std::string time, actor, kind, detail;
};

struct RouteCost {
  std::string route;
  int64_t decisions = 0;
  double cost = 0;  // sum of the decisions' costs, rejected-by-people ones excluded
};

struct DecisionOutcome {
  int64_t candidate_id = 0;
  int round = 0;
  std::string smiles;
  double mean = 0, sigma = 0;  // predicted when chosen
  double measured = 0;
  std::optional<double> uncertainty;
  std::string fidelity;
  int64_t job_id = 0;
};

struct ApiToken {
  int64_t id = 0;
  std::string name, role, hash, created_at, revoked_at;
};

}  // namespace labloop::db
