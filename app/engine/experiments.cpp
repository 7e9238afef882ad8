#include "app/engine/experiments.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "app/engine/fault_injection.h"
#include "core/chem/molecule.h"
#include "core/log.h"
#include "instruments/assay_fit.h"

namespace labloop::engine {

using json = nlohmann::json;
using instruments::RunState;

std::vector<db::ExperimentStep> ExperimentSteps(const CampaignConfig& config) {
  const auto& e = config.experiment;
  std::vector<db::ExperimentStep> steps;
  if (e.reader.empty()) return steps;
  if (!e.synthesizer.empty()) {
    steps.push_back({"synthesis", e.synthesizer, json{{"amount_mg", e.amount_mg}}.dump()});
  }
  steps.push_back(
      {"assay", e.reader,
       json{{"top_concentration", e.top_concentration}, {"points", e.points}, {"fold", e.fold}}
           .dump()});
  return steps;
}

namespace {

// How long ago a campaign file's UTC time ("2026-11-25T10:00:00Z") was; zero when it does not
// parse or lies ahead.
std::chrono::steady_clock::duration SinceUtc(const std::string& time) {
  std::tm tm{};
  if (strptime(time.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm) == nullptr) return {};
  const auto then = std::chrono::system_clock::from_time_t(timegm(&tm));
  const auto ago = std::chrono::system_clock::now() - then;
  if (ago.count() <= 0) return {};
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(ago);
}

// "c1,y1;c2,y2;..." from the plate reader.
Result<instruments::DoseResponse> ParseDoseResponse(const std::string& data) {
  instruments::DoseResponse d;
  std::istringstream in(data);
  for (std::string point; std::getline(in, point, ';');) {
    const auto comma = point.find(',');
    try {
      if (comma == std::string::npos) throw std::invalid_argument("no comma");
      d.concentration.push_back(std::stod(point.substr(0, comma)));
      d.signal.push_back(std::stod(point.substr(comma + 1)));
    } catch (const std::exception&) {
      return MakeError(ErrorCode::kInvalidArgument, "unreadable readout point '" + point + "'");
    }
  }
  return d;
}

// "yield=0.63;amount_mg=3.1" from the synthesizer.
std::map<std::string, double> ParseFields(const std::string& data) {
  std::map<std::string, double> fields;
  std::istringstream in(data);
  for (std::string field; std::getline(in, field, ';');) {
    const auto eq = field.find('=');
    if (eq == std::string::npos) continue;
    try {
      fields[field.substr(0, eq)] = std::stod(field.substr(eq + 1));
    } catch (const std::exception&) {
    }
  }
  return fields;
}

std::vector<double> ArgsOf(const db::ExperimentRow& step) {
  json p = json::parse(step.parameters, nullptr, false);
  if (step.kind == "synthesis") return {p.value("amount_mg", 0.0)};
  return {p.value("top_concentration", 0.0), static_cast<double>(p.value("points", 0)),
          p.value("fold", 0.0)};
}

}  // namespace

ExperimentRunner::ExperimentRunner(db::CampaignDb& db, const CampaignConfig& config,
                                   const std::atomic<bool>* stop)
    : db_(db), config_(config), stop_(stop) {}

Result<instruments::Instrument*> ExperimentRunner::InstrumentFor(const std::string& name) {
  auto& slot = instruments_[name];
  if (!slot) {
    for (const auto& options : config_.instruments) {
      if (options.name != name) continue;
      auto created = instruments::CreateInstrument(options);
      if (!created) return tl::unexpected(created.error());
      slot = std::move(*created);
    }
    if (!slot) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "no [instruments." + name + "] in the campaign's config");
    }
  }
  return slot.get();
}

Result<instruments::Capabilities> ExperimentRunner::CapabilitiesOf(const std::string& name) {
  auto it = capabilities_.find(name);
  if (it != capabilities_.end()) return it->second;
  auto instrument = InstrumentFor(name);
  if (!instrument) return tl::unexpected(instrument.error());
  auto caps = (*instrument)->GetCapabilities();
  if (!caps) return tl::unexpected(caps.error());
  capabilities_[name] = *caps;
  return *caps;
}

