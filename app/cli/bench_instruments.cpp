// `labloop bench instruments`: the instrument layer against labloop-emulator processes: command
// round trips, recovery from a lost reply, the emergency stop of a real campaign file, and the
// dose-response fit (time and σ coverage).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "app/cli/bench.h"
#include "app/cli/bench_util.h"
#include "app/engine/engine.h"
#include "app/engine/experiments.h"
#include "instruments/assay_fit.h"
#include "instruments/emulator_process.h"
#include "instruments/instrument.h"

namespace labloop::cli {

namespace {

using detail::Clock;
using detail::Machine;
using detail::Since;
using detail::WriteJson;
using json = nlohmann::json;
namespace fs = std::filesystem;

using Emulator = instruments::EmulatorProcess;

std::unique_ptr<instruments::Instrument> Connect(const std::string& address,
                                                 const std::string& driver) {
  instruments::InstrumentOptions o;
  o.name = driver;
  o.driver = driver;
  o.transport.address = driver == "http" ? "http://" + address : address;
  o.transport.timeout = 0.5;
  o.transport.backoff = 0.01;
  auto i = instruments::CreateInstrument(o);
  return i ? std::move(*i) : nullptr;
}

double Percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
}

}  // namespace

Status RunInstrumentsBench(const InstrumentsBench& o) try {
  std::string program = o.emulator;
  if (program.empty()) {
    program = (fs::read_symlink("/proc/self/exe").parent_path() / "labloop-emulator").string();
  }
  const fs::path dir =
      fs::temp_directory_path() / ("labloop-bench-instruments-" + std::to_string(getpid()));
  fs::create_directories(dir);
  json out = {{"benchmark", "instruments"}, {"machine", Machine()}};

  // 1. Round trips of a status query, each driver.
  std::printf("%-34s %10s %10s\n", "round trip (STAT? / GET run)", "median ms", "p99 ms");
  for (const std::string driver : {"scpi", "http"}) {
    std::vector<std::string> flags = {"--kind", "plate_reader"};
    if (driver == "http") flags.push_back("--http");
    Emulator emulator(program, flags, dir.string());
    auto instrument = Connect(emulator.Address(), driver);
    if (!instrument || !instrument->Submit({"b1", "CCO", {1e-4, 8, 3}})) {
      return MakeError(ErrorCode::kUnavailable, "cannot submit to the emulator");
    }
    std::vector<double> ms;
    for (int i = 0; i < o.round_trips; ++i) {
      auto t0 = Clock::now();
      if (!instrument->Poll("b1")) return MakeError(ErrorCode::kUnavailable, "poll failed");
      ms.push_back(1000 * Since(t0));
    }
    std::printf("%-34s %10.3f %10.3f\n", driver.c_str(), Percentile(ms, 0.5), Percentile(ms, 0.99));
    out["round_trip_ms"][driver] = {{"median", Percentile(ms, 0.5)}, {"p99", Percentile(ms, 0.99)}};
  }

  // 2. A lost reply to RUN: time until the retry's answer arrives (timeout 0.5 s, backoff 0.01).
  {
    std::vector<double> seconds;
    for (int i = 0; i < 5; ++i) {
      Emulator emulator(program, {"--kind", "synthesizer", "--fault", "drop", "--fault-on", "RUN"},
                        dir.string());
      auto instrument = Connect(emulator.Address(), "scpi");
      auto t0 = Clock::now();
      if (!instrument->Submit({"d" + std::to_string(i), "CCO", {5}})) {
        return MakeError(ErrorCode::kInternal, "a dropped RUN was not recovered");
      }
      seconds.push_back(Since(t0));
    }
    std::printf("%-34s %10.1f ms (median of 5; the run started once each)\n",
                "lost reply to RUN, recovered in", 1000 * Percentile(seconds, 0.5));
    out["lost_reply_recovery_ms"] = 1000 * Percentile(seconds, 0.5);
  }

  // 3. The emergency stop of a campaign file with two instruments busy.
  {
    Emulator synth(program, {"--kind", "synthesizer", "--duration", "600"}, dir.string());
    Emulator reader(program, {"--kind", "plate_reader", "--http", "--duration", "600"},
                    dir.string());
    std::ofstream(dir / "pool.smi") << "CCO\nCCN\nCCC\nc1ccccc1O\nCC(=O)O\nCCCl\n";
    const std::string config =
        "[library]\nfiles = [\"pool.smi\"]\n[objective]\nproperty = \"pic50\"\n"
        "direction = \"maximize\"\n[simulator]\nkind = \"lookup\"\ntable = \"table.csv\"\n"
        "[instruments.synth]\ndriver = \"scpi\"\naddress = \"" +
        synth.Address() + "\"\n[instruments.reader]\ndriver = \"http\"\naddress = \"http://" +
        reader.Address() + "\"\n[experiment]\nsynthesizer = \"synth\"\nreader = \"reader\"\n";
    std::ofstream(dir / "table.csv") << "smiles,pic50\nCCO,5\n";
    const std::string campaign = (dir / "stop.labloop").string();
    LABLOOP_TRY(engine::InitCampaignFromText(campaign, config, "stop.toml", dir.string()));
    auto s = Connect(synth.Address(), "scpi");
    auto r = Connect(reader.Address(), "http");
    std::vector<double> ms;
    for (int i = 0; i < o.stops; ++i) {
      const std::string id = "e" + std::to_string(i);
      if (!s->Submit({id + "s", "CCO", {5}}) || !r->Submit({id + "r", "CCO", {1e-4, 8, 3}})) {
        return MakeError(ErrorCode::kUnavailable, "cannot start runs to stop");
      }
      auto report = engine::EmergencyStop(campaign, "bench", "timing");
      if (!report) return tl::unexpected(report.error());
      if (!report->failures.empty() ||
          s->Poll(id + "s")->state != instruments::RunState::kAborted ||
          r->Poll(id + "r")->state != instruments::RunState::kAborted) {
        return MakeError(ErrorCode::kInternal, "an instrument did not stop");
      }
      ms.push_back(1000 * report->seconds);
      LABLOOP_TRY(engine::ResumeAfterStop(campaign, "bench"));
    }
    std::printf("%-34s %10.1f ms median, %.1f ms max over %d stops (target: 100 ms)\n",
                "emergency stop, 2 busy instruments", Percentile(ms, 0.5), Percentile(ms, 1.0),
                o.stops);
    out["emergency_stop_ms"] = {
        {"median", Percentile(ms, 0.5)}, {"max", Percentile(ms, 1.0)}, {"stops", o.stops}};
  }

  // 4. The 4PL fit: time per curve and how often the truth lies within 1 and 2 σ.
  {
    std::mt19937_64 rng(11);
    std::normal_distribution<double> noise(0, 5);
    std::uniform_real_distribution<double> pic50(5.0, 7.5);
    int fitted = 0, flagged = 0, within1 = 0, within2 = 0;
    auto t0 = Clock::now();
    for (int k = 0; k < o.fits; ++k) {
      const double truth = pic50(rng);
      instruments::DoseResponse d;
      for (int i = 0; i < 10; ++i) {
        const double c = 1e-4 / std::pow(3.0, i);
        d.concentration.push_back(c);
        d.signal.push_back(100 / (1 + std::pow(10.0, std::log10(c) + truth)) + noise(rng));
      }
      auto fit = instruments::FitDoseResponse(d);
      if (!fit) return tl::unexpected(fit.error());
      if (!fit->ok) {
        ++flagged;
        continue;
      }
      ++fitted;
      const double z = std::abs(fit->pic50 - truth) / fit->pic50_sigma;
      within1 += z < 1;
      within2 += z < 2;
    }
    const double per_fit_ms = 1000 * Since(t0) / o.fits;
    std::printf(
        "%-34s %10.2f ms a curve; %d flagged of %d; truth within 1σ %.3f, 2σ %.3f "
        "(Student t, 6 dof: 0.644, 0.908)\n",
        "4PL fit (10 points, 5% noise)", per_fit_ms, flagged, o.fits, double(within1) / fitted,
        double(within2) / fitted);
    out["fit"] = {{"ms_per_curve", per_fit_ms},
                  {"curves", o.fits},
                  {"flagged", flagged},
                  {"within_1_sigma", double(within1) / fitted},
                  {"within_2_sigma", double(within2) / fitted}};
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  return WriteJson(o.json_path, out);
} catch (const std::runtime_error& e) {  // an emulator that did not start
  return MakeError(ErrorCode::kUnavailable, e.what());
}

}  // namespace labloop::cli
