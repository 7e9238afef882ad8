// labloop-gpu-check: the LibTorch parts of labloop on a chosen device, for a GPU machine that has a
// CUDA LibTorch but not Debian's full package set (LABLOOP_LIBRARIES_ONLY; docs/gpu.md).
//
//   labloop-gpu-check predictors --data esol.csv --target logp --devices cpu,cuda
//       fits every LibTorch model on each device: fit time, prediction rate, test RMSE, and how far
//       each device's test means lie from the first device's (the reference).
//   labloop-gpu-check lm-train --data zinc250k.smi.gz -o model.pt --device cuda ...
//       `labloop lm train`, with the same flags.
//   labloop-gpu-check lm-sample --model model.pt -n 10000 --device cuda
//       validity, uniqueness and samples a second of a SMILES model.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <numeric>
#include <random>
#include <set>

#include <CLI/CLI.hpp>

#include "app/cli/lm_train_options.h"
#include "app/cli/target_set.h"
#include "core/chem/molecule.h"
#include "generators/smiles_lm.h"
#include "learners/property_model.h"

using namespace labloop;

namespace {

double Since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int Fail(const Error& error) {
  std::cerr << "labloop-gpu-check: " << error.message << "\n";
  return 1;
}

struct PredictorsCheck {
  std::string data, target = "logp";
  std::vector<std::string> devices{"cpu", "cuda"};
  std::vector<std::string> models{"deep_ensemble", "mc_dropout", "dmpnn", "gp_dmpnn"};
  uint64_t seed = 1;
  int hidden = 256;
  int throughput_rows = 100000;
};

// Random 80/20 split; per model and device: fit seconds, predictions a second over
// `throughput_rows` rows (the data repeated), test RMSE, and the largest |Δμ| on the test rows
// against the first device.
int RunPredictors(const PredictorsCheck& check) {
  auto all = cli::ReadSet(check.data, check.target);
  if (!all) return Fail(all.error());
  if (all->y.size() < 10) {
    return Fail(Error{ErrorCode::kInvalidArgument,
                      check.data + ": fewer than 10 rows with a numeric '" + check.target + "'"});
  }
  std::vector<int64_t> order(all->y.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(check.seed);
  std::shuffle(order.begin(), order.end(), rng);
  const auto cut = static_cast<std::ptrdiff_t>(order.size() * 4 / 5);
  const cli::TargetSet train = cli::Subset(*all, {order.begin(), order.begin() + cut});
  const cli::TargetSet test = cli::Subset(*all, {order.begin() + cut, order.end()});
  std::vector<int64_t> many(static_cast<size_t>(check.throughput_rows));
  for (size_t i = 0; i < many.size(); ++i) many[i] = static_cast<int64_t>(i % all->y.size());
  const cli::TargetSet big = cli::Subset(*all, many);
  std::printf("%zu training rows, %zu test rows, throughput over %d rows\n", train.y.size(),
              test.y.size(), check.throughput_rows);
  std::printf("%-14s %-7s %9s %14s %9s %12s\n", "model", "device", "fit s", "predict/s", "RMSE",
              "max |dmu|");
  learners::ModelRegistry registry("model");
  learners::RegisterBuiltinModels(registry);
  int failures = 0;
  for (const auto& kind : check.models) {
    // The first device's test means; empty when it failed, and then no gap is shown.
    std::vector<double> reference;
    for (size_t d = 0; d < check.devices.size(); ++d) {
      const std::string& device = check.devices[d];
      learners::ModelOptions options;
      options.kind = kind;
      options.seed = check.seed;
      options.hidden = check.hidden;
      options.device = device;
      auto start = std::chrono::steady_clock::now();
      auto model = registry.Create(kind, options);
      Status fitted = model ? learners::FitOn(**model, train.x, train.graphs, train.y)
                            : Status(tl::unexpected(model.error()));
      const double fit_seconds = Since(start);
      Result<learners::Predictions> p = tl::unexpected(Error{});
      Result<learners::Predictions> throughput = tl::unexpected(Error{});
      double rate = 0;
      if (fitted) {
        p = learners::PredictOn(**model, test.x, test.graphs);
        start = std::chrono::steady_clock::now();
        if (p) throughput = learners::PredictOn(**model, big.x, big.graphs);
        rate = static_cast<double>(many.size()) / Since(start);
      }
      const Error* error = !fitted       ? &fitted.error()
                           : !p          ? &p.error()
                           : !throughput ? &throughput.error()
                                         : nullptr;
      if (error) {
        std::printf("%-14s %-7s FAILED: %s\n", kind.c_str(), device.c_str(),
                    error->message.c_str());
        ++failures;
        continue;
      }
      if (d == 0) reference = p->mean;
      std::string gap = d == 0 ? "reference" : "n/a";
      if (d > 0 && !reference.empty()) {
        double largest = 0;
        for (size_t i = 0; i < reference.size(); ++i) {
          largest = std::max(largest, std::abs(reference[i] - p->mean[i]));
        }
        char text[32];
        std::snprintf(text, sizeof text, "%.4f", largest);
        gap = text;
      }
      std::printf("%-14s %-7s %9.2f %14.0f %9.3f %12s\n", kind.c_str(), device.c_str(), fit_seconds,
                  rate, learners::Rmse(p->mean, test.y), gap.c_str());
      std::fflush(stdout);
    }
  }
  return failures == 0 ? 0 : 1;
}

// Validity (RDKit parses it), uniqueness among the valid, and samples a second (sampling alone;
// `labloop bench generators` times sampling and the check together).
int RunLmSample(const generators::GeneratorOptions& options, int64_t count) {
  const auto start = std::chrono::steady_clock::now();
  auto samples = generators::SampleSmilesLm(options, count);
  if (!samples) return Fail(samples.error());
  const double seconds = Since(start);
  std::set<std::string> unique;
  int64_t valid = 0;
  for (const auto& canonical : chem::CanonicalSmilesOf(samples->smiles)) {
    if (canonical.empty()) continue;
    ++valid;
    unique.insert(canonical);
  }
  std::printf(
      "%s on %s at T = %.2f: %lld samples in %.2f s (%.0f/s), validity %.4f, "
      "uniqueness %.4f\n",
      samples->model.c_str(), options.device.c_str(), options.temperature,
      static_cast<long long>(count), seconds, static_cast<double>(count) / seconds,
      static_cast<double>(valid) / static_cast<double>(count),
      valid ? static_cast<double>(unique.size()) / static_cast<double>(valid) : 0.0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"labloop-gpu-check: labloop's LibTorch models on a chosen device"};
  app.require_subcommand(1);

  PredictorsCheck check;
  auto* predictors = app.add_subcommand("predictors", "fit every LibTorch model on each device");
  predictors->add_option("--data", check.data, "CSV with a SMILES and a target column")->required();
  predictors->add_option("--target", check.target, "the target column (default logp)");
  predictors->add_option("--devices", check.devices, "devices, the first the reference")
      ->delimiter(',');
  predictors->add_option("--models", check.models, "model kinds")->delimiter(',');
  predictors->add_option("--seed", check.seed, "split and model seed");
  predictors->add_option("--hidden", check.hidden, "hidden width");
  predictors->add_option("--throughput-rows", check.throughput_rows, "rows predicted for the rate")
      ->check(CLI::PositiveNumber);

  generators::LmTrainOptions lm_options;
  auto* lm_train = app.add_subcommand("lm-train", "`labloop lm train`, with the same flags");
  cli::AddLmTrainOptions(*lm_train, lm_options);

  generators::GeneratorOptions sample_options;
  sample_options.kind = "smiles_lm";
  int64_t count = 10000;
  auto* lm_sample = app.add_subcommand("lm-sample", "validity and speed of a SMILES model");
  lm_sample->add_option("--model", sample_options.model, "model file (default: the shipped one)");
  lm_sample->add_option("-n", count, "samples")->check(CLI::PositiveNumber);
  lm_sample->add_option("--temperature", sample_options.temperature, "sampling temperature");
  lm_sample->add_option("--device", sample_options.device, "cpu, cuda or cuda:N");
  lm_sample->add_option("--seed", sample_options.seed, "random seed");

  CLI11_PARSE(app, argc, argv);
  if (*predictors) return RunPredictors(check);
  if (*lm_train) {
    auto trained = cli::RunLmTrain(lm_options);
    return trained ? 0 : Fail(trained.error());
  }
  return RunLmSample(sample_options, count);
}
