#pragma once
// Experiments on lab instruments: the steps of each experiment job (synthesis, then the
// dose-response assay) driven through their life in the campaign file, and the emergency stop.
//
// Every change of a step's state is committed before the instrument is asked, so a controller
// killed at any moment resumes from the file: a step marked sent is polled, and sent again under
// its same request id only when the instrument has never heard of it. Before a step is sent it is
// checked against the instrument's capabilities (concentrations, points, amounts, allowed
// elements, concurrency). An assay's 4PL fit becomes a measurement (fidelity "experiment", with
// its σ) only when it passes every check; a flagged fit fails the job and waits for a person.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "app/engine/campaign_config.h"
#include "db/campaign_db.h"
#include "instruments/instrument.h"

namespace labloop::engine {

// The steps an experiment decision becomes, from the [experiment] config.
std::vector<db::ExperimentStep> ExperimentSteps(const CampaignConfig& config);

class ExperimentRunner {
 public:
  // `stop` (may be null): set from another thread, Run returns at its next poll, leaving the
  // steps out on instruments to the next run.
  ExperimentRunner(db::CampaignDb& db, const CampaignConfig& config,
                   const std::atomic<bool>* stop = nullptr);
  // Drives the approved steps until none is left to run, or the emergency stop is set (then
  // returns with stopped() true), or `stop`. Returns how many experiment jobs ended.
  Result<int64_t> Run();
  bool stopped() const { return stopped_; }

 private:
  Result<instruments::Instrument*> InstrumentFor(const std::string& name);
  Result<instruments::Capabilities> CapabilitiesOf(const std::string& name);
  // "" when the step may be sent, else why not.
  // "wait" when the instrument already runs as many as it takes at once.
  Result<std::string> SafetyCheck(const db::ExperimentRow& step);
  // Sends a step unless the emergency stop is active (then stopped() turns true and the step
  // stays approved). A refusal fails the step and its job (counted in `ended`).
  Status Send(const db::ExperimentRow& step, int64_t& ended);
  Status Check(const db::ExperimentRow& step, int64_t& ended);
  Status Finish(const db::ExperimentRow& step, const std::string& data, int64_t& ended);

  db::CampaignDb& db_;
  const CampaignConfig& config_;
  std::map<std::string, std::unique_ptr<instruments::Instrument>> instruments_;
  std::map<std::string, instruments::Capabilities> capabilities_;
  std::map<std::string, int> busy_;  // instrument -> steps out on it (sent or running), this pass
  bool stopped_ = false;
  const std::atomic<bool>* stop_ = nullptr;
};

// The campaign's instruments as JSON, for the API and the window: {"emergency_stop": bool,
// "instruments": [{name, driver, address, roles: [synthesizer|reader], steps_out (sent or
// running), steps_waiting (requested or approved), steps_done, steps_failed, last_update}]}.
// With `probe`, each is also asked who it is, all at once, within `probe_timeout` seconds:
// "reachable" and "identity", or "error".
Result<std::string> InstrumentsJson(const std::string& campaign_path, bool probe,
                                    double probe_timeout = 1.0);

struct EmergencyStopReport {
  int instruments_stopped = 0;
  std::vector<std::string> failures;  // instruments that could not be reached
  int64_t experiments_aborted = 0;
  // Steps out on an instrument that did not confirm the stop: left as they were (the instrument
  // may still run them), polled again after resume.
  int64_t experiments_unconfirmed = 0;
  double seconds = 0;  // from the call to every instrument answering
};

// `labloop estop`: the stop is recorded first (a running controller sees it at its next look and
// sends nothing more), then every instrument is told to stop, all at once, and the experiments
// still active are aborted.
Result<EmergencyStopReport> EmergencyStop(const std::string& campaign_path, const std::string& who,
                                          const std::string& reason);
// `labloop resume --ack`: instruments reset, the stop cleared, in the audit log.
Status ResumeAfterStop(const std::string& campaign_path, const std::string& who);

}  // namespace labloop::engine
