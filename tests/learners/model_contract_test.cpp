// The contract every registered PropertyModel keeps: fit, predict, save and load on a small data
// set, with the same answers after a round trip and for the same seed.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <random>

#include "core/chem/fingerprint.h"
#include "core/chem/graph.h"
#include "core/chem/molecule.h"

#include "learners/property_model.h"

using namespace labloop;
using namespace labloop::learners;

namespace {
// ESOL molecules as both inputs a model may read: count fingerprints and graphs.
struct Data {
  SparseMatrix x{1024};
  std::vector<chem::MolGraph> graphs;
  std::vector<double> y;
};

Data Esol(size_t first, size_t count) {
  std::ifstream in(std::string(LABLOOP_TEST_DATA) + "/esol150.csv");
  std::string line;
  std::getline(in, line);  // header
  Data d;
  chem::MorganOptions morgan;
  morgan.size = 1024;
  for (size_t row = 0; std::getline(in, line) && d.y.size() < count; ++row) {
    if (row < first) continue;
    auto comma = line.find(',');
    auto molecule = chem::Molecule::FromSmiles(line.substr(0, comma));
    REQUIRE(molecule);
    auto fp = chem::MorganFingerprint(*molecule, morgan);
    d.x.AddRow(std::vector<int>(fp.indices.begin(), fp.indices.end()), fp.values);
    d.graphs.push_back(*chem::BuildMolGraph(*molecule));
    d.y.push_back(std::stod(line.substr(comma + 1)));
  }
  return d;
}

Status Fit(PropertyModel& model, const Data& d, const std::vector<double>& y) {
  return FitOn(model, d.x, d.graphs, y);
}

Result<Predictions> Predict(const PropertyModel& model, const Data& d) {
  return PredictOn(model, d.x, d.graphs);
}

// Small, quick models of a kind, seeded.
ModelOptions Small(const std::string& kind) {
  ModelOptions options;
  options.kind = kind;
  options.seed = 11;
  options.hidden = 16;
  options.members = 3;
  options.min_steps = 50;
  options.epochs = 5;
  options.threads = 1;
  return options;
}
}  // namespace

TEST_CASE("Every registered model keeps the PropertyModel contract") {
  ModelRegistry registry("model");
  RegisterBuiltinModels(registry);
  const Data train = Esol(0, 80), test = Esol(100, 30);
  const std::vector<double>& y = train.y;
  for (const auto& kind : registry.Names()) {
    DYNAMIC_SECTION(kind) {
      const ModelOptions options = Small(kind);
      auto model = registry.Create(kind, options);
      REQUIRE(model);
      CHECK((*model)->Kind() == kind);
      CHECK_FALSE(Predict(**model, test));  // not fitted yet: an error, not a crash
      CHECK_FALSE((*model)->Save());
      REQUIRE(Fit(**model, train, y));
      auto p = Predict(**model, test);
      REQUIRE(p);
      REQUIRE(p->size() == 30);
      REQUIRE(p->sigma_epistemic.size() == 30);
      REQUIRE(p->sigma_aleatoric.size() == 30);
      for (size_t i = 0; i < 30; ++i) {
        CHECK(std::isfinite(p->mean[i]));
        CHECK(p->sigma_epistemic[i] >= 0);
        CHECK(p->sigma_aleatoric[i] >= 0);
      }
      if (!(*model)->ReadsGraphs()) {
        auto means = (*model)->PredictMean(test.x);
        REQUIRE(means);
        for (size_t i = 0; i < 30; ++i) CHECK(means->mean[i] == Approx(p->mean[i]));
      }

      // Save / Load: the same predictions from a fresh object made with default options, as
      // model files and campaigns load them: whatever predicting needs is in the bytes.
      auto bytes = (*model)->Save();
      REQUIRE(bytes);
      ModelOptions plain;
      plain.kind = kind;
      auto loaded = registry.Create(kind, plain);
      REQUIRE(loaded);
      REQUIRE((*loaded)->Load(*bytes));
      auto again = Predict(**loaded, test);
      REQUIRE(again);
      for (size_t i = 0; i < 30; ++i) {
        CHECK(again->mean[i] == Approx(p->mean[i]).epsilon(1e-6));
        CHECK(again->Sigma(i) == Approx(p->Sigma(i)).epsilon(1e-6));
      }
      CHECK_FALSE((*loaded)->Load("not a model"));

      // Same seed, same data: the same model (CPU).
      auto twin = registry.Create(kind, options);
      REQUIRE(Fit(**twin, train, y));
      auto twin_p = Predict(**twin, test);
      REQUIRE(twin_p);
      for (size_t i = 0; i < 30; ++i) CHECK(twin_p->mean[i] == p->mean[i]);

      // A molecule's prediction does not depend on the rows predicted with it (MC dropout's
      // masks included): the last ten rows alone, in reverse order, as within all thirty.
      Data tail;
      std::vector<size_t> rows;
      for (size_t i = 29; i >= 20; --i) rows.push_back(i);
      tail.x = test.x.Select(std::vector<int64_t>(rows.begin(), rows.end()));
      for (size_t i : rows) {
        if (!test.graphs.empty()) tail.graphs.push_back(test.graphs[i]);
        tail.y.push_back(test.y[i]);
      }
      auto alone = Predict(**model, tail);
      REQUIRE(alone);
      for (size_t k = 0; k < rows.size(); ++k) {
        CHECK(alone->mean[k] == Approx(p->mean[rows[k]]).epsilon(1e-5));
        CHECK(alone->Sigma(k) == Approx(p->Sigma(rows[k])).epsilon(1e-5));
      }

      // Bad input: an error, not a crash.
      CHECK_FALSE(Fit(**model, train, std::vector<double>(5, 0.0)));
    }
  }
}

