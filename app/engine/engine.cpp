#include "app/engine/engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "app/engine/campaign_config.h"
#include "app/engine/experiments.h"
#include "app/engine/fault_injection.h"
#include "app/engine/proposals.h"
#include "core/chem/descriptors.h"
#include "core/chem/graph.h"
#include "core/chem/molecule.h"
#include "core/chem/reader.h"
#include "core/log.h"
#include "core/progress.h"
#include "db/campaign_db.h"
#include "learners/acquisition.h"
#include "learners/batch.h"
#include "learners/calibration.h"
#include "learners/cross_fit.h"
#include "learners/metrics.h"
#include "learners/objectives.h"
#include "learners/property_model.h"
#include "learners/router.h"
#include "simulators/isolated_run.h"
#include "simulators/launcher.h"
#include "simulators/simulator.h"
#include "simulators/thread_runner.h"

namespace labloop::engine {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// A job interrupted this many times (the controller died while it ran) is failed, not retried.
constexpr int kMaxJobAttempts = 3;

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

bool Better(double a, double b, learners::Direction direction) {
  return direction == learners::Direction::kMinimize ? a < b : a > b;
}

// The campaign's model and acquisition function; `seed` varies them per round.
Result<std::unique_ptr<learners::PropertyModel>> MakeModel(const CampaignConfig& config,
                                                           uint64_t seed) {
  learners::ModelRegistry models("model");
  learners::RegisterBuiltinModels(models);
  learners::ModelOptions options = config.model;
  options.seed = seed;
  auto model = models.Create(options.kind, options);
  if (!model) return tl::unexpected(WithContext(model.error(), "model"));
  return model;
}

Result<std::unique_ptr<learners::Acquisition>> MakeAcquisition(const CampaignConfig& config,
                                                               uint64_t seed) {
  learners::AcquisitionRegistry acquisitions("acquisition");
  learners::RegisterBuiltinAcquisitions(acquisitions);
  learners::AcquisitionOptions options = config.acquisition;
  options.seed = seed;
  auto acquisition = acquisitions.Create(options.kind, options);
  if (!acquisition) return tl::unexpected(WithContext(acquisition.error(), "acquisition"));
  return acquisition;
}

// Creates (untrained) the model and acquisition the config names, so that a bad device or option
// is reported at init, not rounds later when the first model is trained.
Status CheckLearners(const CampaignConfig& config) {
  LABLOOP_TRY(MakeModel(config, config.seed));
  // ehvi and desirability are multi-objective scores, checked with the config.
  if (config.objectives.size() == 1 || config.acquisition.kind == "random") {
    LABLOOP_TRY(MakeAcquisition(config, config.seed));
  }
  return {};
}

Result<std::unique_ptr<simulators::Simulator>> MakeSimulator(const CampaignConfig& config) {
  simulators::SimulatorRegistry registry("simulator");
  simulators::RegisterBuiltinSimulators(registry);
  auto simulator = registry.Create(config.simulator.kind, config.simulator);
  if (!simulator) return simulator;
  auto properties = (*simulator)->Properties();
  for (const auto& o : config.objectives) {
    if (std::find(properties.begin(), properties.end(), o.property) == properties.end()) {
      std::string list;
      for (const auto& p : properties) list += (list.empty() ? "" : ", ") + p;
      return MakeError(ErrorCode::kInvalidArgument,
                       "objective property '" + o.property + "' is not computed by simulator '" +
                           config.simulator.kind + "' (it computes: " + list + ")");
    }
  }
  return simulator;
}

// Everything a run needs in memory: the config, the pool's features, the back-ends.
class CampaignRun {
 public:
  CampaignRun(std::string path, std::unique_ptr<db::CampaignDb> db, CampaignConfig config,
              std::unique_ptr<simulators::Simulator> simulator)
      : path_(fs::absolute(path).string()),
        db_(std::move(db)),
        config_(std::move(config)),
        simulator_(std::move(simulator)) {
    db_->SetBeforeCommitHook([] { CrashPoint("ingest"); });
  }

  Status LoadPool() {
    auto candidates = db_->ListCandidates();
    if (!candidates) return tl::unexpected(candidates.error());
    features_ = learners::SparseMatrix(config_.fingerprint.size);
    for (const auto& c : *candidates) {
      auto fp = chem::SparseFingerprint::Deserialize(c.fingerprint);
      if (!fp) {
        return MakeError(ErrorCode::kFailedPrecondition,
                         "candidate " + std::to_string(c.id) +
                             " has a damaged fingerprint: " + fp.error().message);
      }
      row_of_[c.id] = static_cast<int64_t>(ids_.size());
      ids_.push_back(c.id);
      generated_in_.push_back(c.source.rfind("generator:", 0) == 0 ? c.round_added : -1);
      smiles_.push_back(c.smiles);
      features_.AddRow(fp->indices, fp->values);
    }
    // Graph models read molecular graphs, built once per run from the SMILES.
    if (learners::KindReadsGraphs(config_.model.kind)) {
      auto t0 = std::chrono::steady_clock::now();
      graphs_.reserve(smiles_.size());
      for (size_t i = 0; i < smiles_.size(); ++i) {
        auto molecule = chem::Molecule::FromSmiles(smiles_[i]);
        auto graph = molecule ? chem::BuildMolGraph(*molecule)
                              : Result<chem::MolGraph>(tl::unexpected(molecule.error()));
        if (!graph) {
          return MakeError(ErrorCode::kFailedPrecondition,
                           "candidate " + std::to_string(ids_[i]) + " (" + smiles_[i] +
                               ") has no molecular graph for " + config_.model.kind + ": " +
                               graph.error().message);
        }
        graphs_.push_back(std::move(*graph));
      }
      LogInfo("{} molecular graphs built in {:.1f} s", graphs_.size(), Seconds(t0));
    }
    // RDKit 2D descriptors beside the fingerprint, each scaled to [0, weight] over the pool.
    if (config_.descriptor_weight > 0) {
      auto t0 = std::chrono::steady_clock::now();
      const bool graph_side = learners::KindReadsGraphs(config_.model.kind);
      std::vector<std::string> names;  // for errors: "candidate 7"
      for (int64_t id : ids_) names.push_back("candidate " + std::to_string(id));
      auto rows = chem::ComputeDescriptorsBySide(smiles_, config_.descriptor_sets, graph_side,
                                                 "descriptors", names);
      if (!rows) return tl::unexpected(rows.error());
      const auto& descriptors = rows->fingerprint;
      const auto& graph_descriptors = rows->graph;
      // Scaled over the library alone: generated candidates join later, and a restart must not
      // change what every row looks like.
      auto fit = [&](const std::vector<std::vector<double>>& values) {
        std::vector<std::vector<double>> library;
        for (size_t i = 0; i < values.size(); ++i) {
          if (generated_in_[i] < 0) library.push_back(values[i]);
        }
        return chem::DescriptorScaling::Fit(library.empty() ? values : library,
                                            config_.descriptor_weight);
      };
      descriptor_scaling_ = fit(descriptors);
      std::vector<std::vector<float>> scaled(descriptors.size());
      for (size_t i = 0; i < descriptors.size(); ++i) {
        scaled[i] = descriptor_scaling_->Apply(descriptors[i]);
      }
      if (graph_side) {
        graph_descriptor_scaling_ = fit(graph_descriptors);
        for (size_t i = 0; i < graphs_.size(); ++i) {
          graphs_[i].features = graph_descriptor_scaling_->Apply(graph_descriptors[i]);
        }
      }
      fingerprints_ = features_;  // similarity (diverse batches) stays on fingerprints
      features_ = features_.AppendColumns(scaled);
      LogInfo("{} RDKit descriptors ({}) of {} candidates added to the features in {:.1f} s",
              chem::DescriptorNames(config_.descriptor_sets.fingerprint).size(),
              chem::DescriptorSetName(config_.descriptor_sets.fingerprint), smiles_.size(),
              Seconds(t0));
      if (graph_side) {
        LogInfo("the graphs read {} descriptors ({})",
                chem::DescriptorNames(config_.descriptor_sets.graph).size(),
                chem::DescriptorSetName(config_.descriptor_sets.graph));
      }
    }
    return {};
  }

  // "since TIME by WHO (REASON); labloop resume FILE --ack to go on".
  std::string EmergencyStopText() {
    auto stop = db_->GetEmergencyStop();
    if (!stop) return stop.error().message;
    return "active since " + stop->since + " by " + stop->actor + " (" + stop->reason +
           "); after checking the lab, `labloop resume " + db_->Path() + " --ack`";
  }

  Result<RunSummary> Run(const RunOptions& options) {
    stop_ = options.stop;
    RunSummary summary;
    auto stop = db_->GetEmergencyStop();
    if (!stop) return tl::unexpected(stop.error());
    if (stop->active) {
      return MakeError(ErrorCode::kFailedPrecondition, "emergency stop " + EmergencyStopText());
    }
    LABLOOP_TRY(ReattachBatches());
    // Stopped while re-attaching: a batch left unwatched still runs, and its jobs stay submitted
    // for the next run to re-attach, not requeued (they would run twice).
    if (StopRequested()) {
      summary.stop_reason = kStopped;
      return summary;
    }
    auto requeued = db_->RequeueInterruptedJobs(kMaxJobAttempts);
    if (!requeued) return tl::unexpected(requeued.error());
    if (requeued->requeued > 0) {
      LogInfo("resuming: {} interrupted jobs go back to the queue", requeued->requeued);
    }
    if (requeued->failed > 0) {
      LogWarn(
          "{} jobs were running each of the last {} times the controller died; they are "
          "marked failed",
          requeued->failed, kMaxJobAttempts);
    }
    bool generated_nothing = false;  // the last round of this run added and measured nothing
    for (;;) {
      if (StopRequested()) {
        summary.stop_reason = kStopped;
        break;
      }
      auto last = db_->LastRound();
      if (!last) return tl::unexpected(last.error());
      if (*last && (*last)->state != db::RoundState::kDone) {
        LogInfo("resuming round {} ({})", (*last)->number, db::RoundStateName((*last)->state));
        auto done =
            CompleteRound((*last)->number, (*last)->state == db::RoundState::kSelecting, summary);
        if (!done) return tl::unexpected(done.error());
        if (!*done) break;  // waiting for approval
        continue;
      }
      auto campaign = db_->Summary();
      if (!campaign) return tl::unexpected(campaign.error());
      if (campaign->evaluations_spent >= config_.max_evaluations) {
        summary.stop_reason = "budget spent";
        break;
      }
      int next_round = *last ? (*last)->number + 1 : 0;
      auto stop = StopRuleMet(next_round - 1);
      if (!stop) return tl::unexpected(stop.error());
      if (!stop->empty()) {
        summary.stop_reason = *stop;
        break;
      }
      if (config_.max_rounds > 0 && next_round >= config_.max_rounds) {
        summary.stop_reason = "campaign round limit";
        break;
      }
      if (options.max_rounds > 0 && summary.rounds_run >= options.max_rounds) {
        summary.stop_reason = "round limit of this run";
        break;
      }
      auto evaluated_ids = EvaluatedCandidates();
      if (!evaluated_ids) return tl::unexpected(evaluated_ids.error());
      // Every candidate measured: the end, unless generators add new ones each round (and the
      // last round's did).
      if (evaluated_ids->size() >= ids_.size() &&
          (config_.generators.empty() || generated_nothing)) {
        summary.stop_reason = config_.generators.empty()
                                  ? "pool exhausted"
                                  : "pool exhausted (the generators proposed nothing new)";
        break;
      }
      const int64_t evaluations_before = summary.evaluations;
      const size_t candidates_before = ids_.size();
      LABLOOP_TRY(db_->StartRound(next_round));
      auto done = CompleteRound(next_round, /*select=*/true, summary);
      if (!done) return tl::unexpected(done.error());
      if (!*done) break;  // waiting for approval
      generated_nothing =
          ids_.size() == candidates_before && summary.evaluations == evaluations_before;
    }
    return summary;
  }