Result<std::string> ExperimentRunner::SafetyCheck(const db::ExperimentRow& step) {
  auto caps = CapabilitiesOf(step.instrument);
  if (!caps) return tl::unexpected(caps.error());
  const auto args = ArgsOf(step);
  if (step.kind == "assay") {
    const double top = args[0], fold = args[2];
    const int points = static_cast<int>(args[1]);
    if (caps->max_concentration && top > *caps->max_concentration) {
      return "top concentration " + std::to_string(top) + " M above the instrument's " +
             std::to_string(*caps->max_concentration) + " M";
    }
    if (caps->min_concentration && top / std::pow(fold, points - 1) < *caps->min_concentration) {
      return std::string("the dilution series goes below the instrument's lowest concentration");
    }
    if (caps->max_points && points > *caps->max_points) {
      return std::to_string(points) + " points, the instrument takes at most " +
             std::to_string(*caps->max_points);
    }
  } else if (step.kind == "synthesis") {
    if (caps->max_amount_mg && args[0] > *caps->max_amount_mg) {
      return std::to_string(args[0]) + " mg above the instrument's " +
             std::to_string(*caps->max_amount_mg) + " mg";
    }
    json j = json::parse(caps->json, nullptr, false);
    if (j.contains("elements")) {
      std::set<std::string> allowed;
      try {
        allowed = j["elements"].get<std::set<std::string>>();
      } catch (const json::exception&) {
        return MakeError(ErrorCode::kUnavailable,
                         step.instrument + ": its capabilities' elements are not a list of names");
      }
      auto molecule = chem::Molecule::FromSmiles(step.smiles);
      if (!molecule) return "unreadable molecule: " + molecule.error().message;
      for (const auto& element : molecule->Elements()) {
        if (!allowed.count(element)) return "element " + element + " is not allowed on it";
      }
    }
  }
  // Concurrency: the instrument runs at most this many at once; the rest wait here, unsent.
  if (busy_[step.instrument] >= caps->concurrency) return std::string("wait");
  return std::string();
}

Status ExperimentRunner::Send(const db::ExperimentRow& step, int64_t& ended) {
  auto instrument = InstrumentFor(step.instrument);
  if (!instrument) return tl::unexpected(instrument.error());
  auto stop = db_.GetEmergencyStop();  // looked at before every send, not once a pass
  if (!stop) return tl::unexpected(stop.error());
  if (stop->active) {
    stopped_ = true;
    return {};
  }
  // Stored before the instrument hears of it: a crash now resends under the same request id.
  LABLOOP_TRY(db_.UpdateExperiment(step.id, "sent"));
  auto submitted = (*instrument)->Submit({step.request_id, step.smiles, ArgsOf(step)});
  if (submitted) {
    ++busy_[step.instrument];
    CrashPoint("experiment_sent");  // the instrument has it; the file says sent
    return {};
  }
  if (submitted.error().code == ErrorCode::kFailedPrecondition) {  // the instrument refused
    stop = db_.GetEmergencyStop();
    if (stop && stop->active) {  // stopped meanwhile: it waits for resume, it did not fail
      stopped_ = true;
      return db_.UpdateExperiment(step.id, "approved");
    }
    LABLOOP_TRY(db_.UpdateExperiment(step.id, "failed", "", "", submitted.error().message));
    ++ended;
    return db_.EndExperimentJob(step.job_id, false, submitted.error().message);
  }
  ++busy_[step.instrument];  // it may have arrived: counted as out until a poll says otherwise
  // Unreachable after the retries: left sent; the next look polls and resends.
  LogWarn("experiment {} ({}): {}", step.request_id, step.instrument, submitted.error().message);
  return {};
}

