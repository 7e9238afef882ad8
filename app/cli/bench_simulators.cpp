// `labloop bench simulators`: xtb throughput over MPI ranks against a plain loop (BENCHMARKS.md 4).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "app/cli/bench.h"
#include "app/cli/bench_util.h"
#include "core/chem/geometry.h"
#include "core/chem/molecule.h"
#include "core/parallel.h"
#include "simulators/simulator.h"
#include "simulators/xtb_simulator.h"

namespace labloop::cli {

namespace {

using detail::Clock;
using detail::Machine;
using detail::Since;
using detail::WriteJson;

namespace fs = std::filesystem;
using json = nlohmann::json;

// Runs labloop-sim on `ranks` ranks; returns the wall time, or an error.
Result<double> TimeSim(const std::string& sim, int ranks, const std::string& input,
                       const std::string& output, const std::string& backend = "--backend xtb") {
  std::error_code ec;
  fs::remove(output, ec);
  std::string command = "mpirun -np " + std::to_string(ranks) + " --oversubscribe '" + sim + "' " +
                        backend + " --input '" + input + "' --output '" + output + "' > '" +
                        output + ".log' 2>&1";
  auto t0 = Clock::now();
  int code = std::system(command.c_str());
  double seconds = Since(t0);
  if (code != 0) {
    return MakeError(ErrorCode::kUnavailable,
                     "labloop-sim failed (" + command + "); see " + output + ".log");
  }
  return seconds;
}

// Atomization energies of the reference's molecules, computed as Colmena's workflow did (RDKit
// geometry, relaxed with GFN2-xTB, minus free atoms), against its values. Returns the summary.
Result<json> CheckQm9(const SimulatorsBench& options) {
  std::ifstream in(options.qm9_reference);
  if (!in) return MakeError(ErrorCode::kNotFound, "cannot open '" + options.qm9_reference + "'");
  auto reference = json::parse(in, nullptr, false);
  if (reference.is_discarded() || !reference.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     options.qm9_reference + " is not a JSON object of SMILES -> energy");
  }
  std::vector<std::pair<std::string, double>> molecules;
  for (const auto& [smiles, energy] : reference.items()) {
    if (options.qm9_molecules > 0 && static_cast<int>(molecules.size()) >= options.qm9_molecules) {
      break;
    }
    molecules.emplace_back(smiles, energy.get<double>());
  }
  simulators::SimulatorOptions xtb;
  xtb.optimize = true;
  auto simulator = simulators::CreateXtbSimulator(xtb);
  if (!simulator) return tl::unexpected(simulator.error());
  std::map<int, double> atom_energy;
  for (int z : {1, 6, 7, 8, 9}) {
    auto e = simulators::XtbFreeAtomEnergy(z, xtb);
    if (!e) return tl::unexpected(e.error());
    atom_energy[z] = *e;
  }
  const size_t n = molecules.size();
  std::vector<double> ours(n, std::nan("")), single_point(n, std::nan(""));
  std::vector<std::string> errors(n), changed(n);
  std::vector<int> open_centers(n, 0);  // unassigned stereocenters: the isomer is a coin toss
  for (size_t i = 0; i < n; ++i) {
    if (auto m = chem::Molecule::FromSmiles(molecules[i].first)) {
      open_centers[i] = chem::UnassignedStereocenters(*m);
    }
  }
  auto single = simulators::CreateXtbSimulator(simulators::SimulatorOptions{});
  auto t0 = Clock::now();
  ParallelFor(static_cast<int64_t>(n), 2, [&](int64_t i) {
    auto atomization = [&](const simulators::Simulator& sim) -> std::optional<double> {
      auto r = sim.Run(molecules[i].first);
      if (!r) {
        errors[i] = r.error().message;
        return std::nullopt;
      }
      auto raw = json::parse(r->raw_json);
      if (raw.contains("connectivity_change") &&
          !raw["connectivity_change"].get<std::string>().empty()) {
        changed[i] = raw["connectivity_change"].get<std::string>();
      }
      double e = r->properties.at("energy");
      for (int z : raw["atomic_numbers"]) e -= atom_energy.at(z);
      return e;
    };
    if (auto e = atomization(**simulator)) ours[i] = *e;
    if (auto e = atomization(**single)) single_point[i] = *e;
  });
  const double seconds = Since(t0);
  constexpr double kKcalPerHartree = 627.509474;
  // Errors in kcal/mol; `stereo_defined_only`: leave out molecules with unassigned stereocenters,
  // whose geometry here and in the reference may be of different stereoisomers.
  auto compare = [&](const std::vector<double>& values, bool stereo_defined_only) {
    std::vector<double> errors_kcal;
    double sum = 0;
    for (size_t i = 0; i < n; ++i) {
      if (std::isnan(values[i]) || (stereo_defined_only && open_centers[i] > 0)) continue;
      double d = kKcalPerHartree * (values[i] - molecules[i].second);
      errors_kcal.push_back(std::abs(d));
      sum += d;
    }
    std::sort(errors_kcal.begin(), errors_kcal.end());
    const double count = static_cast<double>(errors_kcal.size());
    double sum_abs = 0;
    int within_1 = 0;
    for (double e : errors_kcal) {
      sum_abs += e;
      within_1 += e <= 1.0;
    }
    return json{
        {"molecules", errors_kcal.size()},
        {"mae_kcal_mol", count > 0 ? sum_abs / count : 0.0},
        {"median_abs_error_kcal_mol", count > 0 ? errors_kcal[errors_kcal.size() / 2] : 0.0},
        {"within_1_kcal_mol", within_1},
        {"mean_error_kcal_mol", count > 0 ? sum / count : 0.0},
        {"max_abs_error_kcal_mol", count > 0 ? errors_kcal.back() : 0.0}};
  };
  int failed = 0;
  for (const auto& e : errors) failed += !e.empty();
  json per_molecule = json::array();
  for (size_t i = 0; i < n; ++i) {
    json m = {{"smiles", molecules[i].first}, {"reference", molecules[i].second}};
    if (!std::isnan(ours[i])) m["optimized"] = ours[i];
    if (!std::isnan(single_point[i])) m["single_point"] = single_point[i];
    if (!errors[i].empty()) m["error"] = errors[i];
    if (!changed[i].empty()) m["connectivity_change"] = changed[i];
    per_molecule.push_back(m);
  }
  json result = {{"per_molecule", per_molecule},
                 {"atom_energies", atom_energy},
                 {"reference", options.qm9_reference},
                 {"molecules", n},
                 {"failed", failed},
                 {"seconds", seconds},
                 {"optimized", compare(ours, false)},
                 {"optimized_no_open_stereocenters", compare(ours, true)},
                 {"single_point_at_mmff_geometry", compare(single_point, false)}};
  std::printf("\nbench simulators: GFN2-xTB atomization energies of %zu QM9 molecules vs %s\n", n,
              options.qm9_reference.c_str());
  int bonds_changed = 0;
  for (const auto& c : changed) bonds_changed += !c.empty();
  const std::vector<std::pair<const char*, const char*>> rows = {
      {"optimized", "xtb-optimized geometry (Colmena's)"},
      {"optimized_no_open_stereocenters", "  without unassigned stereocenters"},
      {"single_point_at_mmff_geometry", "MMFF geometry, single point"}};
  std::printf("  %-36s %8s %8s %10s %8s %8s\n", "kcal/mol", "MAE", "median", "within 1", "mean",
              "max");
  for (const auto& [key, label] : rows) {
    const auto& r = result[key];
    std::printf("  %-36s %8.3f %8.3f %6d/%-4d %+8.3f %8.2f\n", label,
                r["mae_kcal_mol"].get<double>(), r["median_abs_error_kcal_mol"].get<double>(),
                r["within_1_kcal_mol"].get<int>(), r["molecules"].get<int>(),
                r["mean_error_kcal_mol"].get<double>(), r["max_abs_error_kcal_mol"].get<double>());
  }
  std::printf("  %d relaxations broke or made a bond\n", bonds_changed);
  result["bonds_changed"] = bonds_changed;
  std::printf("  %d molecules failed; %.1f s on 2 threads\n", failed, seconds);
  return result;
}

int64_t CountLines(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) ++n;
  return n;
}

}  // namespace

