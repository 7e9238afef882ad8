// `labloop bench generators`: the generators' output against the published SMILES-RNN figures
// (MOSES), and goal-directed rediscovery by the graph GA and the steered language model
// (BENCHMARKS.md 3).
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <set>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "app/cli/bench.h"
#include "app/cli/bench_util.h"
#include "core/chem/fingerprint.h"
#include "core/chem/molecule.h"
#include "core/chem/reader.h"
#include "core/log.h"
#include "core/parallel.h"
#include "generators/generator.h"
#include "generators/smiles_lm.h"

namespace labloop::cli {

namespace {

using detail::Clock;
using detail::Machine;
using detail::Since;
using detail::WriteJson;
using json = nlohmann::json;

// 1 - the mean Tanimoto similarity over distinct pairs (Morgan radius 2, 1024 bits, as MOSES).
double InternalDiversity(const std::vector<std::string>& smiles) {
  chem::MorganOptions morgan;
  morgan.size = 1024;
  std::vector<chem::SparseFingerprint> fps(smiles.size());
  ParallelFor(static_cast<int64_t>(smiles.size()), 0, [&](int64_t i) {
    auto molecule = chem::Molecule::FromSmiles(smiles[i]);
    if (molecule) fps[i] = chem::MorganFingerprint(*molecule, morgan);
  });
  const int64_t n = static_cast<int64_t>(fps.size());
  if (n < 2) return 0;
  std::vector<double> row_sums(n, 0.0);
  ParallelFor(n, 0, [&](int64_t i) {
    double sum = 0;
    for (int64_t j = i + 1; j < n; ++j) sum += chem::TanimotoBits(fps[i], fps[j]);
    row_sums[i] = sum;
  });
  double total = 0;
  for (double s : row_sums) total += s;
  return 1.0 - total / (static_cast<double>(n) * static_cast<double>(n - 1) / 2.0);
}

struct Distribution {
  int64_t sampled = 0, valid = 0, unique = 0, novel = 0;
  double seconds = 0, diversity = 0, temperature = 1;
  bool grammar = true, valences = true, tensor_sampler = false;
  int wind_up_after = 0;
  std::string model, precision;
  json ToJson() const {
    return {{"sampled", sampled},
            {"valid", valid},
            {"validity", valid / std::max(1.0, double(sampled))},
            {"unique", unique},
            {"uniqueness", unique / std::max(1.0, double(valid))},
            {"novel", novel},
            {"novelty", novel / std::max(1.0, double(unique))},
            {"internal_diversity", diversity},
            {"seconds", seconds},
            {"valid_per_second", valid / std::max(1e-9, seconds)},
            {"model", model},
            {"temperature", temperature},
            {"grammar", grammar},
            {"valences", valences},
            {"wind_up_after", wind_up_after},
            {"sampler", tensor_sampler ? "tensor" : "default"},
            {"precision", precision}};
  }
};

Result<Distribution> MeasureLm(const GeneratorsBench& o,
                               const std::unordered_set<std::string>& training) {
  generators::GeneratorOptions options;
  options.model = o.model;
  options.temperature = o.temperature;
  options.grammar = o.grammar;
  options.valences = o.valences;
  options.wind_up_after = o.wind_up_after;
  options.tensor_sampler = o.tensor_sampler;
  options.seed = 1;
  // Valid molecules per second: sampling and RDKit's check, timed together.
  auto t0 = Clock::now();
  auto samples = generators::SampleSmilesLm(options, o.samples);
  if (!samples) return tl::unexpected(samples.error());
  auto canonical = chem::CanonicalSmilesOf(samples->smiles);
  Distribution d;
  d.seconds = Since(t0);
  if (!o.raw_path.empty()) {
    std::ofstream raw(o.raw_path);
    for (const auto& s : samples->smiles) raw << s << '\n';
    if (!raw) return MakeError(ErrorCode::kUnavailable, "cannot write " + o.raw_path);
  }
  d.model = samples->model;
  d.precision = samples->precision;
  d.temperature = o.temperature;
  d.grammar = o.grammar;
  d.valences = o.grammar && o.valences;
  d.wind_up_after = o.grammar ? o.wind_up_after : 0;
  d.tensor_sampler = o.tensor_sampler;
  d.sampled = static_cast<int64_t>(canonical.size());
  std::set<std::string> unique;
  for (const auto& c : canonical) {
    if (c.empty()) continue;
    ++d.valid;
    unique.insert(c);
  }
  d.unique = static_cast<int64_t>(unique.size());
  for (const auto& u : unique) d.novel += training.count(u) == 0;
  d.diversity = InternalDiversity(std::vector<std::string>(unique.begin(), unique.end()));
  return d;
}

struct Rediscovery {
  std::string generator;
  int seed = 0;
  double best = 0;
  int64_t calls = 0, calls_to_best = 0;
  std::string best_smiles;
  double seconds = 0;
};

Result<Rediscovery> Rediscover(const GeneratorsBench& o, const std::string& kind, int seed) {
  generators::GeneratorOptions options;
  options.kind = kind;
  options.seed = static_cast<uint64_t>(seed);
  options.pool = o.ga_pool;
  options.population = o.ga_population;
  options.generations = o.ga_generations;
  options.model = o.model;
  options.grammar = o.grammar;
  options.valences = o.valences;
  options.wind_up_after = o.wind_up_after;
  options.steps = o.lm_steps;
  options.batch_size = o.lm_batch;
  options.sigma = o.lm_sigma;
  options.learning_rate = o.lm_learning_rate;
  auto fitness = generators::SimilarityFitness(o.target);
  if (!fitness) return tl::unexpected(fitness.error());
  options.fitness = *fitness;
  generators::GeneratorRegistry registry("generator");
  generators::RegisterBuiltinGenerators(registry);
  auto generator = registry.Create(kind, options);
  if (!generator) return tl::unexpected(generator.error());
  auto t0 = Clock::now();
  auto proposals = (*generator)->Generate(10);
  if (!proposals) return tl::unexpected(proposals.error());
  auto report = json::parse((*generator)->Report());
  Rediscovery r;
  r.generator = kind;
  r.seed = seed;
  r.seconds = Since(t0);
  r.best = report.value("best_fitness", 0.0);
  r.calls = report.value("fitness_calls", int64_t{0});
  r.calls_to_best = report.value("fitness_calls_to_best", int64_t{0});
  r.best_smiles = report.value("best_smiles", std::string());
  return r;
}

}  // namespace

Status RunGeneratorsBench(const GeneratorsBench& o) {
  json out = {{"benchmark", "generators"}, {"machine", Machine()}};
  if (o.samples > 0) {
    auto t0 = Clock::now();
    std::vector<std::string> raw;
    LABLOOP_TRY(chem::ForEachSmiles(o.training, chem::ReadOptions{},
                                    [&](int64_t, const std::string& s) { raw.push_back(s); }));
    auto canonical = chem::CanonicalSmilesOf(raw);
    std::unordered_set<std::string> training(canonical.begin(), canonical.end());
    training.erase("");
    std::printf("training set: %zu canonical SMILES (%.1f s)\n", training.size(), Since(t0));
    auto d = MeasureLm(o, training);
    if (!d) return tl::unexpected(d.error());
    auto j = d->ToJson();
    std::printf("\nSMILES LSTM (%s), %lld samples at temperature %.2f, grammar %s, %s products\n",
                d->model.c_str(), static_cast<long long>(d->sampled), o.temperature,
                !o.grammar   ? "off"
                : o.valences ? "on (syntax and valences)"
                             : "on (syntax only)",
                d->precision.c_str());
    if (d->wind_up_after > 0) std::printf("  winding up from %d tokens on\n", d->wind_up_after);
    if (d->tensor_sampler) std::printf("  sampled with the tensor sampler (the GPU path)\n");
    std::printf("  %-22s %10s %12s\n", "metric", "labloop", "SMILES-RNN");
    std::printf("  %-22s %10.4f %12.3f\n", "validity", j["validity"].get<double>(), 0.975);
    std::printf("  %-22s %10.4f %12.3f\n", "uniqueness", j["uniqueness"].get<double>(), 0.999);
    std::printf("  %-22s %10.4f %12.3f\n", "novelty", j["novelty"].get<double>(), 0.842);
    std::printf("  %-22s %10.4f %12.3f\n", "internal diversity", d->diversity, 0.856);
    std::printf("  %-22s %10.0f %12s\n", "valid molecules / s", j["valid_per_second"].get<double>(),
                "-");
    out["smiles_lm"] = j;
    out["published_smiles_rnn"] = {{"validity", 0.975},
                                   {"uniqueness", 0.999},
                                   {"novelty", 0.842},
                                   {"internal_diversity", 0.856}};
  }
  if (!o.target.empty()) {
    json runs = json::array();
    std::printf("\nrediscovery of %s (Tanimoto on Morgan counts, radius 2)\n", o.target.c_str());
    std::printf("  %-10s %4s %8s %12s %14s %8s  %s\n", "generator", "seed", "best", "calls",
                "calls to best", "seconds", "best molecule");
    for (const auto& kind : o.goal_generators) {
      for (int seed = o.first_seed; seed < o.first_seed + o.seeds; ++seed) {
        auto r = Rediscover(o, kind, seed);
        if (!r) return tl::unexpected(r.error());
        std::printf("  %-10s %4d %8.3f %12lld %14lld %8.1f  %s\n", kind.c_str(), seed, r->best,
                    static_cast<long long>(r->calls), static_cast<long long>(r->calls_to_best),
                    r->seconds, r->best_smiles.c_str());
        std::fflush(stdout);
        runs.push_back({{"generator", kind},
                        {"seed", seed},
                        {"best_fitness", r->best},
                        {"fitness_calls", r->calls},
                        {"fitness_calls_to_best", r->calls_to_best},
                        {"best_smiles", r->best_smiles},
                        {"seconds", r->seconds}});
      }
    }
    out["rediscovery"] = {{"target", o.target},
                          {"ga_population", o.ga_population},
                          {"ga_generations", o.ga_generations},
                          {"lm_steps", o.lm_steps},
                          {"lm_batch", o.lm_batch},
                          {"lm_sigma", o.lm_sigma},
                          {"lm_learning_rate", o.lm_learning_rate},
                          {"runs", runs}};
  }
  return WriteJson(o.json_path, out);
}

}  // namespace labloop::cli