 private:
  bool StopRequested() const { return stop_ != nullptr && stop_->load(); }
  static constexpr const char* kStopped = "stopped by request (the round resumes at the next run)";

  // Takes a started round to its end: selection (unless its decisions are already stored),
  // evaluation of its queued jobs, and the round marked done. Returns false, leaving the round
  // open, while some of its decisions wait for a person's approval.
  Result<bool> CompleteRound(int round, bool select, RunSummary& summary) {
    if (select) LABLOOP_TRY(SelectAndDispatch(round));
    auto evaluated = Evaluate(round);
    if (!evaluated) return tl::unexpected(evaluated.error());
    summary.evaluations += *evaluated;
    if (StopRequested()) {  // a batch may still run: the next run re-attaches it
      summary.stop_reason = kStopped;
      return false;
    }
    if (!config_.instruments.empty()) {
      ExperimentRunner experiments(*db_, config_, stop_);
      auto ended = experiments.Run();
      if (!ended) return tl::unexpected(ended.error());
      summary.evaluations += *ended;
      if (experiments.stopped()) {
        summary.stop_reason = "emergency stop: " + EmergencyStopText();
        return false;
      }
      if (StopRequested()) {  // steps out on instruments are polled again by the next run
        summary.stop_reason = kStopped;
        return false;
      }
    }
    auto pending = db_->ListPendingApprovals();
    if (!pending) return tl::unexpected(pending.error());
    if (!pending->empty()) {
      summary.awaiting_approval = static_cast<int64_t>(pending->size());
      summary.stop_reason = fmt::format(
          "waiting for approval: {} decisions of round {} (labloop approve {} --all, or labloop "
          "reject {} IDS --reason TEXT)",
          pending->size(), round, db_->Path(), db_->Path());
      return false;
    }
    LABLOOP_TRY(db_->FinishRound(round));
    ++summary.rounds_run;
    return true;
  }

  // The first constraint the candidate at `row` violates, or nothing.
  std::optional<std::string> ConstraintViolation(int64_t row) const {
    if (config_.constraints.empty()) return std::nullopt;
    auto molecule = chem::Molecule::FromSmiles(smiles_[row]);
    if (!molecule) return "cannot compute descriptors: " + molecule.error().message;
    const auto values = chem::ComputeDescriptors(*molecule);
    const auto& names = chem::DescriptorNames();
    for (const auto& constraint : config_.constraints) {
      auto at = std::find(names.begin(), names.end(), constraint.property) - names.begin();
      auto violation = constraint.Violation(values[at]);
      if (!violation.empty()) return violation;
    }
    return std::nullopt;
  }

  bool NeedsApproval(const std::string& route) const {
    const auto& routes = config_.approval_routes;
    return std::find(routes.begin(), routes.end(), route) != routes.end();
  }

  // The reason to stop after `last_round` by the config's stopping rules, or "" to go on.
  Result<std::string> StopRuleMet(int last_round) {
    if (last_round < 0 || (!config_.stop_target && config_.stop_no_improvement_rounds == 0)) {
      return std::string();
    }
    auto measurements = db_->ListMeasurements(config_.property);
    if (!measurements) return tl::unexpected(measurements.error());
    if (measurements->empty()) return std::string();
    // best_through[r]: the best value measured in rounds 0..r.
    std::vector<std::optional<double>> best_through(last_round + 1);
    const db::MeasurementRow* best = nullptr;
    for (const auto& m : *measurements) {
      if (m.round > last_round) continue;
      auto& b = best_through[m.round];
      if (!b || Better(m.value, *b, config_.direction)) b = m.value;
      if (!best || Better(m.value, best->value, config_.direction)) best = &m;
    }
    for (int r = 1; r <= last_round; ++r) {
      if (!best_through[r - 1]) continue;
      if (!best_through[r] || Better(*best_through[r - 1], *best_through[r], config_.direction)) {
        best_through[r] = best_through[r - 1];
      }
    }
    if (config_.stop_target && best &&
        !Better(*config_.stop_target, best->value, config_.direction)) {
      return fmt::format("target reached: {} = {} ({}), target {}", config_.property, best->value,
                         best->smiles, *config_.stop_target);
    }
    const int n = config_.stop_no_improvement_rounds;
    if (n > 0 && last_round >= n && best_through[last_round - n] && best_through[last_round] &&
        !Better(*best_through[last_round], *best_through[last_round - n], config_.direction)) {
      return fmt::format("no improvement for {} rounds: best {} = {} since round {}", n,
                         config_.property, *best_through[last_round], last_round - n);
    }
    return std::string();
  }

  // Candidates that already have a job, whatever its state, or that the router trusted or
  // rejected: they are not selected again.
  Result<std::set<int64_t>> EvaluatedCandidates() {
    auto jobs = db_->ListJobs({});
    if (!jobs) return tl::unexpected(jobs.error());
    std::set<int64_t> ids;
    for (const auto& j : *jobs) {
      if (j.state != db::JobState::kCancelled) ids.insert(j.candidate_id);
    }
    for (const char* route : {"trust", "reject"}) {
      auto decided = db_->CandidatesWithRoute(route);
      if (!decided) return tl::unexpected(decided.error());
      ids.insert(decided->begin(), decided->end());
    }
    auto rejected = db_->CandidatesRejectedByPeople();
    if (!rejected) return tl::unexpected(rejected.error());
    ids.insert(rejected->begin(), rejected->end());
    return ids;
  }

  Status SelectAndDispatch(int round) {
    auto start = std::chrono::steady_clock::now();
    auto evaluated = EvaluatedCandidates();
    if (!evaluated) return tl::unexpected(evaluated.error());
    auto spent = db_->Summary();
    if (!spent) return tl::unexpected(spent.error());
    std::vector<int64_t> pool_rows;
    for (size_t r = 0; r < ids_.size(); ++r) {
      if (!evaluated->count(ids_[r])) pool_rows.push_back(static_cast<int64_t>(r));
    }
    int64_t batch = round == 0 ? config_.initial_batch : config_.batch_size;
    batch = std::min<int64_t>(batch, config_.max_evaluations - spent->evaluations_spent);
    // Generators add candidates during selection; without them the pool bounds the batch.
    if (round == 0 || config_.generators.empty()) {
      batch = std::min<int64_t>(batch, static_cast<int64_t>(pool_rows.size()));
    }
    auto measurements = db_->ListMeasurements(config_.property);
    if (!measurements) return tl::unexpected(measurements.error());

    // Every objective needs enough measurements for its model; until then, rounds are random.
    int64_t fewest = static_cast<int64_t>(measurements->size());
    for (size_t k = 1; k < config_.objectives.size(); ++k) {
      auto others = db_->ListMeasurements(config_.objectives[k].property);
      if (!others) return tl::unexpected(others.error());
      fewest = std::min<int64_t>(fewest, static_cast<int64_t>(others->size()));
    }
    std::vector<db::DecisionRow> decisions;
    if (fewest < config_.min_training_points) {
      // Too little data for a model: a seeded random batch.
      std::mt19937_64 rng(config_.seed * 1000003ULL + static_cast<uint64_t>(round));
      std::shuffle(pool_rows.begin(), pool_rows.end(), rng);
      int64_t picked = 0, rejected = 0;
      // At most one rejection per slot, as in model-guided rounds.
      for (size_t i = 0; i < pool_rows.size() && picked < batch && rejected < batch; ++i) {
        db::DecisionRow d;
        d.candidate_id = ids_[pool_rows[i]];
        d.acquisition = "random";
        d.acquisition_value = 0;
        json reasons{{"why", "initial random batch"},
                     {"measurements", measurements->size()},
                     {"min_training_points", config_.min_training_points}};
        if (auto violation = ConstraintViolation(pool_rows[i])) {
          d.route = "reject";
          d.cost = 0;
          reasons["route_reason"] = "fails a constraint: " + *violation;
          ++rejected;
        } else {
          d.route = "simulate";
          d.cost = config_.router.simulation_cost;
          ++picked;
        }
        d.needs_approval = NeedsApproval(d.route);
        d.reasons_json = reasons.dump();
        decisions.push_back(std::move(d));
      }
      LogInfo(
          "round {}: {} candidates picked at random, {} rejected by constraints ({} "
          "measurements so far)",
          round, picked, rejected, measurements->size());
    } else {
      auto chosen = SelectByModel(round, *measurements, pool_rows, batch, decisions);
      if (!chosen) return chosen;
    }
    CrashPoint("dispatch");
    LABLOOP_TRY(db_->DispatchRound(round, decisions, "simulation", config_.simulator.kind,
                                   ExperimentSteps(config_)));
    LogInfo("round {}: {} decisions and jobs stored ({:.2f} s)", round, decisions.size(),
            Seconds(start));
    return {};
  }

  // One objective's model for this round: trained, stored with its predictions of the pool.
  struct RoundModel {
    int64_t model_id = 0;
    learners::Predictions predictions;  // of the pool rows
    std::optional<double> best;         // the best value measured so far
    // The fitted model and its calibrator (null: none), to predict generated molecules.
    std::shared_ptr<learners::PropertyModel> model;
    std::shared_ptr<learners::Calibrator> calibrator;
  };

  struct RoundCalibration {
    std::unique_ptr<learners::Calibrator> calibrator;  // null: none
    json record = {{"kind", "none"}};                  // stored with the model version
  };

