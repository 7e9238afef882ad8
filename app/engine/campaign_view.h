#pragma once
// CampaignView: what the GUI and the server show of a campaign, as JSON documents.
//
// One read-only connection, so a view may sit beside a running controller and never blocks it.
// Every method returns a JSON text whose shape docs/api.md describes; the server sends it as is
// and the GUI reads the same text whether it opened the file or attached to a server, so both
// show the same thing. Not thread-safe: one view per thread.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"

namespace labloop::engine {

// A page of the candidates table: sorted, filtered, searched.
struct CandidatePageRequest {
  // id, smiles, source, round, mean, sigma, acquisition, measured
  std::string sort = "id";
  bool descending = false;
  std::string search;  // a substring of the SMILES or the source, or an InChIKey
  // SMARTS; candidates without it are left out. A substructure search scans for at most
  // `scan_seconds` a call, so no call blocks for long; the answer says how far it got
  // ("complete", "scanned", "to_scan") and the next call with the same query goes on.
  std::string substructure;
  double scan_seconds = 1.0;
  std::string route;  // trust, simulate, experiment, reject: the latest decision's route
  bool measured_only = false;
  int64_t offset = 0;
  int64_t limit = 100;  // at most 1000
};

class CampaignView {
 public:
  // Opens `campaign_path` read-only. A file of an older schema must be opened read-write once.
  static Result<std::unique_ptr<CampaignView>> Open(const std::string& campaign_path);
  ~CampaignView();

  const std::string& Path() const;

  // The status of `labloop status --json`, plus "routes" (decisions and cost per route),
  // "model" (the latest model version with its metrics) and "engine" left for the caller.
  Result<std::string> Status();
  // {"total", "offset", "limit", "complete", "scanned", "to_scan", "rows": [{id, smiles, source,
  // round_added, mean, sigma, route, acquisition_value, measured, job_state}]}. The ordered ids
  // of the last query are kept, so paging through one ordering costs one page each.
  Result<std::string> Candidates(const CandidatePageRequest& request);
  // A molecule's page: identity, provenance, predictions per model version, decisions with
  // their reasons, measurements and jobs.
  Result<std::string> Candidate(int64_t candidate_id);
  Result<std::string> Approvals();                     // {"pending": [...]}
  Result<std::string> Jobs(const std::string& state);  // state "" for all
  Result<std::string> Experiments();
  Result<std::string> Measurements();
  Result<std::string> Models();
  Result<std::string> Events(int64_t after_id, int limit);
  // The data of the plots: best so far against evaluations, parity and calibration of the
  // predictions made when candidates were chosen, cost per route and a Pareto front.
  Result<std::string> Plots();

 private:
  struct Impl;
  explicit CampaignView(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// An SVG picture of a molecule (RDKit), highlighting `substructure` (SMARTS, may be empty).
Result<std::string> MoleculeSvg(const std::string& smiles, int width, int height,
                                const std::string& substructure = "");

}  // namespace labloop::engine