Status ExperimentRunner::Finish(const db::ExperimentRow& step, const std::string& data,
                                int64_t& ended) {
  if (step.kind == "synthesis") {
    auto fields = ParseFields(data);
    const double yield = fields.count("yield") ? fields["yield"] : 0.0;
    json result = {{"yield", yield}, {"amount_mg", fields["amount_mg"]}};
    if (yield < config_.experiment.min_yield) {
      const std::string why = "yield " + std::to_string(yield) + " below the minimum " +
                              std::to_string(config_.experiment.min_yield);
      LABLOOP_TRY(db_.UpdateExperiment(step.id, "failed", data, result.dump(), why));
      ++ended;
      return db_.EndExperimentJob(step.job_id, false, why);
    }
    return db_.UpdateExperiment(step.id, "done", data, result.dump());
  }
  auto curve = ParseDoseResponse(data);
  if (!curve) {
    LABLOOP_TRY(db_.UpdateExperiment(step.id, "failed", data, "", curve.error().message));
    ++ended;
    return db_.EndExperimentJob(step.job_id, false, curve.error().message);
  }
  auto fit = instruments::FitDoseResponse(*curve, config_.experiment.fit);
  if (!fit) {
    LABLOOP_TRY(db_.UpdateExperiment(step.id, "failed", data, "", fit.error().message));
    ++ended;
    return db_.EndExperimentJob(step.job_id, false, fit.error().message);
  }
  if (!fit->ok) {  // never a measurement: the raw data and the fit wait for a person
    const std::string why = fit->Summary();
    LABLOOP_TRY(db_.UpdateExperiment(step.id, "failed", data, fit->ToJson(), why));
    LABLOOP_TRY(db_.LogEvent(
        "labloop", "fit_flagged",
        json{{"job", step.job_id}, {"smiles", step.smiles}, {"fit", json::parse(fit->ToJson())}}
            .dump()));
    ++ended;
    return db_.EndExperimentJob(step.job_id, false, why);
  }
  LABLOOP_TRY(db_.UpdateExperiment(step.id, "done", data, fit->ToJson()));
  db::JobOutcome outcome;
  outcome.job_id = step.job_id;
  outcome.ok = true;
  outcome.fidelity = "experiment";
  outcome.raw_json = fit->ToJson();
  outcome.values.push_back({config_.experiment.property, fit->pic50, fit->pic50_sigma});
  LABLOOP_TRY(db_.IngestOutcome(outcome));
  LogInfo("experiment {}: {} {}", step.request_id, step.smiles, fit->Summary());
  ++ended;
  return {};
}

Status ExperimentRunner::Check(const db::ExperimentRow& step, int64_t& ended) {
  auto instrument = InstrumentFor(step.instrument);
  if (!instrument) return tl::unexpected(instrument.error());
  auto status = (*instrument)->Poll(step.request_id);
  if (!status) {  // not reachable now: look again later
    LogWarn("experiment {} ({}): {}", step.request_id, step.instrument, status.error().message);
    return {};
  }
  switch (status->state) {
    case RunState::kUnknown:  // the request never arrived: send it again, same request id
      --busy_[step.instrument];
      return Send(step, ended);
    case RunState::kQueued:
    case RunState::kRunning:
      if (step.state == "sent") LABLOOP_TRY(db_.UpdateExperiment(step.id, "running"));
      return {};
    case RunState::kDone: {
      auto data = (*instrument)->Fetch(step.request_id);
      if (!data) {
        LogWarn("experiment {}: {}", step.request_id, data.error().message);
        return {};
      }
      return Finish(step, *data, ended);
    }
    case RunState::kFailed:
      LABLOOP_TRY(db_.UpdateExperiment(step.id, "failed", "", "", "instrument: " + status->reason));
      ++ended;
      return db_.EndExperimentJob(
          step.job_id, false, step.kind + " failed on " + step.instrument + ": " + status->reason);
    case RunState::kAborted:
      LABLOOP_TRY(db_.UpdateExperiment(step.id, "aborted", "", "", "aborted on the instrument"));
      ++ended;
      return db_.EndExperimentJob(step.job_id, true, "aborted on " + step.instrument);
  }
  return {};
}