  // The round's σ calibration ([model] calibration), fitted on predictions of measurements that
  // the predicting model did not train on: by default a model of the same kind fitted on all but
  // a seeded held-out share; with [model] calibration_folds = K, every measurement predicted
  // once, by the round's model `fitted` itself where it has exact leave-one-out predictions
  // (the GP: no more fits), else by K models each fitted without a K-th of the rows. The
  // calibrator's state is stored with the model version, and the round model's predicted σ
  // pass through it.
  Result<RoundCalibration> Calibrate(const std::vector<int64_t>& train_rows,
                                     const std::vector<double>& y, uint64_t seed,
                                     const learners::PropertyModel& fitted) {
    RoundCalibration out;
    if (config_.calibration == "none") return out;
    const size_t n = y.size();
    const int folds = config_.calibration_folds;
    const size_t held =
        folds > 0 ? n : static_cast<size_t>(std::llround(config_.calibration_fraction * n));
    const size_t kept = folds > 0 ? n - (n + folds - 1) / folds : n - held;
    if (held < 5 || kept < 2 || (folds > 0 && n < static_cast<size_t>(folds))) {
      out.record = {{"kind", "none"},
                    {"reason", "too few measurements to hold out (" + std::to_string(n) + ")"}};
      return out;
    }
    std::vector<double> check_y;
    learners::Predictions p;
    bool leave_one_out = false;
    if (folds > 0) {
      learners::ModelRegistry models("model");
      learners::RegisterBuiltinModels(models);
      learners::ModelOptions options = config_.model;
      options.seed = seed + 17;
      learners::CrossFitOptions cross;
      cross.folds = folds;
      cross.seed = seed ^ 0xca11b4a7eULL;
      auto cv = learners::OutOfSamplePredictions(
          fitted, models, options, features_.Select(train_rows),
          learners::SelectGraphs(graphs_, train_rows), y, cross, &leave_one_out);
      if (!cv) return tl::unexpected(cv.error());
      p = std::move(*cv);
      check_y = y;
    } else {
      std::vector<size_t> order(n);
      std::iota(order.begin(), order.end(), 0);
      std::mt19937_64 rng(seed ^ 0xca11b4a7eULL);
      std::shuffle(order.begin(), order.end(), rng);
      std::vector<int64_t> fit_rows, check_rows;
      std::vector<double> fit_y;
      for (size_t k = 0; k < n; ++k) {
        const size_t i = order[k];
        (k < held ? check_rows : fit_rows).push_back(train_rows[i]);
        (k < held ? check_y : fit_y).push_back(y[i]);
      }
      auto model = MakeModel(config_, seed + 17);
      if (!model) return tl::unexpected(model.error());
      LABLOOP_TRY(learners::FitOn(**model, features_.Select(fit_rows),
                                  learners::SelectGraphs(graphs_, fit_rows), fit_y));
      auto predicted = learners::PredictOn(**model, features_.Select(check_rows),
                                           learners::SelectGraphs(graphs_, check_rows));
      if (!predicted) return tl::unexpected(predicted.error());
      p = std::move(*predicted);
    }
    std::vector<double> residual(held);
    for (size_t i = 0; i < held; ++i) residual[i] = check_y[i] - p.mean[i];
    learners::CalibratorRegistry calibrators("calibration");
    learners::RegisterBuiltinCalibrators(calibrators);
    auto calibrator = calibrators.Create(config_.calibration);
    if (!calibrator) return tl::unexpected(calibrator.error());
    auto sigma = p.Sigmas();
    LABLOOP_TRY((*calibrator)->Fit(sigma, residual));
    auto before = learners::EvaluatePredictions(check_y, p.mean, sigma);
    std::vector<double> after_sigma;
    for (double s : sigma) after_sigma.push_back((*calibrator)->Apply(s));
    auto after = learners::EvaluatePredictions(check_y, p.mean, after_sigma);
    out.record = {{"kind", config_.calibration},
                  {"held_out", held},
                  {"state", json::parse((*calibrator)->Save(), nullptr, false)}};
    if (folds > 0) {
      out.record["fitted_on"] = leave_one_out ? "leave_one_out" : "cross_fit";
      if (!leave_one_out) out.record["cross_fit_folds"] = folds;
    }
    if (before && after) {
      out.record["held_out_miscalibration_area"] = {
          {"before", before->miscalibration_area}, {"after_in_sample", after->miscalibration_area}};
    }
    out.calibrator = std::move(*calibrator);
    return out;
  }

  // Calibrated total σ, split back into its parts in their original proportion.
  static void ApplyCalibration(const learners::Calibrator& calibrator, learners::Predictions& p) {
    for (size_t i = 0; i < p.size(); ++i) {
      const double total = p.Sigma(i);
      if (!(total > 0)) continue;
      const double factor = calibrator.Apply(total) / total;
      p.sigma_epistemic[i] *= factor;
      p.sigma_aleatoric[i] *= factor;
    }
  }

  // Simulations inform the model of the experimental property: once experiments exist, each
  // candidate trains on its experimental value when it has one, else on its simulated value mapped
  // onto the experimental scale by y_exp = a + b y_sim, least squares over the candidates measured
  // both ways (at least 3; the identity before that). One row per candidate, in candidate order.
  // Without experiments the rows are returned as they are. `record` receives a, b and the pairs.
  static std::vector<db::MeasurementRow> OnExperimentalScale(std::vector<db::MeasurementRow> rows,
                                                             json& record) {
    std::map<int64_t, std::vector<const db::MeasurementRow*>> experiment, simulation;
    for (const auto& m : rows)
      (m.fidelity == "experiment" ? experiment : simulation)[m.candidate_id].push_back(&m);
    if (experiment.empty()) return rows;
    auto mean = [](const std::vector<const db::MeasurementRow*>& v) {
      double sum = 0;
      for (const auto* m : v) sum += m->value;
      return sum / static_cast<double>(v.size());
    };
    std::vector<std::pair<double, double>> pairs;  // (simulated, experimental)
    for (const auto& [id, e] : experiment) {
      auto s = simulation.find(id);
      if (s != simulation.end()) pairs.emplace_back(mean(s->second), mean(e));
    }
    double a = 0, b = 1;
    if (pairs.size() >= 3) {
      double sx = 0, sy = 0, sxx = 0, sxy = 0;
      const double n = static_cast<double>(pairs.size());
      for (const auto& [x, v] : pairs) sx += x, sy += v, sxx += x * x, sxy += x * v;
      const double var = sxx - sx * sx / n;
      if (var > 1e-12) {
        b = (sxy - sx * sy / n) / var;
        a = (sy - b * sx) / n;
      } else {
        a = sy / n - sx / n;  // every simulation alike: an offset only
      }
    }
    record = {{"a", a}, {"b", b}, {"pairs", pairs.size()}, {"experiments", experiment.size()}};
    std::vector<db::MeasurementRow> out;
    std::set<int64_t> done;
    for (const auto& m : rows) {
      if (!done.insert(m.candidate_id).second) continue;
      db::MeasurementRow row = m;
      auto e = experiment.find(m.candidate_id);
      if (e != experiment.end()) {
        row = *e->second.front();
        row.value = mean(e->second);
      } else {
        row.value = a + b * mean(simulation[m.candidate_id]);
        row.fidelity = "simulation (mapped)";
      }
      out.push_back(row);
    }
    return out;
  }

  Result<RoundModel> TrainAndPredict(int round, size_t objective,
                                     const std::vector<db::MeasurementRow>& measurements,
                                     const std::vector<int64_t>& pool_rows,
                                     const learners::SparseMatrix& pool) {
    const auto& o = config_.objectives[objective];
    // Train, on measurements in candidate order: the model must not depend on the order in
    // which results happened to arrive (threads, crashes and resumes change that order).
    auto t0 = std::chrono::steady_clock::now();
    std::vector<db::MeasurementRow> sorted = measurements;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const auto& a, const auto& b) { return a.candidate_id < b.candidate_id; });
    RoundModel out;
    json fidelity_map = json::object();
    sorted = OnExperimentalScale(std::move(sorted), fidelity_map);
    std::vector<int64_t> train_rows;
    std::vector<double> y;
    for (const auto& m : sorted) {
      auto it = row_of_.find(m.candidate_id);
      if (it == row_of_.end()) continue;
      train_rows.push_back(it->second);
      y.push_back(m.value);
      if (!out.best || Better(m.value, *out.best, o.direction)) out.best = m.value;
    }
    if (y.size() < 2) {
      return MakeError(ErrorCode::kFailedPrecondition, "round " + std::to_string(round) +
                                                           ": fewer than 2 measurements of '" +
                                                           o.property + "' to train its model on");
    }
    uint64_t seed = config_.seed * 7919ULL + static_cast<uint64_t>(round) + 1000003ULL * objective;
    CrashPoint("training");  // as training starts: nothing of this round's model is stored
    auto model = MakeModel(config_, seed);
    if (!model) return tl::unexpected(model.error());
    const auto train_features = features_.Select(train_rows);
    const auto train_graphs = learners::SelectGraphs(graphs_, train_rows);
    LABLOOP_TRY(learners::FitOn(**model, train_features, train_graphs, y));
    auto fit_seconds = Seconds(t0);
    auto t_calibration = std::chrono::steady_clock::now();
    auto calibration = Calibrate(train_rows, y, seed, **model);
    if (!calibration) return tl::unexpected(calibration.error());
    auto calibration_seconds = Seconds(t_calibration);
    CrashPoint("train");
    auto train_predictions = (*model)->ReadsGraphs()
                                 ? (*model)->PredictGraphsMean(train_features, train_graphs)
                                 : (*model)->PredictMean(train_features);
    if (!train_predictions) return tl::unexpected(train_predictions.error());
    double train_rmse = learners::Rmse(train_predictions->mean, y);
    auto weights = (*model)->Save();
    if (!weights) return tl::unexpected(weights.error());
    db::ModelRow row;
    row.round = round;
    row.kind = (*model)->Kind();
    row.property = o.property;
    row.training_size = static_cast<int64_t>(y.size());
    row.metrics_json = json{
        {"train_rmse", train_rmse},
        {"fit_seconds", fit_seconds},
        {"calibration_seconds", calibration_seconds},
        {"fit", json::parse((*model)->FitReport(), nullptr, false)},
        {"calibration", calibration->record},
        {"fidelity_map",
         fidelity_map}}.dump();
    row.weights = *weights;
    auto model_id = db_->StoreModel(row);
    if (!model_id) return tl::unexpected(model_id.error());
    out.model_id = *model_id;