// Runs only where asked for ("[cuda]") on a machine with a CUDA LibTorch (docs/gpu.md). Training
// on CUDA is not bit-identical to the CPU (other kernels, another random stream for dropout), so
// the two devices are held to the same accuracy, not the same digits; a saved model predicts the
// same on either device.
TEST_CASE("Every LibTorch model fits and predicts on CUDA as on the CPU", "[.cuda]") {
  ModelRegistry registry("model");
  RegisterBuiltinModels(registry);
  const Data train = Esol(0, 100), test = Esol(100, 50);
  auto rmse = [&](const Predictions& p) { return Rmse(p.mean, test.y); };
  for (const auto& kind : registry.Names()) {
    if (kind == "tanimoto_gp") continue;  // CPU only, by design
    DYNAMIC_SECTION(kind) {
      ModelOptions options = Small(kind);  // trained longer: accuracy is compared
      options.hidden = 32;
      options.min_steps = 300;
      options.epochs = 30;
      ModelOptions on_cuda = options;
      on_cuda.device = "cuda";
      auto cpu = registry.Create(kind, options);
      auto gpu = registry.Create(kind, on_cuda);
      REQUIRE(cpu);
      REQUIRE(gpu);
      REQUIRE(Fit(**cpu, train, train.y));
      REQUIRE(Fit(**gpu, train, train.y));
      auto p_cpu = Predict(**cpu, test);
      auto p_gpu = Predict(**gpu, test);
      REQUIRE(p_cpu);
      REQUIRE(p_gpu);
      for (size_t i = 0; i < test.y.size(); ++i) {
        CHECK(std::isfinite(p_gpu->mean[i]));
        CHECK(p_gpu->Sigma(i) > 0);
      }
      // MC dropout also predicts with its own masks on each device: seed-to-seed noise.
      const bool sampled = kind == "mc_dropout";
      INFO("test RMSE: cpu " << rmse(*p_cpu) << ", cuda " << rmse(*p_gpu));
      CHECK(std::abs(rmse(*p_gpu) - rmse(*p_cpu)) < (sampled ? 0.3 : 0.15));

      // Fitted on CUDA, loaded on the CPU (and the reverse): the same predictions; for MC dropout,
      // the same on average.
      auto gpu_bytes = (*gpu)->Save();
      REQUIRE(gpu_bytes);
      auto moved = registry.Create(kind, options);
      REQUIRE((*moved)->Load(*gpu_bytes));
      auto p_moved = Predict(**moved, test);
      REQUIRE(p_moved);
      auto cpu_bytes = (*cpu)->Save();
      REQUIRE(cpu_bytes);
      auto back = registry.Create(kind, on_cuda);
      REQUIRE((*back)->Load(*cpu_bytes));
      auto p_back = Predict(**back, test);
      REQUIRE(p_back);
      double moved_gap = 0, back_gap = 0;  // mean |Δμ|
      for (size_t i = 0; i < test.y.size(); ++i) {
        moved_gap += std::abs(p_moved->mean[i] - p_gpu->mean[i]) / test.y.size();
        back_gap += std::abs(p_back->mean[i] - p_cpu->mean[i]) / test.y.size();
        if (!sampled) {
          CHECK(p_moved->mean[i] == Approx(p_gpu->mean[i]).margin(1e-3));
          CHECK(p_back->mean[i] == Approx(p_cpu->mean[i]).margin(1e-3));
        }
      }
      CHECK(moved_gap < (sampled ? 0.15 : 1e-3));
      CHECK(back_gap < (sampled ? 0.15 : 1e-3));
    }
  }
  // A device index past the machine's devices is named in the error.
  ModelOptions options;
  options.kind = "deep_ensemble";
  options.device = "cuda:64";
  auto model = registry.Create("deep_ensemble", options);
  Status fitted = model ? Fit(**model, train, train.y) : Status(tl::unexpected(model.error()));
  REQUIRE_FALSE(fitted);
  CHECK(fitted.error().message.find("'cuda:64' requested but this machine has") !=
        std::string::npos);
}