Result<int64_t> ExperimentRunner::Run() {
  int64_t ended = 0;
  std::map<int64_t, std::chrono::steady_clock::time_point> first_seen;  // step -> when sent
  for (;;) {
    auto stop = db_.GetEmergencyStop();
    if (!stop) return tl::unexpected(stop.error());
    if (stop->active) {
      stopped_ = true;
      return ended;
    }
    auto all = db_.ListExperiments({});
    if (!all) return tl::unexpected(all.error());
    bool active = false;
    std::map<int64_t, int> last_step;
    busy_.clear();
    for (const auto& step : *all) {
      last_step[step.job_id] = std::max(last_step[step.job_id], step.step);
      const bool job_open =
          step.job_state != "done" && step.job_state != "failed" && step.job_state != "cancelled";
      if (job_open && (step.state == "sent" || step.state == "running")) ++busy_[step.instrument];
    }
    std::map<int64_t, bool> earlier_done;  // job -> every earlier step done
    for (const auto& step : *all) {
      if (step.step == 0) earlier_done[step.job_id] = true;
      const bool ready = earlier_done[step.job_id];
      earlier_done[step.job_id] = ready && step.state == "done";
      if (!ready || step.job_state == "done" || step.job_state == "failed" ||
          step.job_state == "cancelled") {
        continue;
      }
      if (step.state == "approved") {
        auto verdict = SafetyCheck(step);
        if (!verdict) {
          LogWarn("experiment {}: {}", step.request_id, verdict.error().message);
          active = true;
          continue;
        }
        if (*verdict == "wait") {
          active = true;
          continue;
        }
        if (!verdict->empty()) {
          const std::string why = "safety check: " + *verdict;
          LABLOOP_TRY(db_.UpdateExperiment(step.id, "failed", "", "", why));
          LABLOOP_TRY(db_.EndExperimentJob(step.job_id, false, why));
          ++ended;
          continue;
        }
        LABLOOP_TRY(Send(step, ended));
        if (stopped_) return ended;
        first_seen[step.id] = std::chrono::steady_clock::now();
        active = true;
      } else if (step.state == "sent" || step.state == "running") {
        // First seen by this process: its clock starts when the campaign file says the step was
        // sent (or seen running), so that a controller that keeps restarting still times it out.
        if (first_seen.count(step.id) == 0) {
          first_seen[step.id] = std::chrono::steady_clock::now() - SinceUtc(step.updated_at);
        }
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - first_seen[step.id])
                .count();
        if (seconds > config_.experiment.timeout) {
          auto instrument = InstrumentFor(step.instrument);
          Status aborted = instrument ? (*instrument)->Abort(step.request_id)
                                      : Status(tl::unexpected(instrument.error()));
          std::string why = "timed out after " + std::to_string(config_.experiment.timeout) + " s";
          if (!aborted) {  // it may still run there: said in the record and the log
            why += "; the abort was not confirmed: " + aborted.error().message;
            LogWarn("experiment {}: {}", step.request_id, why);
          }
          LABLOOP_TRY(db_.UpdateExperiment(step.id, "failed", "", "", why));
          LABLOOP_TRY(db_.EndExperimentJob(step.job_id, false, why));
          ++ended;
          continue;
        }
        LABLOOP_TRY(Check(step, ended));
        if (stopped_) return ended;
        active = true;
      } else if (step.state == "done" && step.step == last_step[step.job_id]) {
        // A crash between the assay's end and its measurement: ingest it now (once).
        LABLOOP_TRY(Finish(step, step.raw, ended));
      } else if (step.state == "failed" || step.state == "aborted") {
        // A crash between the step's end and its job's: finish the job now.
        LABLOOP_TRY(db_.EndExperimentJob(step.job_id, step.state == "aborted", step.error));
      }
    }
    if (!active || (stop_ != nullptr && stop_->load())) return ended;
    std::this_thread::sleep_for(std::chrono::duration<double>(config_.experiment.poll_seconds));
  }
}