    auto t1 = std::chrono::steady_clock::now();
    auto predictions =
        learners::PredictOn(**model, pool, learners::SelectGraphs(graphs_, pool_rows));
    if (!predictions) return tl::unexpected(predictions.error());
    if (calibration->calibrator) ApplyCalibration(*calibration->calibrator, *predictions);
    std::vector<db::PredictionRow> rows(pool_rows.size());
    for (size_t i = 0; i < pool_rows.size(); ++i) {
      rows[i] = {ids_[pool_rows[i]], predictions->mean[i], predictions->Sigma(i),
                 predictions->sigma_epistemic[i], predictions->sigma_aleatoric[i]};
    }
    LABLOOP_TRY(db_->StorePredictions(*model_id, rows));
    LogInfo(
        "round {}: {} model {} trained on {} points in {:.2f} s (train rmse {:.3f}); {} "
        "predicted in {:.2f} s",
        round, o.property, *model_id, y.size(), fit_seconds, train_rmse, pool_rows.size(),
        Seconds(t1));
    out.predictions = std::move(*predictions);
    out.model = std::move(*model);
    out.calibrator = std::move(calibration->calibrator);
    return out;
  }

  // Scores for several objectives: the measured Pareto front (candidates with every property),
  // a reference point (the config's, or just worse than the worst measured value), then EHVI or
  // expected desirability.
  Result<std::vector<double>> MultiObjectiveScores(int round,
                                                   const std::vector<RoundModel>& models) {
    const auto& objectives = config_.objectives;
    std::map<int64_t, std::vector<double>> measured;  // candidate -> values (NaN: missing)
    for (size_t k = 0; k < objectives.size(); ++k) {
      auto rows = db_->ListMeasurements(objectives[k].property);
      if (!rows) return tl::unexpected(rows.error());
      for (const auto& m : *rows) {
        auto& v = measured[m.candidate_id];
        v.resize(objectives.size(), std::nan(""));
        v[k] = m.value;
      }
    }
    std::vector<std::vector<double>> points;
    for (const auto& [id, v] : measured) {
      if (std::none_of(v.begin(), v.end(), [](double x) { return std::isnan(x); })) {
        points.push_back(v);
      }
    }
    std::vector<double> reference = config_.hv_reference;
    if (reference.empty()) {
      // Just beyond the worst value measured of each objective (complete candidates or not).
      for (size_t k = 0; k < objectives.size(); ++k) {
        double lo = std::numeric_limits<double>::infinity(), hi = -lo;
        for (const auto& [id, v] : measured) {
          if (!std::isnan(v[k])) lo = std::min(lo, v[k]), hi = std::max(hi, v[k]);
        }
        double margin = 0.1 * std::max(hi - lo, 1e-9);
        reference.push_back(
            objectives[k].direction == learners::Direction::kMinimize ? hi + margin : lo - margin);
      }
    }
    std::vector<std::vector<double>> front;
    auto ranks = learners::ParetoRanks(points, objectives);
    for (size_t i = 0; i < points.size(); ++i) {
      if (ranks[i] == 0) front.push_back(points[i]);
    }
    std::vector<learners::Predictions> predictions;
    for (const auto& m : models) predictions.push_back(m.predictions);
    LogInfo("round {}: {} on a Pareto front of {} of {} fully measured candidates", round,
            config_.acquisition.kind, front.size(), points.size());
    return learners::ScoreMultiObjective(config_.acquisition.kind, predictions, objectives, front,
                                         reference, config_.acquisition_samples,
                                         config_.seed * 104729ULL + static_cast<uint64_t>(round));
  }

  Status SelectByModel(int round, const std::vector<db::MeasurementRow>& measurements,
                       std::vector<int64_t> pool_rows, int64_t batch,
                       std::vector<db::DecisionRow>& decisions) {
    learners::SparseMatrix pool = features_.Select(pool_rows);
    // Every objective's model; the primary's is stored last, so the latest model of a round
    // (what export shows) predicts the primary objective.
    const size_t objectives = config_.objectives.size();
    std::vector<RoundModel> models(objectives);
    for (size_t step = 0; step < objectives; ++step) {
      const size_t k = (step + 1) % objectives;
      std::vector<db::MeasurementRow> rows;
      if (k == 0) {
        rows = measurements;
      } else {
        auto listed = db_->ListMeasurements(config_.objectives[k].property);
        if (!listed) return tl::unexpected(listed.error());
        rows = std::move(*listed);
      }
      auto trained = TrainAndPredict(round, k, rows, pool_rows, pool);
      if (!trained) return tl::unexpected(trained.error());
      models[k] = std::move(*trained);
    }
    const learners::Predictions* predictions = &models[0].predictions;
    const int64_t model_id = models[0].model_id;
    const double best = *models[0].best;

    // Acquire.
    std::string acquisition_kind = config_.acquisition.kind;
    Acquire acquire = [&](const std::vector<RoundModel>& m) -> Result<std::vector<double>> {
      if (objectives > 1 && acquisition_kind != "random") return MultiObjectiveScores(round, m);
      auto acquisition =
          MakeAcquisition(config_, config_.seed * 104729ULL + static_cast<uint64_t>(round));
      if (!acquisition) return tl::unexpected(acquisition.error());
      acquisition_kind = (*acquisition)->Kind();
      return (*acquisition)->Score(m[0].predictions, config_.direction, best);
    };
    auto acquired = acquire(models);
    if (!acquired) return tl::unexpected(acquired.error());
    std::vector<double> scores = std::move(*acquired);
    // Generated candidates join the pool, predicted and scored by this round's models.
    if (!config_.generators.empty()) {
      LABLOOP_TRY(ProposeCandidates(round, acquire, models, scores, pool_rows));
      pool = features_.Select(pool_rows);
      predictions = &models[0].predictions;
    }
    // With trust enabled, look at twice the batch: trusted picks leave their simulation to the
    // next candidates, and the router stops dispatching once `batch` simulations are out.
    // Constraints likewise: a rejected pick leaves its slot to the next one.
    const bool widen = config_.router.trust_sigma > 0 || !config_.constraints.empty();
    auto picked = learners::SelectBatch(
        scores, config_.descriptor_weight > 0 ? fingerprints_.Select(pool_rows) : pool,
        widen ? 2 * batch : batch, config_.batch_selection);
    if (!picked) return tl::unexpected(picked.error());
    const auto& top = picked->rows;
    learners::RouterOptions router = config_.router;
    router.simulations_left = batch;
    if (router.experiments_left > 0) {
      LABLOOP_TRY(ConfirmByExperiment(round, models, acquire, router, decisions));
    }
    std::vector<learners::RouteInput> inputs;
    for (int64_t i : top) {
      inputs.push_back({predictions->mean[i], predictions->Sigma(i), scores[i], std::nullopt,
                        ConstraintViolation(pool_rows[i])});
    }
    auto routes = learners::RouteCandidates(inputs, router);
    int64_t trusted = 0, rejected = 0;
    for (size_t rank = 0; rank < top.size(); ++rank) {
      int64_t i = top[rank];
      const auto& route = routes[rank];
      if (route.route == learners::Route::kNone) continue;  // not dispatched: no decision
      if (route.route == learners::Route::kTrust) ++trusted;
      if (route.route == learners::Route::kReject) ++rejected;
      db::DecisionRow d;
      d.candidate_id = ids_[pool_rows[i]];
      d.route = learners::RouteName(route.route);
      d.cost = route.route == learners::Route::kSimulate     ? config_.router.simulation_cost
               : route.route == learners::Route::kExperiment ? config_.router.experiment_cost
                                                             : 0.0;
      d.needs_approval = NeedsApproval(d.route);
      d.acquisition = acquisition_kind;
      d.acquisition_value = scores[i];
      d.mean = predictions->mean[i];
      d.sigma = predictions->Sigma(i);
      json per_objective = json::object();
      for (size_t k = 1; k < objectives; ++k) {
        per_objective[config_.objectives[k].property] = {{"mean", models[k].predictions.mean[i]},
                                                         {"sigma", models[k].predictions.Sigma(i)}};
      }
      d.reasons_json =
          json{{"rank", rank + 1},
               {"other_objectives", per_objective},
               {"model_id", model_id},
               {"mean", predictions->mean[i]},
               {"sigma_epistemic", predictions->sigma_epistemic[i]},
               {"sigma_aleatoric", predictions->sigma_aleatoric[i]},
               {"acquisition", acquisition_kind},
               {"batch_selection", config_.batch_selection.kind},
               {"taken_for_score_alone",
                static_cast<int64_t>(rank) >= static_cast<int64_t>(top.size()) - picked->filled},
               {"best_so_far", best},
               {"route_reason", route.reason},
               {"gain_per_cost", route.gain_per_cost}}
              .dump();
      decisions.push_back(std::move(d));
    }
    LogInfo("round {}: {} decisions by {} / {}: {} trusted, {} rejected, the rest evaluated", round,
            decisions.size(), acquisition_kind, config_.batch_selection.kind, trusted, rejected);
    return {};
  }

  using Acquire = std::function<Result<std::vector<double>>(const std::vector<RoundModel>&)>;

  // Candidates a simulation measured and no experiment has yet: the router sends finalists (the
  // best by acquisition) and those whose simulation disagrees with the model to the lab, using
  // the round's experiment budget first (what is left goes to the batch).
  Status ConfirmByExperiment(int round, const std::vector<RoundModel>& models,
                             const Acquire& acquire, learners::RouterOptions& router,
                             std::vector<db::DecisionRow>& decisions) {
    auto jobs = db_->ListJobs({});
    if (!jobs) return tl::unexpected(jobs.error());
    std::set<int64_t> in_lab;
    std::map<int64_t, int64_t> simulation_job;  // job id -> candidate
    for (const auto& j : *jobs) {
      if (j.kind == "experiment" && j.state != db::JobState::kCancelled) {
        in_lab.insert(j.candidate_id);
      }
      if (j.kind != "experiment" && j.state == db::JobState::kDone) {
        simulation_job[j.id] = j.candidate_id;
      }
    }
    auto measured = db_->ListMeasurements(config_.property);
    if (!measured) return tl::unexpected(measured.error());
    std::map<int64_t, double> simulated;  // candidate -> simulated value
    for (const auto& m : *measured) {
      auto it = simulation_job.find(m.job_id);
      if (it != simulation_job.end() && !in_lab.count(it->second)) simulated[it->second] = m.value;
    }
    if (simulated.empty()) return {};
    std::vector<int64_t> ids, rows;
    for (const auto& [id, value] : simulated) {
      auto row = row_of_.find(id);
      if (row == row_of_.end()) continue;
      ids.push_back(id);
      rows.push_back(row->second);
    }
    std::vector<RoundModel> predicted(models.size());
    for (size_t k = 0; k < models.size(); ++k) {
      auto p = learners::PredictOn(*models[k].model, features_.Select(rows),
                                   learners::SelectGraphs(graphs_, rows));
      if (!p) return tl::unexpected(p.error());
      if (models[k].calibrator) ApplyCalibration(*models[k].calibrator, *p);
      predicted[k] = {models[k].model_id, std::move(*p), models[k].best, nullptr, nullptr};
    }
    auto scores = acquire(predicted);
    if (!scores) return tl::unexpected(scores.error());
    std::vector<learners::RouteInput> inputs;
    const auto& p = predicted[0].predictions;
    for (size_t i = 0; i < ids.size(); ++i) {
      inputs.push_back({p.mean[i], p.Sigma(i), (*scores)[i], simulated[ids[i]], std::nullopt});
    }
    learners::RouterOptions confirm = router;
    confirm.simulations_left = 0;
    confirm.trust_sigma = 0;
    auto routes = learners::RouteCandidates(inputs, confirm);
    for (size_t i = 0; i < ids.size(); ++i) {
      if (routes[i].route != learners::Route::kExperiment) continue;
      db::DecisionRow d;
      d.candidate_id = ids[i];
      d.route = "experiment";
      d.cost = config_.router.experiment_cost;
      d.needs_approval = NeedsApproval(d.route);
      d.acquisition = config_.acquisition.kind;
      d.acquisition_value = (*scores)[i];
      d.mean = p.mean[i];
      d.sigma = p.Sigma(i);
      d.reasons_json = json{{"why", "confirm a simulated candidate in the lab"},
                            {"simulated", simulated[ids[i]]},
                            {"model_id", predicted[0].model_id},
                            {"route_reason", routes[i].reason},
                            {"gain_per_cost", routes[i].gain_per_cost}}
                           .dump();
      decisions.push_back(std::move(d));
      --router.experiments_left;
    }
    LogInfo("round {}: {} simulated candidates sent to the lab to confirm", round,
            decisions.size());
    return {};
  }

  // Features of molecules that are not candidates yet, the way LoadPool builds them: rows of the
  // fingerprint (+ scaled descriptors) and graphs for graph models. `ok[i]` is false for a
  // SMILES that does not parse or has no graph.
  struct Featurized {
    learners::SparseMatrix features, fingerprints;
    std::vector<chem::MolGraph> graphs;
    std::vector<bool> ok;
  };
  Featurized Featurize(const std::vector<std::string>& smiles) const {
    Featurized f;
    f.fingerprints = learners::SparseMatrix(config_.fingerprint.size);
    const bool graphs = learners::KindReadsGraphs(config_.model.kind);
    std::vector<std::string> usable;  // the SMILES of the rows that are ok, for their descriptors
    for (const auto& s : smiles) {
      auto molecule = chem::Molecule::FromSmiles(s);
      Result<chem::MolGraph> graph = MakeError(ErrorCode::kInvalidArgument, "no graph");
      if (molecule && graphs) graph = chem::BuildMolGraph(*molecule);
      const bool ok = molecule && (!graphs || graph);
      f.ok.push_back(ok);
      if (!ok) {  // a placeholder row, never used, shaped like the others (descriptors below)
        f.fingerprints.AddRow(std::vector<uint32_t>{}, {});
        if (graphs) f.graphs.emplace_back();
        continue;
      }
      auto fp = chem::MorganFingerprint(*molecule, config_.fingerprint);
      f.fingerprints.AddRow(fp.indices, fp.values);
      if (graphs) f.graphs.push_back(std::move(*graph));
      usable.push_back(s);
    }
    if (!descriptor_scaling_) {
      f.features = f.fingerprints;
      return f;
    }
    // On every core, as LoadPool: RDKit's 206 take 1.7 ms a molecule.
    const bool graph_side = graphs && graph_descriptor_scaling_;
    // A molecule without descriptors is left out alone, named in the log; the others go on.
    std::vector<std::string> failures;
    auto values = chem::ComputeDescriptorsBySide(usable, config_.descriptor_sets, graph_side,
                                                 "descriptors", {}, &failures);
    if (!values) {
      LogWarn("no descriptors for {} new molecules, left out: {}", usable.size(),
              values.error().message);
    }
    auto zeros = [](const chem::DescriptorScaling& scaling) {
      return scaling.Apply(std::vector<double>(scaling.min.size(), 0.0));
    };
    std::vector<std::vector<float>> descriptors;
    size_t k = 0;  // the row's place in `usable`
    for (size_t i = 0; i < smiles.size(); ++i) {
      const bool had_row = f.ok[i];
      if (had_row && (!values || !failures[k].empty())) {
        if (values) LogWarn("left out: {}", failures[k]);
        f.ok[i] = false;
      }
      const bool ok = f.ok[i];
      descriptors.push_back(ok ? descriptor_scaling_->Apply(values->fingerprint[k])
                               : zeros(*descriptor_scaling_));
      if (graph_side) {
        f.graphs[i].features = ok ? graph_descriptor_scaling_->Apply(values->graph[k])
                                  : zeros(*graph_descriptor_scaling_);
      }
      if (had_row) ++k;
    }
    f.features = f.fingerprints.AppendColumns(descriptors);
    return f;
  }

  // Every objective's (calibrated) predictions of featurized molecules.
  Result<std::vector<RoundModel>> PredictNew(const std::vector<RoundModel>& models,
                                             const Featurized& f) const {
    std::vector<RoundModel> out(models.size());
    for (size_t k = 0; k < models.size(); ++k) {
      auto p = learners::PredictOn(*models[k].model, f.features, f.graphs);
      if (!p) return tl::unexpected(p.error());
      if (models[k].calibrator) ApplyCalibration(*models[k].calibrator, *p);
      out[k].model_id = models[k].model_id;
      out[k].best = models[k].best;
      out[k].predictions = std::move(*p);
    }
    return out;
  }

  // Runs the campaign's generators with the acquisition value as fitness (as a percentile of the
  // pool's values, so 1 beats every library candidate), stores what passes the filters as new
  // candidates and what fails as rejected inputs, and appends the new candidates to the pool
  // rows, the models' predictions (stored too) and the scores.
  Status ProposeCandidates(int round, const Acquire& acquire, std::vector<RoundModel>& models,
                           std::vector<double>& scores, std::vector<int64_t>& pool_rows) {
    auto t0 = std::chrono::steady_clock::now();
    // A round resumed after its generated candidates were stored does not generate again: they
    // are in the pool already (LoadPool), and the same round must not propose twice.
    auto generated = db_->GeneratedIn(round);
    if (!generated) return tl::unexpected(generated.error());
    if (*generated ||
        std::find(generated_in_.begin(), generated_in_.end(), round) != generated_in_.end()) {
      LogInfo("round {}: generated candidates already stored (a resumed round)", round);
      return {};
    }
    std::vector<double> sorted = scores;
    std::sort(sorted.begin(), sorted.end());
    generators::Fitness fitness =
        [&](const std::vector<std::string>& smiles) -> Result<std::vector<double>> {
      if (smiles.empty()) return std::vector<double>();
      const Featurized f = Featurize(smiles);
      auto predicted = PredictNew(models, f);
      if (!predicted) return tl::unexpected(predicted.error());
      auto values = acquire(*predicted);
      if (!values) return tl::unexpected(values.error());
      std::vector<double> out(smiles.size(), 0.0);
      for (size_t i = 0; i < smiles.size(); ++i) {
        if (!f.ok[i] || !std::isfinite((*values)[i]) || sorted.empty()) continue;
        out[i] = static_cast<double>(std::upper_bound(sorted.begin(), sorted.end(), (*values)[i]) -
                                     sorted.begin()) /
                 static_cast<double>(sorted.size());
      }
      return out;
    };
    // graph_ga starts from the best-scored candidates of the pool.
    std::vector<size_t> order(scores.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return scores[a] > scores[b]; });
    std::vector<std::string> seeds;
    for (size_t i = 0; i < order.size() && seeds.size() < 1000; ++i) {
      seeds.push_back(smiles_[pool_rows[order[i]]]);
    }
    // Once the pool is all measured (graph_ga needs two parents), the best measured molecules
    // seed it instead.
    if (seeds.size() < 2) {
      const auto& o = config_.objectives[0];
      auto measured = db_->ListMeasurements(o.property);
      if (!measured) return tl::unexpected(measured.error());
      std::vector<std::pair<double, int64_t>> best;  // (value, row)
      std::set<int64_t> seen;
      for (const auto& m : *measured) {
        auto row = row_of_.find(m.candidate_id);
        if (row != row_of_.end() && seen.insert(row->second).second) {
          best.emplace_back(m.value, row->second);
        }
      }
      std::sort(best.begin(), best.end(), [&](const auto& a, const auto& b) {
        return Better(a.first, b.first, o.direction);
      });
      for (size_t i = 0; i < best.size() && seeds.size() < 100; ++i) {
        seeds.push_back(smiles_[best[i].second]);
      }
    }
    auto proposed = ProposeForRound(config_, round, fitness, seeds);
    if (!proposed) return tl::unexpected(proposed.error());
    // A molecule the models cannot read (no molecular graph for a graph model) is no candidate.
    {
      std::vector<std::string> all;
      for (const auto& c : proposed->candidates) all.push_back(c.smiles);
      const Featurized check = Featurize(all);
      std::vector<db::NewCandidate> readable;
      for (size_t i = 0; i < all.size(); ++i) {
        if (check.ok[i]) {
          readable.push_back(std::move(proposed->candidates[i]));
        } else {
          proposed->rejected.push_back({proposed->candidates[i].source,
                                        "round " + std::to_string(round), "", all[i],
                                        "no molecular graph for " + config_.model.kind});
        }
      }
      proposed->candidates = std::move(readable);
    }
    // Candidates, rejects and the event in one transaction: a kill leaves all or none.
    auto added = db_->AddGeneratedCandidates(
        round, proposed->candidates, proposed->rejected, [&](const db::AddCandidatesResult& a) {
          return json{{"round", round},
                      {"proposed", proposed->candidates.size() + proposed->rejected.size()},
                      {"failed_filters", proposed->rejected.size()},
                      {"already_candidates", a.duplicates},
                      {"added", a.added},
                      {"generators", proposed->reports}}
              .dump();
        });
    if (!added) return tl::unexpected(added.error());
    CrashPoint("generated");

    // The new candidates become pool rows.
    std::vector<std::string> new_smiles;
    std::vector<int64_t> new_ids;
    for (size_t i = 0; i < proposed->candidates.size(); ++i) {
      if (added->ids[i] == 0) continue;  // already a candidate
      new_smiles.push_back(proposed->candidates[i].smiles);
      new_ids.push_back(added->ids[i]);
    }
    if (new_ids.empty()) {
      LogInfo(
          "round {}: no new generated candidates ({} failed the filters, {} were already "
          "candidates)",
          round, proposed->rejected.size(), added->duplicates);
      return {};
    }
    const Featurized f = Featurize(new_smiles);
    auto predicted = PredictNew(models, f);
    if (!predicted) return tl::unexpected(predicted.error());
    auto new_scores = acquire(*predicted);
    if (!new_scores) return tl::unexpected(new_scores.error());
    for (size_t i = 0; i < new_ids.size(); ++i) {
      const int64_t row = static_cast<int64_t>(ids_.size());
      row_of_[new_ids[i]] = row;
      ids_.push_back(new_ids[i]);
      generated_in_.push_back(round);
      smiles_.push_back(new_smiles[i]);
      auto take = [&](learners::SparseMatrix& to, const learners::SparseMatrix& from) {
        to.AddRow(std::vector<int64_t>(from.indices.begin() + from.offsets[i],
                                       from.indices.begin() + from.offsets[i + 1]),
                  std::vector<float>(from.values.begin() + from.offsets[i],
                                     from.values.begin() + from.offsets[i + 1]));
      };
      take(features_, f.features);
      if (descriptor_scaling_) take(fingerprints_, f.fingerprints);
      if (!f.graphs.empty()) graphs_.push_back(f.graphs[i]);
      pool_rows.push_back(row);
      scores.push_back((*new_scores)[i]);
    }
    for (size_t k = 0; k < models.size(); ++k) {
      auto& to = models[k].predictions;
      const auto& from = (*predicted)[k].predictions;
      std::vector<db::PredictionRow> rows;
      for (size_t i = 0; i < new_ids.size(); ++i) {
        to.mean.push_back(from.mean[i]);
        to.sigma_epistemic.push_back(from.sigma_epistemic[i]);
        to.sigma_aleatoric.push_back(from.sigma_aleatoric[i]);
        rows.push_back({new_ids[i], from.mean[i], from.Sigma(i), from.sigma_epistemic[i],
                        from.sigma_aleatoric[i]});
      }
      for (size_t m = 0; m < to.member_means.size() && m < from.member_means.size(); ++m) {
        to.member_means[m].insert(to.member_means[m].end(), from.member_means[m].begin(),
                                  from.member_means[m].end());
      }
      LABLOOP_TRY(db_->StorePredictions(models[k].model_id, rows));
    }
    LogInfo(
        "round {}: {} generated candidates added ({} failed the filters, {} were already "
        "candidates) in {:.1f} s",
        round, new_ids.size(), proposed->rejected.size(), added->duplicates, Seconds(t0));
    return {};
  }

  // The queued jobs that may run (their decision needs no approval, or has it).
  Result<std::vector<db::JobRow>> RunnableJobs() {
    auto jobs = db_->ListJobs({db::JobState::kQueued});
    if (!jobs) return tl::unexpected(jobs.error());
    // Experiment jobs run on instruments (ExperimentRunner), not on the simulator.
    jobs->erase(std::remove_if(jobs->begin(), jobs->end(),
                               [](const db::JobRow& j) {
                                 return j.awaiting_approval || j.kind == "experiment";
                               }),
                jobs->end());
    return jobs;
  }

  static db::JobOutcome OutcomeOf(const simulators::TaskResult& result) {
    db::JobOutcome outcome;
    outcome.job_id = result.id;
    if (result.summary) {
      outcome.ok = true;
      outcome.fidelity = result.summary->fidelity;
      outcome.raw_json = result.summary->raw_json;
      for (const auto& [name, value] : result.summary->properties) {
        outcome.values.push_back({name, value, std::nullopt});
      }
    } else {
      outcome.error = result.summary.error().ToString();
    }
    return outcome;
  }

  // --- batches: labloop-sim under mpirun or Slurm (launcher.h) ---

  std::string BatchDir(const std::string& name) const { return path_ + ".batches/" + name; }

  // Runs the queued jobs as batches until none is left: each batch is written, its jobs marked
  // submitted with the batch's reference, then started and watched. Tasks a batch ended without
  // go back to the queue and form the next batch (up to kMaxJobAttempts tries each).
  Result<int64_t> EvaluateInBatches(int round) {
    auto launcher = simulators::CreateLauncher(config_.launcher);
    if (!launcher) return tl::unexpected(launcher.error());
    int64_t ingested = 0;
    for (;;) {
      auto jobs = RunnableJobs();
      if (!jobs) return tl::unexpected(jobs.error());
      if (jobs->empty()) break;
      std::vector<simulators::Task> tasks;
      std::vector<int64_t> ids;
      for (const auto& j : *jobs) {
        tasks.push_back({j.id, j.smiles});
        ids.push_back(j.id);
      }
      simulators::BatchRef ref{config_.launcher.kind, "-",
                               fmt::format("round-{:04d}-job-{}-try-{}", round, jobs->front().id,
                                           jobs->front().attempts + 1)};
      const std::string dir = BatchDir(ref.name);
      LABLOOP_TRY(simulators::WriteBatch(dir, tasks, config_.simulator, config_.launcher,
                                         "labloop-" + ref.name));
      // Stored before it starts: a controller killed right after Submit finds the batch by its
      // folder (Launcher::Find) instead of starting it twice.
      LABLOOP_TRY(db_->MarkJobsSubmitted(ids, simulators::FormatBatchRef(ref)));
      auto handle = (*launcher)->Submit(dir);
      if (!handle) {
        // sbatch may have timed out after Slurm took the job: adopt it if it is there.
        auto found = (*launcher)->Find(dir);
        if (found && *found) {
          handle = **found;
        } else {
          LABLOOP_TRY(db_->RequeueJobs(ids, kMaxJobAttempts,
                                       "could not submit the batch: " + handle.error().message));
          return tl::unexpected(WithContext(handle.error(), "submitting batch " + ref.name));
        }
      }
      ref.handle = *handle;
      auto owned = db_->SetExternalId(ids, simulators::FormatBatchRef(ref));
      if (!owned) return tl::unexpected(owned.error());
      if (*owned == 0) {  // `labloop cancel` cancelled these jobs meanwhile: stop the batch too
        LogWarn("the jobs of batch {} were cancelled as it started: stopping it", ref.name);
        LABLOOP_TRY((*launcher)->Cancel(ref.handle, dir));
        continue;
      }
      LogInfo("round {}: {} tasks submitted to {} as {} (batch {})", round, ids.size(), ref.kind,
              ref.handle, dir);
      auto watched = WatchBatch(launcher->get(), ref, ids);
      if (!watched) return watched;
      ingested += *watched;
    }
    return ingested;
  }

  // Follows a batch until it ends, ingesting each result as labloop-sim appends it. Its jobs still
  // without a result at the end go back to the queue, with the batch's fate as the reason. No
  // launcher: the batch's process is gone; what it wrote is ingested, the rest requeued.
  Result<int64_t> WatchBatch(simulators::Launcher* launcher, const simulators::BatchRef& ref,
                             const std::vector<int64_t>& job_ids) {
    const std::string dir = BatchDir(ref.name);
    std::set<int64_t> waiting(job_ids.begin(), job_ids.end());
    Progress progress(ref.kind + " batch " + ref.name, static_cast<int64_t>(job_ids.size()));
    int64_t offset = 0, ingested = 0, failed = 0;
    auto drain = [&]() -> Status {
      auto results = simulators::ReadBatchResults(dir, offset);
      if (!results) return tl::unexpected(results.error());
      for (const auto& r : *results) {
        if (waiting.erase(r.id) == 0) continue;  // done before a restart, or not this batch's
        CrashPoint("evaluate");
        if (!r.summary) ++failed;
        LABLOOP_TRY(db_->IngestOutcome(OutcomeOf(r)));
        ++ingested;
        progress.Advance();
      }
      return {};
    };
    std::string ending;
    std::optional<std::chrono::steady_clock::time_point> all_in;
    for (;;) {
      LABLOOP_TRY(drain());
      if (StopRequested() && !waiting.empty()) {
        // Left running, its jobs submitted: the next run re-attaches it (ReattachBatches).
        LogInfo("batch {}: stopped watching on request; {} results to come", ref.name,
                waiting.size());
        return ingested;
      }
      auto status = launcher != nullptr
                        ? launcher->Poll(ref.handle, dir)
                        : Result<simulators::BatchStatus>(simulators::BatchStatus{
                              simulators::BatchState::kFailed, "its process was not found"});
      if (!status) return tl::unexpected(WithContext(status.error(), "watching " + ref.name));
      if (status->state == simulators::BatchState::kFinished ||
          status->state == simulators::BatchState::kFailed) {
        LABLOOP_TRY(drain());  // what it wrote just before it ended
        ending = status->detail;
        if (status->state == simulators::BatchState::kFailed && !waiting.empty() &&
            launcher != nullptr) {
          // Declared failed, maybe still alive somewhere: stop it before its tasks run again.
          if (auto stopped = launcher->Cancel(ref.handle, dir); !stopped) {
            LogWarn("batch {}: {}", ref.name, stopped.error().message);
          }
        }
        break;
      }
      // Every result is in: the batch is only shutting down. Give it a minute to end (and be
      // reaped), then go on without it.
      if (waiting.empty()) {
        if (!all_in) all_in = std::chrono::steady_clock::now();
        if (Seconds(*all_in) > 60) {
          ending = "all results in";
          if (launcher != nullptr) {  // what is left of it goes, and is reaped
            if (auto stopped = launcher->Cancel(ref.handle, dir); !stopped) {
              LogWarn("batch {}: {}", ref.name, stopped.error().message);
            }
          }
          break;
        }
      }
      std::this_thread::sleep_for(std::chrono::duration<double>(config_.launcher.poll_seconds));
    }
    progress.Finish();
    LogInfo("batch {}: {} results ingested ({} failed); {}", ref.name, ingested, failed, ending);
    if (!waiting.empty()) {
      std::vector<int64_t> rest(waiting.begin(), waiting.end());
      auto requeued = db_->RequeueJobs(
          rest, kMaxJobAttempts, "batch " + ref.name + " ended without its result: " + ending);
      if (!requeued) return tl::unexpected(requeued.error());
      LogWarn("batch {} ended ({}) without {} results: {} go back to the queue, {} failed",
              ref.name, ending, rest.size(), requeued->requeued, requeued->failed);
    }
    return ingested;
  }

  // After a restart: batches whose jobs are still submitted are watched again where they are
  // (still running under Slurm or mpirun, or finished while no controller looked), so nothing is
  // computed or ingested twice.
  Status ReattachBatches() {
    auto jobs = db_->ListJobs({db::JobState::kSubmitted, db::JobState::kRunning});
    if (!jobs) return tl::unexpected(jobs.error());
    std::map<std::string, std::vector<int64_t>> batches;
    for (const auto& j : *jobs) {
      if (simulators::ParseBatchRef(j.external_id)) batches[j.external_id].push_back(j.id);
    }
    for (const auto& [external_id, ids] : batches) {
      auto ref = *simulators::ParseBatchRef(external_id);
      auto options = config_.launcher;
      options.kind = ref.kind;
      auto launcher = simulators::CreateLauncher(options);
      if (!launcher) {
        LogWarn("cannot re-attach to {} batch {}: {}; its {} jobs go back to the queue", ref.kind,
                ref.name, launcher.error().message, ids.size());
        continue;  // RequeueInterruptedJobs takes them
      }
      if (ref.handle == "-") {  // killed between starting the batch and storing its handle
        auto found = (*launcher)->Find(BatchDir(ref.name));
        if (!found) return tl::unexpected(found.error());
        ref.handle = found->value_or("-");
      }
      LogInfo("resuming: re-attaching to {} batch {} ({} jobs)", ref.kind, ref.name, ids.size());
      auto watched = WatchBatch(ref.handle == "-" ? nullptr : launcher->get(), ref, ids);
      if (!watched) return tl::unexpected(watched.error());
    }
    return {};
  }

  // Runs the queued jobs and ingests each result as it arrives. Returns how many were ingested.
  Result<int64_t> Evaluate(int round) {
    if (config_.launcher.kind != "threads") return EvaluateInBatches(round);
    auto jobs = RunnableJobs();
    if (!jobs) return tl::unexpected(jobs.error());
    if (jobs->empty()) return int64_t{0};
    std::vector<simulators::Task> tasks;
    for (const auto& j : *jobs) tasks.push_back({j.id, j.smiles});
    Progress progress("round " + std::to_string(round) + " " + config_.simulator.kind,
                      static_cast<int64_t>(tasks.size()));
    int64_t ingested = 0, failed = 0;
    std::optional<Error> failure;  // ingesting a result, or marking a job running
    // [launcher] isolate: each task in a child process, bounded by task_timeout.
    simulators::IsolationOptions isolation;
    isolation.timeout_seconds = config_.launcher.task_timeout_seconds;
    const simulators::IsolatedSimulator isolated(*simulator_, isolation);
    const simulators::Simulator& simulator =
        config_.launcher.isolate ? static_cast<const simulators::Simulator&>(isolated)
                                 : *simulator_;
    simulators::RunOnThreads(
        simulator, tasks, config_.simulator_threads,
        [&](simulators::TaskResult result) {
          CrashPoint("evaluate");
          if (!result.summary) ++failed;
          auto outcome = OutcomeOf(result);
          auto status = db_->IngestOutcome(outcome);
          if (!status) {
            failure = WithContext(status.error(), "ingesting results");
            return false;
          }
          ++ingested;
          progress.Advance();
          return true;
        },
        // A job is running, and counts an attempt, once a worker starts
        // it: a killed controller charges only the jobs it was running.
        [&](const simulators::Task& task) {
          auto marked = db_->MarkJobsRunning({task.id});
          if (!marked) failure = WithContext(marked.error(), "starting a job");
          return static_cast<bool>(marked);
        });
    progress.Finish();
    if (failure) return tl::unexpected(*failure);
    LogInfo("round {}: {} evaluations ingested, {} failed", round, ingested, failed);
    return ingested;
  }

 public:
  db::CampaignDb& db() { return *db_; }

 private:
  std::string path_;  // the campaign file; batches live in <path>.batches/
  std::unique_ptr<db::CampaignDb> db_;
  CampaignConfig config_;
  const std::atomic<bool>* stop_ = nullptr;  // RunOptions::stop
  std::unique_ptr<simulators::Simulator> simulator_;
  learners::SparseMatrix features_;      // what models read: fingerprints (+ descriptors)
  learners::SparseMatrix fingerprints_;  // the fingerprints alone, when descriptors are added
  std::optional<chem::DescriptorScaling> descriptor_scaling_;        // when descriptors are added
  std::optional<chem::DescriptorScaling> graph_descriptor_scaling_;  // ... and graphs are read
  std::vector<chem::MolGraph> graphs_;           // per candidate row, for graph models only
  std::vector<int64_t> ids_;                     // row -> candidate id
  std::vector<int> generated_in_;                // row -> round a generator added it, or -1
  std::vector<std::string> smiles_;              // row -> canonical SMILES
  std::unordered_map<int64_t, int64_t> row_of_;  // candidate id -> row
};

