#include "app/engine/demo.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "app/engine/campaign_config.h"
#include "app/engine/engine.h"
#include "core/chem/reader.h"
#include "core/log.h"
#include "core/progress.h"
#include "db/campaign_db.h"
#include "simulators/simulator.h"
#include "simulators/thread_runner.h"

namespace labloop::engine {

namespace fs = std::filesystem;

namespace {

Status WriteFile(const fs::path& path, const char* text) {
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out)
    return MakeError(ErrorCode::kFailedPrecondition, "cannot write '" + path.string() + "'");
  return {};
}

struct Evaluated {
  std::string smiles;
  double value;
};

// The same number of evaluations on molecules drawn at random from the pool, with the same
// simulator: what the campaign's model-guided choices are measured against.
Result<std::vector<Evaluated>> RandomBaseline(const CampaignConfig& config, int64_t count) {
  auto pool = chem::ReadMoleculeFile(config.library_files.front(), config.read);
  if (!pool) return tl::unexpected(pool.error());
  std::vector<size_t> order(pool->records.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::mt19937_64 rng(config.seed + 12345);
  std::shuffle(order.begin(), order.end(), rng);
  order.resize(std::min<size_t>(order.size(), static_cast<size_t>(count)));
  std::vector<simulators::Task> tasks;
  for (size_t i : order) tasks.push_back({static_cast<int64_t>(i), pool->records[i].smiles});

  simulators::SimulatorRegistry registry("simulator");
  simulators::RegisterBuiltinSimulators(registry);
  auto simulator = registry.Create(config.simulator.kind, config.simulator);
  if (!simulator) return tl::unexpected(simulator.error());
  std::vector<Evaluated> results;
  Progress progress("random baseline " + config.simulator.kind, static_cast<int64_t>(tasks.size()));
  simulators::RunOnThreads(
      **simulator, tasks, config.simulator_threads, [&](simulators::TaskResult r) {
        progress.Advance();
        if (r.summary) {
          results.push_back(
              {pool->records[r.id].smiles, r.summary->properties.at(config.property)});
        }
        return true;
      });
  progress.Finish();
  return results;
}

std::string Format(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.3f", v);
  return buffer;
}

}  // namespace

Status RunDemo(const DemoOptions& options, std::ostream& out) {
  auto start = std::chrono::steady_clock::now();
  fs::path dir(options.dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "cannot create demo folder '" + dir.string() + "': " + ec.message());
  }
  fs::path config_path = dir / "campaign.toml";
  fs::path campaign_path = dir / "demo.labloop";
  if (auto s = WriteFile(dir / "pool.smi", DemoPoolText()); !s) return s;
  if (auto s = WriteFile(config_path, DemoConfigText()); !s) return s;

  if (fs::exists(campaign_path)) {
    LogInfo("resuming the demo campaign in {}", campaign_path.string());
  } else {
    LogInfo("creating the demo campaign in {}", campaign_path.string());
    if (auto s = InitCampaign(campaign_path.string(), config_path.string()); !s) return s;
  }
  auto run = RunCampaign(campaign_path.string());
  if (!run) return tl::unexpected(run.error());
  double campaign_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  auto status = GetStatus(campaign_path.string());
  if (!status) return tl::unexpected(status.error());
  auto config = LoadCampaignConfig(config_path.string());
  if (!config) return tl::unexpected(config.error());
  const int64_t spent = status->summary.evaluations_spent;
  auto random = RandomBaseline(*config, spent);
  if (!random) return tl::unexpected(random.error());
  std::sort(random->begin(), random->end(),
            [](const Evaluated& a, const Evaluated& b) { return a.value < b.value; });

  auto mean_top = [](auto begin, auto end, auto value_of) {
    double sum = 0;
    int n = 0;
    for (auto it = begin; it != end; ++it, ++n) sum += value_of(*it);
    return n ? sum / n : 0.0;
  };
  const size_t k = std::min<size_t>({10, status->top.size(), random->size()});
  double campaign_top = mean_top(status->top.begin(), status->top.begin() + k,
                                 [](const BestMeasurement& b) { return b.value; });
  double random_top =
      mean_top(random->begin(), random->begin() + k, [](const Evaluated& e) { return e.value; });
  int beating = 0;
  for (size_t i = 0; i < k; ++i) beating += status->top[i].value < random->front().value;
  double total_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  auto db = db::CampaignDb::Open(campaign_path.string(), db::OpenMode::kReadWrite);
  if (db) {
    (*db)->LogEvent("labloop", "demo_random_baseline",
                    nlohmann::json{{"evaluations", random->size()},
                                   {"best", random->empty() ? 0.0 : random->front().value},
                                   {"mean_top_k", random_top},
                                   {"k", k}}
                        .dump());
  }

  out << "\nlabloop demo: " << status->direction << " the GFN2-xTB HOMO-LUMO gap (eV) over "
      << status->summary.candidates << " QM9 molecules\n\n";
  out << "best molecules found by the campaign (" << spent << " xtb evaluations, "
      << status->summary.round + 1 << " rounds):\n";
  for (size_t i = 0; i < std::min<size_t>(5, status->top.size()); ++i) {
    out << "  " << i + 1 << ". " << Format(status->top[i].value) << " eV  " << status->top[i].smiles
        << "  (round " << status->top[i].round << ")\n";
  }
  out << "\nbest of " << random->size() << " random evaluations of the same pool:\n";
  for (size_t i = 0; i < std::min<size_t>(5, random->size()); ++i) {
    out << "  " << i + 1 << ". " << Format((*random)[i].value) << " eV  " << (*random)[i].smiles
        << "\n";
  }
  out << "\nmean gap of the top " << k << ": campaign " << Format(campaign_top) << " eV, random "
      << Format(random_top) << " eV; " << beating << " of the campaign's top " << k
      << " beat the best random molecule.\n";
  out << "campaign wall time " << Format(campaign_seconds) << " s (total with the baseline "
      << Format(total_seconds) << " s)\n";
  out << "campaign file: " << fs::absolute(campaign_path).string() << "\n"
      << "  labloop status " << campaign_path.string() << "\n"
      << "  labloop export " << campaign_path.string() << " --format csv -o results.csv\n";
  return {};
}

}  // namespace labloop::engine