namespace {
// An instrument for one quick exchange (an emergency stop, a probe): `retries` more tries, each
// within `timeout` seconds (at most its configured one), hardly any backoff.
Result<std::unique_ptr<instruments::Instrument>> QuickInstrument(
    instruments::InstrumentOptions options, int retries, double timeout) {
  options.transport.retries = retries;
  options.transport.timeout = std::min(options.transport.timeout, timeout);
  options.transport.backoff = 0.01;
  return instruments::CreateInstrument(options);
}
}  // namespace

Result<std::string> InstrumentsJson(const std::string& campaign_path, bool probe,
                                    double probe_timeout) {
  auto db = db::CampaignDb::Open(campaign_path, db::OpenMode::kReadOnly);
  if (!db) return tl::unexpected(db.error());
  auto config = ConfigOf(**db);
  if (!config) return tl::unexpected(config.error());
  auto stop = (*db)->GetEmergencyStop();
  if (!stop) return tl::unexpected(stop.error());
  auto steps = (*db)->ListExperiments({});
  if (!steps) return tl::unexpected(steps.error());
  json list = json::array();
  for (const auto& options : config->instruments) {
    json roles = json::array();
    if (options.name == config->experiment.synthesizer) roles.push_back("synthesizer");
    if (options.name == config->experiment.reader) roles.push_back("reader");
    int64_t out = 0, waiting = 0, done = 0, failed = 0;
    std::string last_update;
    for (const auto& step : *steps) {
      if (step.instrument != options.name) continue;
      out += step.state == "sent" || step.state == "running";
      waiting += step.state == "requested" || step.state == "approved";
      done += step.state == "done";
      failed += step.state == "failed" || step.state == "aborted";
      last_update = std::max(last_update, step.updated_at);
    }
    list.push_back({{"name", options.name},
                    {"driver", options.driver},
                    {"address", options.transport.address},
                    {"roles", roles},
                    {"steps_out", out},
                    {"steps_waiting", waiting},
                    {"steps_done", done},
                    {"steps_failed", failed},
                    {"last_update", last_update}});
  }
  if (probe) {  // all at once, one short try each: a stuck instrument costs the timeout, once
    std::vector<std::thread> threads;
    std::vector<json> answers(config->instruments.size());
    for (size_t i = 0; i < config->instruments.size(); ++i) {
      threads.emplace_back([&, i] {
        auto instrument = QuickInstrument(config->instruments[i], 0, probe_timeout);
        auto identity = instrument ? (*instrument)->Identify()
                                   : Result<std::string>(tl::unexpected(instrument.error()));
        answers[i] = identity ? json{{"reachable", true}, {"identity", *identity}}
                              : json{{"reachable", false}, {"error", identity.error().message}};
      });
    }
    for (auto& t : threads) t.join();
    for (size_t i = 0; i < answers.size(); ++i) list[i].update(answers[i]);
  }
  return json{{"emergency_stop", stop->active}, {"instruments", list}}.dump();
}