Status Import(db::CampaignDb& db, const CampaignConfig& config) {
  chem::ReadOptions read = config.read;
  read.fingerprint = config.fingerprint;
  int64_t total_added = 0;
  for (const auto& file : config.library_files) {
    auto t0 = std::chrono::steady_clock::now();
    auto report = chem::ReadMoleculeFile(file, read);
    if (!report) return tl::unexpected(WithContext(report.error(), "importing the library"));
    std::vector<db::NewCandidate> candidates;
    candidates.reserve(report->records.size());
    std::string source = "library:" + fs::path(file).filename().string();
    for (const auto& r : report->records) {
      candidates.push_back(
          {r.smiles, r.inchikey, r.fingerprint.Serialize(), source, r.id, r.location, 0});
    }
    auto added = db.AddCandidates(candidates);
    if (!added) return tl::unexpected(added.error());
    std::vector<db::RejectedInput> rejected;
    for (const auto& r : report->rejected) {
      LogWarn("rejected {}", r.ToString());
      rejected.push_back({source, r.location, r.id, r.input, r.reason});
    }
    for (const auto& [location, first] : added->duplicates_of) {
      rejected.push_back(
          {source, location, "", "", "duplicate molecule: same InChIKey as " + first});
    }
    LABLOOP_TRY(db.AddRejectedInputs(rejected));
    LogInfo("{}; {} new candidates, {} duplicates ({:.1f} s)", report->Summary(), added->added,
            added->duplicates, Seconds(t0));
    LABLOOP_TRY(db.LogEvent("labloop", "library_imported",
                            json{{"file", file},
                                 {"read", report->records.size()},
                                 {"rejected", report->rejected.size()},
                                 {"added", added->added},
                                 {"duplicates", added->duplicates}}
                                .dump()));
    total_added += added->added;
  }
  if (total_added == 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the library has no usable molecules; see the rejected records above");
  }
  return {};
}

}  // namespace