Status RunSimulatorsBench(const SimulatorsBench& options) {
  if (options.check_only) {
    auto qm9 = CheckQm9(options);
    if (!qm9) return tl::unexpected(qm9.error());
    return WriteJson(options.json_path, json{{"benchmark", "simulators"}, {"qm9_check", *qm9}});
  }
  // The molecules, as a SMILES file labloop-sim reads.
  std::ifstream in(options.input);
  if (!in) return MakeError(ErrorCode::kNotFound, "cannot open '" + options.input + "'");
  std::vector<std::string> smiles;
  std::string line;
  while (static_cast<int>(smiles.size()) < options.molecules && std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    smiles.push_back(line.substr(0, line.find_first_of(" \t")));
  }
  fs::path dir = fs::temp_directory_path() / ("labloop-bench-sim-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::string input = (dir / "in.smi").string(), empty = (dir / "empty.smi").string();
  {
    std::ofstream out(input);
    for (const auto& s : smiles) out << s << "\n";
    std::ofstream none(empty);
  }
  std::string sim = options.sim;
  if (sim.empty())
    sim = (fs::read_symlink("/proc/self/exe").parent_path() / "labloop-sim").string();
  setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
  setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
  setenv("OMP_NUM_THREADS", "1", 1);

  // The plain loop: one process, no isolation, no MPI.
  simulators::SimulatorRegistry registry("simulator");
  simulators::RegisterBuiltinSimulators(registry);
  simulators::SimulatorOptions xtb;
  xtb.kind = "xtb";
  auto simulator = registry.Create("xtb", xtb);
  if (!simulator) return tl::unexpected(simulator.error());
  (void)(*simulator)->Run("CO");  // first-use set-up, as labloop-sim's ranks do before timing
  int64_t failed = 0;
  auto t0 = Clock::now();
  for (const auto& s : smiles) {
    if (!(*simulator)->Run(s)) ++failed;
  }
  const double plain = Since(t0);
  const double n = static_cast<double>(smiles.size());
  std::printf(
      "\nbench simulators: GFN2-xTB single points (ETKDG + MMFF geometry) on %zu "
      "molecules of %s\n",
      smiles.size(), options.input.c_str());
  std::printf("  %-34s %9s %10s %12s %12s\n", "", "wall s", "mol / s", "efficiency", "ms / task");
  std::printf("  %-34s %9.2f %10.1f %12s %12.2f   (%lld failed)\n", "plain loop, one process",
              plain, n / plain, "", 1000 * plain / n, static_cast<long long>(failed));
  json result = {{"benchmark", "simulators"},
                 {"molecules", smiles.size()},
                 {"plain_loop", {{"seconds", plain}, {"per_second", n / plain}}},
                 {"machine", Machine()}};
  json runs = json::array();
  for (int ranks : options.ranks) {
    // MPI's own start and stop, timed on an empty input, is not per-task work.
    auto startup = TimeSim(sim, ranks, empty, (dir / "empty.jsonl").string());
    if (!startup) return tl::unexpected(startup.error());
    std::string output = (dir / ("out" + std::to_string(ranks) + ".jsonl")).string();
    auto wall = TimeSim(sim, ranks, input, output);
    if (!wall) return tl::unexpected(wall.error());
    if (CountLines(output) != static_cast<int64_t>(smiles.size())) {
      return MakeError(ErrorCode::kInternal, "labloop-sim wrote " +
                                                 std::to_string(CountLines(output)) +
                                                 " results for " + std::to_string(smiles.size()));
    }
    const double work = *wall - *startup;
    const double rate = n / work;
    const double efficiency = rate / (ranks * n / plain);
    const double overhead_ms = 1000 * (work * ranks - plain) / n;
    char label[64];
    std::snprintf(label, sizeof(label), "labloop-sim, %d rank%s", ranks, ranks > 1 ? "s" : "");
    std::printf("  %-34s %9.2f %10.1f %12.2f %12.2f   (MPI start and stop %.2f s, not counted)\n",
                label, work, rate, efficiency, 1000 * work / n, *startup);
    runs.push_back({{"ranks", ranks},
                    {"seconds", work},
                    {"startup_seconds", *startup},
                    {"per_second", rate},
                    {"efficiency", efficiency},
                    {"overhead_ms_per_task", overhead_ms}});
    if (ranks == 1) {
      std::printf("  %-34s %9s %10s %12s %12.2f\n", "  overhead per task (1 rank)", "", "", "",
                  overhead_ms);
    }
  }
  // The overhead alone: the same tasks through labloop-sim with the lookup back-end, whose work
  // (parse the SMILES, look up its InChIKey) is a millisecond; the rest is the task's process,
  // the messages and the output.
  {
    std::string table = (dir / "table.csv").string();
    std::ofstream csv(table);
    csv << "smiles,value\n";
    for (const auto& s : smiles) csv << s << ",0\n";
    csv.close();
    auto startup = TimeSim(sim, 1, empty, (dir / "empty2.jsonl").string(),
                           "--backend lookup --table '" + table + "'");
    auto wall = TimeSim(sim, 1, input, (dir / "lookup.jsonl").string(),
                        "--backend lookup --table '" + table + "'");
    if (!startup || !wall) return MakeError(ErrorCode::kUnavailable, "the lookup run failed");
    const double per_task_ms = 1000 * (*wall - *startup) / n;
    std::printf("  %-34s %9.2f %10.1f %12s %12.2f   (isolation + messages + output, 1 rank)\n",
                "labloop-sim, lookup back-end", *wall - *startup, n / (*wall - *startup), "",
                per_task_ms);
    result["overhead_ms_per_task_lookup"] = per_task_ms;
  }
  std::printf(
      "  targets (BENCHMARKS.md 4): efficiency >= 0.9 at 2 ranks, overhead <= 5 ms a task\n");
  result["labloop_sim"] = runs;
  if (!options.qm9_reference.empty()) {
    auto qm9 = CheckQm9(options);
    if (!qm9) return tl::unexpected(qm9.error());
    result["qm9_check"] = *qm9;
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  return WriteJson(options.json_path, result);
}

}  // namespace labloop::cli