Result<EmergencyStopReport> EmergencyStop(const std::string& campaign_path, const std::string& who,
                                          const std::string& reason) {
  const auto t0 = std::chrono::steady_clock::now();
  // Beside a running controller: it sees the stop before its next send and sends nothing more.
  auto db = db::CampaignDb::Open(campaign_path, db::OpenMode::kOperator);
  if (!db) return tl::unexpected(db.error());
  auto config = ConfigOf(**db);  // a read: never waits for the controller's writes
  if (!config) return tl::unexpected(config.error());
  EmergencyStopReport report;
  std::vector<std::thread> threads;
  std::vector<std::string> failures(config->instruments.size());
  for (size_t i = 0; i < config->instruments.size(); ++i) {
    threads.emplace_back([&, i] {
      // Fast: a stop that cannot get through is reported.
      auto instrument = QuickInstrument(config->instruments[i], 1, 1.0);
      auto stopped =
          instrument ? (*instrument)->EmergencyStop() : Status(tl::unexpected(instrument.error()));
      if (!stopped) failures[i] = config->instruments[i].name + ": " + stopped.error().message;
    });
  }
  // The stop is recorded while the instruments are told: a file the controller keeps busy does
  // not hold up the instruments.
  auto recorded = (*db)->SetEmergencyStop(true, who, reason);
  for (auto& t : threads) t.join();
  if (!recorded) {
    report.failures.push_back("campaign file: the stop was not recorded: " +
                              recorded.error().message);
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::set<std::string> unconfirmed;  // instruments that did not confirm the stop
  for (size_t i = 0; i < failures.size(); ++i) {
    if (failures[i].empty()) {
      ++report.instruments_stopped;
    } else {
      report.failures.push_back(failures[i]);
      unconfirmed.insert(config->instruments[i].name);
    }
  }
  // What was on the instruments that stopped is aborted; what waits to be sent stays queued
  // until resume. A step on an instrument that did not confirm the stop may still be running
  // there: it stays as it is (its instrument busy), and the controller polls it after resume.
  auto active = (*db)->ListExperiments({"sent", "running"});
  if (!active) return tl::unexpected(active.error());
  for (const auto& step : *active) {
    if (unconfirmed.count(step.instrument) != 0) {
      ++report.experiments_unconfirmed;
      continue;
    }
    LABLOOP_TRY((*db)->UpdateExperiment(step.id, "aborted", "", "",
                                        "emergency stop by " + who + ": " + reason));
    LABLOOP_TRY(
        (*db)->EndExperimentJob(step.job_id, true, "emergency stop by " + who + ": " + reason));
    ++report.experiments_aborted;
  }
  LABLOOP_TRY((*db)->LogEvent(who, "emergency_stop_done",
                              json{{"instruments_stopped", report.instruments_stopped},
                                   {"failures", report.failures},
                                   {"experiments_aborted", report.experiments_aborted},
                                   {"experiments_unconfirmed", report.experiments_unconfirmed},
                                   {"seconds", report.seconds}}
                                  .dump()));
  return report;
}

Status ResumeAfterStop(const std::string& campaign_path, const std::string& who) {
  auto db = db::CampaignDb::Open(campaign_path, db::OpenMode::kReadWrite);
  if (!db) return tl::unexpected(db.error());
  auto stop = (*db)->GetEmergencyStop();
  if (!stop) return tl::unexpected(stop.error());
  if (!stop->active) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "no emergency stop is active on '" + campaign_path + "'");
  }
  auto config = ConfigOf(**db);
  if (!config) return tl::unexpected(config.error());
  // Each reset is in the audit log. If one fails, the stop stays active, and the instruments
  // already reset are stopped again: none runs while the campaign is stopped.
  std::vector<std::unique_ptr<instruments::Instrument>> reset_ones;
  for (const auto& options : config->instruments) {
    auto instrument = instruments::CreateInstrument(options);
    Status reset = instrument ? (*instrument)->Reset() : Status(tl::unexpected(instrument.error()));
    LABLOOP_TRY((*db)->LogEvent(who, "instrument_reset",
                                json{{"instrument", options.name},
                                     {"ok", static_cast<bool>(reset)},
                                     {"error", reset ? "" : reset.error().message}}
                                    .dump()));
    if (!reset) {
      std::string stopped_again;
      for (auto& done : reset_ones) {
        auto again = done->EmergencyStop();
        stopped_again += (stopped_again.empty() ? "" : ", ") + done->Name() +
                         (again ? "" : " (not confirmed: " + again.error().message + ")");
      }
      return tl::unexpected(WithContext(
          reset.error(), "resetting instrument '" + options.name + "' (the stop stays active" +
                             (stopped_again.empty() ? "" : "; stopped again: " + stopped_again) +
                             ")"));
    }
    reset_ones.push_back(std::move(*instrument));
  }
  return (*db)->SetEmergencyStop(
      false, who, "acknowledged after the stop by " + stop->actor + ": " + stop->reason);
}

}  // namespace labloop::engine