Result<CampaignConfig> ConfigOf(db::CampaignDb& db) {
  auto campaign = db.GetCampaign();
  if (!campaign) return tl::unexpected(campaign.error());
  if (!campaign->ready) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "campaign file '" + db.Path() +
                         "' was not completely created (its init was interrupted while importing "
                         "the library); remove it and run labloop init again");
  }
  auto config = Config::FromString(campaign->config_resolved, db.Path() + " (stored config)");
  if (!config) return tl::unexpected(config.error());
  return ParseCampaignConfig(*config, "/");
}

Status InitCampaignFromText(const std::string& campaign_path, const std::string& toml_text,
                            const std::string& source, const std::string& base_dir) {
  auto config = Config::FromString(toml_text, source);
  if (!config) return tl::unexpected(config.error());
  auto parsed = ParseCampaignConfig(*config, base_dir);
  if (!parsed) return tl::unexpected(parsed.error());
  for (const auto& file : parsed->library_files) {
    if (!fs::exists(file)) {
      return MakeError(ErrorCode::kNotFound,
                       source + ": library file '" + file + "' does not exist");
    }
  }
  if (!parsed->simulator.table.empty() && !fs::exists(parsed->simulator.table)) {
    return MakeError(ErrorCode::kNotFound,
                     source + ": simulator table '" + parsed->simulator.table + "' does not exist");
  }
  auto simulator = MakeSimulator(*parsed);  // checks the objective against the back-end
  if (!simulator) return tl::unexpected(simulator.error());
  if (auto learners_ok = CheckLearners(*parsed); !learners_ok) {
    return tl::unexpected(WithContext(learners_ok.error(), source));
  }

  auto db = db::CampaignDb::Open(campaign_path, db::OpenMode::kCreate);
  if (!db) return tl::unexpected(db.error());
  auto created = (*db)->CreateCampaign({parsed->name, toml_text, parsed->ToToml(), "", false});
  auto imported = created ? Import(**db, *parsed) : created;
  // Only a fully imported campaign is marked ready; one whose init was killed never runs.
  if (imported) imported = (*db)->MarkCampaignReady();
  if (!imported) {
    db->reset();
    std::error_code ignored;
    for (const char* suffix : {"", "-wal", "-shm", "-lock"}) {
      fs::remove(campaign_path + suffix, ignored);
    }
    return imported;
  }
  return {};
}

Status InitCampaign(const std::string& campaign_path, const std::string& config_path) {
  std::ifstream in(config_path);
  if (!in) return MakeError(ErrorCode::kNotFound, "cannot open config file '" + config_path + "'");
  std::stringstream text;
  text << in.rdbuf();
  std::string base_dir = fs::absolute(fs::path(config_path)).parent_path().string();
  return InitCampaignFromText(campaign_path, text.str(), config_path, base_dir);
}

Result<RunSummary> RunCampaign(const std::string& campaign_path, const RunOptions& options) {
  auto db = db::CampaignDb::Open(campaign_path, db::OpenMode::kReadWrite);
  if (!db) return tl::unexpected(db.error());
  auto config = ConfigOf(**db);
  if (!config) return tl::unexpected(config.error());
  auto simulator = MakeSimulator(*config);
  if (!simulator) return tl::unexpected(simulator.error());
  LABLOOP_TRY(CheckLearners(*config));
  CampaignRun run(campaign_path, std::move(*db), std::move(*config), std::move(*simulator));
  LABLOOP_TRY(run.LoadPool());
  LABLOOP_TRY(run.db().LogEvent("labloop", "run_started", "{}"));
  auto summary = run.Run(options);
  if (!summary) return summary;
  LABLOOP_TRY(run.db().LogEvent("labloop", "run_stopped",
                                json{{"reason", summary->stop_reason},
                                     {"rounds", summary->rounds_run},
                                     {"evaluations", summary->evaluations}}
                                    .dump()));
  return summary;
}

Result<CampaignStatus> GetStatus(const std::string& campaign_path) {
  auto db = db::CampaignDb::Open(campaign_path, db::OpenMode::kReadOnly);
  if (!db) return tl::unexpected(db.error());
  auto config = ConfigOf(**db);
  if (!config) return tl::unexpected(config.error());
  return GetStatus(**db, *config);
}

Result<CampaignStatus> GetStatus(db::CampaignDb& campaign, const CampaignConfig& config) {
  CampaignStatus status;
  status.name = config.name;
  status.path = campaign.Path();
  status.property = config.property;
  status.direction = DirectionName(config.direction);
  status.budget_total = config.max_evaluations;
  auto summary = campaign.Summary();
  if (!summary) return tl::unexpected(summary.error());
  status.summary = *summary;
  auto measurements = campaign.ListMeasurements(config.property);
  if (!measurements) return tl::unexpected(measurements.error());
  for (const auto& m : *measurements) {
    status.top.push_back({m.candidate_id, m.smiles, m.value, m.job_id, m.round});
  }
  std::stable_sort(status.top.begin(), status.top.end(), [&](const auto& a, const auto& b) {
    return Better(a.value, b.value, config.direction);
  });
  if (status.top.size() > 10) status.top.resize(10);
  if (!status.top.empty()) status.best = status.top.front();
  auto pending = campaign.ListPendingApprovals();
  if (!pending) return tl::unexpected(pending.error());
  status.pending_approval = std::move(*pending);
  if (campaign.SchemaVersion() >= 3) {  // older files, opened read-only, have no experiments yet
    auto stop = campaign.GetEmergencyStop();
    if (!stop) return tl::unexpected(stop.error());
    status.emergency_stop = *stop;
    auto experiments = campaign.ListExperiments({});
    if (!experiments) return tl::unexpected(experiments.error());
    for (const auto& e : *experiments) ++status.experiments[e.state];
  }
  return status;
}

std::string StatusTable(const CampaignStatus& s) {
  std::ostringstream out;
  const auto& jobs = s.summary.jobs;
  if (s.emergency_stop.active) {
    out << "EMERGENCY STOP active since " << s.emergency_stop.since << " by "
        << s.emergency_stop.actor << " (" << s.emergency_stop.reason << "); labloop resume "
        << s.path << " --ack\n";
  }
  out << "campaign     " << s.name << " (" << s.path << ")\n"
      << "objective    " << s.direction << " " << s.property << "\n"
      << "round        " << s.summary.round << "\n"
      << "candidates   " << s.summary.candidates << " (" << s.summary.rejected_inputs
      << " input records rejected)\n"
      << "measurements " << s.summary.measurements << "\n"
      << "jobs         queued " << jobs.at("queued") << ", running " << jobs.at("running")
      << ", done " << jobs.at("done") << ", failed " << jobs.at("failed") << "\n"
      << "budget       " << s.summary.evaluations_spent << " / " << s.budget_total
      << " evaluations\n";
  if (!s.experiments.empty()) {
    out << "experiments ";
    for (const auto& [state, count] : s.experiments) out << " " << state << " " << count;
    out << " (steps)\n";
  }
  if (s.best) {
    out << "best         " << s.best->smiles << "  " << s.property << " = " << s.best->value
        << " (round " << s.best->round << ", job " << s.best->job_id << ")\n";
  } else {
    out << "best         none yet\n";
  }
  if (!s.pending_approval.empty()) {
    out << "approval     " << s.pending_approval.size()
        << " decisions wait (labloop approve FILE IDS|--all, labloop reject FILE IDS --reason "
           "TEXT):\n";
    for (const auto& p : s.pending_approval) {
      out << "  candidate " << p.candidate_id << "  " << p.route << "  " << p.smiles;
      if (p.mean) out << "  predicted " << *p.mean << " ± " << p.sigma.value_or(0);
      out << "\n";
    }
  }
  return out.str();
}

std::string StatusJson(const CampaignStatus& s) {
  json j;
  j["name"] = s.name;
  j["path"] = s.path;
  j["objective"] = {{"property", s.property}, {"direction", s.direction}};
  j["round"] = s.summary.round;
  j["candidates"] = s.summary.candidates;
  j["rejected_inputs"] = s.summary.rejected_inputs;
  j["measurements"] = s.summary.measurements;
  j["jobs"] = s.summary.jobs;
  j["budget"] = {{"spent", s.summary.evaluations_spent}, {"total", s.budget_total}};
  j["emergency_stop"] = {{"active", s.emergency_stop.active},
                         {"by", s.emergency_stop.actor},
                         {"reason", s.emergency_stop.reason},
                         {"since", s.emergency_stop.since}};
  j["experiments"] = s.experiments;
  if (s.best) {
    j["best"] = {{"smiles", s.best->smiles},
                 {"value", s.best->value},
                 {"candidate_id", s.best->candidate_id},
                 {"job_id", s.best->job_id},
                 {"round", s.best->round}};
  } else {
    j["best"] = nullptr;
  }
  json top = json::array();
  for (const auto& t : s.top) top.push_back({{"smiles", t.smiles}, {"value", t.value}});
  j["top"] = top;
  json pending = json::array();
  for (const auto& p : s.pending_approval) {
    json item = {{"candidate_id", p.candidate_id},
                 {"round", p.round},
                 {"route", p.route},
                 {"smiles", p.smiles},
                 {"acquisition_value", p.acquisition_value}};
    item["mean"] = p.mean ? json(*p.mean) : json(nullptr);
    item["sigma"] = p.sigma ? json(*p.sigma) : json(nullptr);
    pending.push_back(item);
  }
  j["pending_approval"] = pending;
  return j.dump(2);
}

namespace {

std::string Number(double v) {
  std::ostringstream out;
  out.precision(10);
  out << v;
  return out.str();
}

}  // namespace

Result<int64_t> ExportCampaign(const std::string& campaign_path, ExportFormat format,
                               const std::string& output_path) {
  auto db = db::CampaignDb::Open(campaign_path, db::OpenMode::kReadOnly);
  if (!db) return tl::unexpected(db.error());
  auto rows = (*db)->ExportRows();
  if (!rows) return tl::unexpected(rows.error());
  std::set<std::string> properties;
  for (const auto& r : *rows) {
    for (const auto& [p, m] : r.measured) properties.insert(p);
  }
  // Fields in a fixed order; the same names serve as CSV columns and SDF data items.
  std::vector<std::string> names = {
      "candidate_id",   "smiles", "inchikey",          "source",          "source_id",
      "mean",           "sigma",  "sigma_epistemic",   "sigma_aleatoric", "model_id",
      "decision_round", "route",  "acquisition_value", "job_state",       "job_error"};
  for (const auto& p : properties) {
    names.push_back(p);
    names.push_back(p + "_job_id");
    names.push_back(p + "_round");
  }
  auto values_of = [&](const db::ExportRow& r) {
    std::vector<std::string> v = {std::to_string(r.candidate_id), r.smiles, r.inchikey, r.source,
                                  r.source_id};
    if (r.prediction) {
      v.insert(v.end(),
               {Number(r.prediction->mean), Number(r.prediction->sigma),
                Number(r.prediction->sigma_epistemic), Number(r.prediction->sigma_aleatoric),
                std::to_string(*r.prediction_model)});
    } else {
      v.insert(v.end(), {"", "", "", "", ""});
    }
    v.push_back(r.decision_round ? std::to_string(*r.decision_round) : "");
    v.push_back(r.route);
    v.push_back(r.acquisition_value ? Number(*r.acquisition_value) : "");
    v.push_back(r.job_state);
    v.push_back(r.job_error);
    for (const auto& p : properties) {
      auto it = r.measured.find(p);
      if (it == r.measured.end()) {
        v.insert(v.end(), {"", "", ""});
      } else {
        v.insert(v.end(), {Number(it->second.value), std::to_string(it->second.job_id),
                           std::to_string(it->second.round)});
      }
    }
    return v;
  };

  std::ofstream out(output_path);
  if (!out) {
    return MakeError(ErrorCode::kNotFound, "cannot write export file '" + output_path + "'");
  }
  int64_t written = 0;
  if (format == ExportFormat::kCsv) {
    for (size_t i = 0; i < names.size(); ++i) out << (i ? "," : "") << names[i];
    out << "\n";
    for (const auto& r : *rows) {
      auto v = values_of(r);
      for (size_t i = 0; i < v.size(); ++i) out << (i ? "," : "") << chem::CsvField(v[i]);
      out << "\n";
      ++written;
    }
  } else {
    for (const auto& r : *rows) {
      // The candidate passed the campaign's own limits at import: do not re-apply defaults.
      chem::MoleculeLimits no_limits{INT32_MAX, INT32_MAX};
      auto molecule = chem::Molecule::FromSmiles(r.smiles, no_limits);
      if (!molecule) {
        LogWarn("export: candidate {} ('{}') skipped: {}", r.candidate_id, r.smiles,
                molecule.error().message);
        continue;
      }
      auto mol_block = molecule->MolBlock();
      if (!mol_block) {
        LogWarn("export: candidate {} ('{}') skipped: {}", r.candidate_id, r.smiles,
                mol_block.error().message);
        continue;
      }
      std::string block = *mol_block;
      // The first line of a mol block is its title: the candidate id.
      block = "candidate " + std::to_string(r.candidate_id) + block.substr(block.find('\n'));
      out << block;
      auto v = values_of(r);
      for (size_t i = 0; i < v.size(); ++i) {
        if (v[i].empty()) continue;
        out << ">  <" << names[i] << ">\n" << v[i] << "\n\n";
      }
      out << "$$$$\n";
      ++written;
    }
  }
  out.close();
  if (!out) return MakeError(ErrorCode::kUnavailable, "writing '" + output_path + "' failed");
  return written;
}

Result<int64_t> ExportRejected(const std::string& campaign_path, const std::string& output_path) {
  auto db = db::CampaignDb::Open(campaign_path, db::OpenMode::kReadOnly);
  if (!db) return tl::unexpected(db.error());
  auto rejected = (*db)->ListRejectedInputs();
  if (!rejected) return tl::unexpected(rejected.error());
  std::ofstream out(output_path);
  if (!out) {
    return MakeError(ErrorCode::kNotFound, "cannot write export file '" + output_path + "'");
  }
  out << "source,location,record_id,input,reason\n";
  for (const auto& r : *rejected) {
    out << chem::CsvField(r.source) << "," << chem::CsvField(r.location) << ","
        << chem::CsvField(r.record_id) << "," << chem::CsvField(r.input) << ","
        << chem::CsvField(r.reason) << "\n";
  }
  out.close();
  if (!out) return MakeError(ErrorCode::kUnavailable, "writing '" + output_path + "' failed");
  return static_cast<int64_t>(rejected->size());
}

Result<int64_t> ApproveCandidates(const std::string& campaign_path,
                                  const std::vector<int64_t>& candidate_ids, bool all,
                                  const std::string& who) {
  if (all == !candidate_ids.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "approve needs candidate ids or --all, not both");
  }
  // An operator's write: it may happen beside a running controller (SQLite serializes them).
  auto db = db::CampaignDb::Open(campaign_path, db::OpenMode::kOperator);
  if (!db) return tl::unexpected(db.error());
  return (*db)->ApproveDecisions(candidate_ids, who);
}

Result<int64_t> RejectCandidates(const std::string& campaign_path,
                                 const std::vector<int64_t>& candidate_ids, const std::string& who,
                                 const std::string& reason) {
  if (reason.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "reject needs --reason (it goes to the audit log)");
  }
  auto db = db::CampaignDb::Open(campaign_path, db::OpenMode::kOperator);
  if (!db) return tl::unexpected(db.error());
  return (*db)->RejectDecisions(candidate_ids, who, reason);
}

Result<int64_t> AddToBatch(const std::string& campaign_path,
                           const std::vector<int64_t>& candidate_ids, const std::string& route,
                           const std::string& who) {
  if (route != "simulate" && route != "experiment") {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "a batch takes candidates on route simulate or experiment, not '" + route + "'");
  }
  if (candidate_ids.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "no candidates to add to the batch");
  }
  auto db = db::CampaignDb::Open(campaign_path, db::OpenMode::kOperator);
  if (!db) return tl::unexpected(db.error());
  auto config = ConfigOf(**db);
  if (!config) return tl::unexpected(config.error());
  // The latest model's prediction goes with each decision, as for the engine's own picks.
  auto rows = (*db)->CandidateRows(candidate_ids, config->property);
  if (!rows) return tl::unexpected(rows.error());
  std::map<int64_t, db::CandidateListRow> predicted;
  for (const auto& r : *rows) predicted[r.id] = r;
  std::vector<int64_t> ids = candidate_ids;  // each once
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::vector<db::DecisionRow> decisions;
  for (int64_t id : ids) {
    db::DecisionRow d;
    d.candidate_id = id;
    d.route = route;
    d.acquisition = "person";
    auto it = predicted.find(id);
    if (it != predicted.end()) {
      d.mean = it->second.mean;
      d.sigma = it->second.sigma;
    }
    d.cost =
        route == "experiment" ? config->router.experiment_cost : config->router.simulation_cost;
    d.reasons_json = json{{"why", "added to the batch by " + who}}.dump();
    // The approval gate holds for a person's picks as for the engine's.
    d.needs_approval = std::find(config->approval_routes.begin(), config->approval_routes.end(),
                                 route) != config->approval_routes.end();
    decisions.push_back(d);
  }
  LABLOOP_TRY((*db)->AddToOpenRound(decisions, "simulation", config->simulator.kind,
                                    ExperimentSteps(*config), config->max_evaluations, who));
  return static_cast<int64_t>(decisions.size());
}

Result<std::string> SubmitJobResult(const std::string& campaign_path,
                                    const JobResultSubmission& submission, const std::string& who) {
  const std::string job = "job " + std::to_string(submission.job_id);
  if (submission.values.empty() == submission.error.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     job + ": a result has either values or an error, not both or neither");
  }
  for (const auto& v : submission.values) {
    if (v.property.empty() || !std::isfinite(v.value) ||
        (v.uncertainty && (!std::isfinite(*v.uncertainty) || *v.uncertainty < 0))) {
      return MakeError(ErrorCode::kInvalidArgument,
                       job + ": value of '" + v.property +
                           "' needs a property name, a finite value and a finite uncertainty >= 0");
    }
  }
  static const std::set<std::string> kFidelities = {"simulation", "experiment", "lookup"};
  if (!kFidelities.count(submission.fidelity)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     job + ": fidelity '" + submission.fidelity +
                         "' is not one of simulation, experiment, lookup");
  }
  auto db = db::CampaignDb::Open(campaign_path, db::OpenMode::kOperator);
  if (!db) return tl::unexpected(db.error());
  if (!submission.values.empty()) {
    // A result without the campaign's objectives would end the job measured but unusable (its
    // budget spent, never measured again): a misspelled property is refused, named.
    auto config = ConfigOf(**db);
    if (!config) return tl::unexpected(config.error());
    std::string wanted;
    for (const auto& o : config->objectives) {
      wanted += (wanted.empty() ? "" : ", ") + o.property;
      const bool given = std::any_of(submission.values.begin(), submission.values.end(),
                                     [&](const auto& v) { return v.property == o.property; });
      if (!given) {
        std::string got;
        for (const auto& v : submission.values) got += (got.empty() ? "" : ", ") + v.property;
        return MakeError(ErrorCode::kInvalidArgument,
                         job + ": no value of '" + o.property + "' (got " + got +
                             "); the campaign's objectives: " + wanted);
      }
    }
  }
  db::JobOutcome outcome;
  outcome.job_id = submission.job_id;
  outcome.ok = submission.error.empty();
  outcome.values = submission.values;
  outcome.fidelity = submission.fidelity;
  outcome.raw_json = submission.raw_json;
  outcome.error = submission.error;
  auto ingested = (*db)->IngestReportedOutcome(outcome, who);
  if (!ingested) return tl::unexpected(ingested.error());
  if (!*ingested) return std::string("already finished");
  return std::string("ingested");
}

Result<CancelSummary> CancelUnfinishedJobs(const std::string& campaign_path,
                                           const std::string& who) {
  auto db = db::CampaignDb::Open(campaign_path, db::OpenMode::kReadWrite);
  if (!db) return tl::unexpected(db.error());
  auto config = ConfigOf(**db);
  if (!config) return tl::unexpected(config.error());
  auto jobs =
      (*db)->ListJobs({db::JobState::kQueued, db::JobState::kSubmitted, db::JobState::kRunning});
  if (!jobs) return tl::unexpected(jobs.error());
  CancelSummary summary;
  std::set<std::string> batches;
  std::vector<int64_t> ids;
  for (const auto& j : *jobs) {
    ids.push_back(j.id);
    const bool out = j.state == db::JobState::kSubmitted || j.state == db::JobState::kRunning;
    if (out && simulators::ParseBatchRef(j.external_id)) batches.insert(j.external_id);
  }
  // The jobs first: a controller still watching these batches then ingests nothing more from
  // them and submits none of their tasks again; then the batches themselves.
  auto cancelled = (*db)->CancelJobs(ids, who, "cancelled by " + who);
  if (!cancelled) return tl::unexpected(cancelled.error());
  summary.jobs = *cancelled;
  // Experiment steps on instruments: aborted there and in the file (the others never go out).
  auto steps = (*db)->ListExperiments({"requested", "approved", "sent", "running"});
  if (!steps) return tl::unexpected(steps.error());
  for (const auto& step : *steps) {
    if (step.state == "sent" || step.state == "running") {
      for (const auto& options : config->instruments) {
        if (options.name != step.instrument) continue;
        auto instrument = instruments::CreateInstrument(options);
        auto aborted = instrument ? (*instrument)->Abort(step.request_id)
                                  : Status(tl::unexpected(instrument.error()));
        if (!aborted)
          LogWarn("abort {} on {}: {}", step.request_id, step.instrument, aborted.error().message);
      }
    }
    LABLOOP_TRY((*db)->EndExperimentJob(step.job_id, true, "cancelled by " + who));
  }
  const std::string batch_root = fs::absolute(campaign_path).string() + ".batches/";
  for (const auto& external_id : batches) {
    auto ref = *simulators::ParseBatchRef(external_id);
    auto options = config->launcher;
    options.kind = ref.kind;
    auto launcher = simulators::CreateLauncher(options);
    if (!launcher) return tl::unexpected(launcher.error());
    const std::string dir = batch_root + ref.name;
    if (ref.handle == "-") {  // started, but its handle was not stored yet
      auto found = (*launcher)->Find(dir);
      if (!found) return tl::unexpected(found.error());
      if (!*found) continue;  // never started
      ref.handle = **found;
    }
    auto stopped = (*launcher)->Cancel(ref.handle, dir);
    if (!stopped) {
      return tl::unexpected(WithContext(stopped.error(), "cancelling " + ref.kind + " batch " +
                                                             ref.handle + " (" + ref.name + ")"));
    }
    summary.batches.push_back(ref.kind + " " + ref.handle);
  }
  return summary;
}

}  // namespace labloop::engine
