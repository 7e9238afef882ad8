#include "learners/deep_ensemble.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "learners/torch_util.h"

namespace labloop::learners {

namespace {

// M members as one network: their weights stacked so that each layer is one batched operation.
struct EnsembleNetImpl : torch::nn::Module {
  EnsembleNetImpl(int64_t cols, int64_t members, int64_t hidden, double avg_on_bits, double dropout)
      : members(members), hidden(hidden), dropout(dropout) {
    embed = register_module(
        "embed", torch::nn::EmbeddingBag(
                     torch::nn::EmbeddingBagOptions(cols, members * hidden).mode(torch::kSum)));
    bias1 = register_parameter("bias1", torch::zeros({members * hidden}));
    w2 = register_parameter("w2", torch::empty({members, hidden, hidden}));
    b2 = register_parameter("b2", torch::zeros({members, 1, hidden}));
    w3 = register_parameter("w3", torch::empty({members, hidden, 2}));
    b3 = register_parameter("b3", torch::zeros({members, 1, 2}));
    torch::NoGradGuard no_grad;
    // Scaled so that a row's sum over its on-bits starts with unit-order activations.
    double a = std::sqrt(3.0 / std::max(1.0, avg_on_bits));
    embed->weight.uniform_(-a, a);
    double b = 1.0 / std::sqrt(static_cast<double>(hidden));
    w2.uniform_(-b, b);
    w3.uniform_(-b, b);
  }

  // Returns [members, rows, 2]: mean and raw (pre-softplus) variance.
  torch::Tensor forward(const torch::Tensor& indices, const torch::Tensor& offsets,
                        const torch::Tensor& weights) {
    int64_t rows = offsets.size(0);
    auto h = embed->forward(indices, offsets, weights) + bias1;
    h = torch::relu(h).view({rows, members, hidden}).transpose(0, 1);
    if (dropout > 0) h = torch::dropout(h, dropout, is_training());
    h = torch::relu(torch::baddbmm(b2, h, w2));
    if (dropout > 0) h = torch::dropout(h, dropout, is_training());
    return torch::baddbmm(b3, h, w3);
  }

  // One MC dropout pass with given masks ([members, 1, hidden], kept units 1/(1 − p), else 0),
  // the same for every row: a pass is one sub-network, whatever rows share the batch.
  torch::Tensor forward_masked(const torch::Tensor& indices, const torch::Tensor& offsets,
                               const torch::Tensor& weights, const torch::Tensor& mask1,
                               const torch::Tensor& mask2) {
    int64_t rows = offsets.size(0);
    auto h = embed->forward(indices, offsets, weights) + bias1;
    h = torch::relu(h).view({rows, members, hidden}).transpose(0, 1) * mask1;
    h = torch::relu(torch::baddbmm(b2, h, w2)) * mask2;
    return torch::baddbmm(b3, h, w3);
  }

  int64_t members, hidden;
  double dropout;  // 0: none (the deep ensemble)
  torch::nn::EmbeddingBag embed{nullptr};
  torch::Tensor bias1, w2, b2, w3, b3;
};
TORCH_MODULE(EnsembleNet);

class DeepEnsemble final : public PropertyModel {
 public:
  // `mc_samples` > 0 makes it MC dropout: one network, dropout on while predicting.
  DeepEnsemble(const ModelOptions& options, torch::Device device, int mc_samples)
      : options_(options), device_(device), mc_samples_(mc_samples) {
    if (mc_samples_ > 0) options_.members = 1;
    if (mc_samples_ == 0) options_.dropout = 0;
  }

  std::string Kind() const override { return mc_samples_ > 0 ? "mc_dropout" : "deep_ensemble"; }

  Status Fit(const SparseMatrix& x, const std::vector<double>& y) override {
    const int64_t n = x.Rows();
    if (n < 2 || static_cast<int64_t>(y.size()) != n) {
      return MakeError(ErrorCode::kInvalidArgument,
                       Kind() + " needs at least 2 training rows with one target each (got " +
                           std::to_string(n) + " rows, " + std::to_string(y.size()) + " targets)");
    }
    fitted_ = false;  // until this fit succeeds: a failed refit leaves no half-trained model
    return GuardTorch("training " + Kind(), [&]() -> Status {
      // One thread unless told otherwise: on minibatches this small, OpenMP synchronization costs
      // more than it saves (measured: 1,000 points train 1.7x faster on 1 thread than on 2).
      ScopedTorchThreads threads(options_.threads > 0 ? options_.threads : 1);
      auto seeded = SeedTorch(options_.seed);
      double mean = std::accumulate(y.begin(), y.end(), 0.0) / static_cast<double>(n);
      double var = 0;
      for (double v : y) var += (v - mean) * (v - mean);
      double sd = std::sqrt(var / static_cast<double>(n));
      y_mean_ = mean;
      y_std_ = sd > 1e-12 ? sd : 1.0;
      cols_ = x.cols;
      avg_on_bits_ = static_cast<double>(x.indices.size()) / static_cast<double>(n);
      net_ = EnsembleNet(cols_, options_.members, options_.hidden, avg_on_bits_, options_.dropout);
      net_->to(device_);

      std::vector<float> y_std(n);
      for (int64_t i = 0; i < n; ++i) y_std[i] = static_cast<float>((y[i] - y_mean_) / y_std_);
      // Early stopping: a seeded share of the rows is held out, and the weights of the epoch
      // with the lowest validation RMSE (of the ensemble mean) are kept.
      std::vector<int64_t> train_rows(n), valid_rows;
      std::iota(train_rows.begin(), train_rows.end(), 0);
      {
        int64_t n_valid = static_cast<int64_t>(options_.validation_fraction * n);
        if (n - n_valid >= 2 && n_valid > 0) {
          std::mt19937_64 split_rng(options_.seed ^ 0x5eedULL);
          std::shuffle(train_rows.begin(), train_rows.end(), split_rng);
          valid_rows.assign(train_rows.begin(), train_rows.begin() + n_valid);
          train_rows.erase(train_rows.begin(), train_rows.begin() + n_valid);
        }
      }
      SparseMatrix valid_x = x.Select(valid_rows);
      auto validation_rmse = [&]() {
        torch::NoGradGuard no_grad;
        net_->eval();
        CsrTensors t = ToTensors(valid_x, 0, valid_x.Rows(), device_);
        auto mu =
            net_->forward(t.indices, t.offsets, t.weights).select(2, 0).mean(0).to(torch::kCPU);
        double sum = 0;
        for (size_t i = 0; i < valid_rows.size(); ++i) {
          double d = mu[static_cast<int64_t>(i)].item<double>() - y_std[valid_rows[i]];
          sum += d * d;
        }
        net_->train();
        return std::sqrt(sum / static_cast<double>(valid_rows.size()));
      };
      double best_rmse = std::numeric_limits<double>::infinity();
      int64_t best_epoch = -1, since_best = 0, epochs_run = 0;
      std::vector<torch::Tensor> best_state;

      // Decoupled weight decay (AdamW): with Adam's L2 form, the normalized update drives the
      // embedding rows of bits never seen in training to zero, and the members then agree on
      // unfamiliar molecules, which is exactly where their disagreement is needed.
      torch::optim::AdamW optimizer(
          net_->parameters(),
          torch::optim::AdamWOptions(options_.learning_rate).weight_decay(options_.weight_decay));
      const int64_t n_train = static_cast<int64_t>(train_rows.size());
      const int64_t batch = std::min<int64_t>(options_.batch_size, n_train);
      const int64_t steps_per_epoch = (n_train + batch - 1) / batch;
      const int64_t total_steps =
          std::max<int64_t>(options_.epochs * steps_per_epoch, options_.min_steps);
      const int64_t warmup = total_steps / 5;
      std::mt19937_64 rng(options_.seed);
      std::vector<int64_t> order = train_rows;
      int64_t cursor = n_train;
      net_->train();
      for (int64_t step = 0; step < total_steps; ++step) {
        if (cursor + batch > n_train) {
          std::shuffle(order.begin(), order.end(), rng);
          cursor = 0;
        }
        // At each epoch's end after the warm-up: early stopping's check.
        if (!valid_rows.empty() && step > warmup && step % steps_per_epoch == 0) {
          ++epochs_run;
          double rmse = validation_rmse();
          if (rmse < best_rmse) {
            best_rmse = rmse;
            best_epoch = step / steps_per_epoch;
            since_best = 0;
            best_state.clear();
            for (const auto& p : net_->parameters()) best_state.push_back(p.detach().clone());
          } else if (++since_best >= options_.patience) {
            break;
          }
        }
        std::vector<int64_t> rows(order.begin() + cursor, order.begin() + cursor + batch);
        cursor += batch;
        SparseMatrix part = x.Select(rows);
        std::vector<float> target(batch);
        for (int64_t i = 0; i < batch; ++i) target[i] = y_std[rows[i]];
        CsrTensors t = ToTensors(part, 0, batch, device_);
        auto yt = torch::from_blob(target.data(), {1, batch}, torch::kFloat32).to(device_);
        auto out = net_->forward(t.indices, t.offsets, t.weights);
        auto loss = MeanVarianceLoss(out.select(2, 0), out.select(2, 1), yt, step < warmup);
        if (!std::isfinite(loss.item<double>())) {
          return MakeError(ErrorCode::kFailedPrecondition,
                           Kind() + " training diverged (non-finite loss at step " +
                               std::to_string(step) + "); lower model.learning_rate (now " +
                               std::to_string(options_.learning_rate) + ")");
        }
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
      }
      if (!valid_rows.empty()) {
        double last = validation_rmse();
        if (last < best_rmse || best_state.empty()) {
          best_rmse = last;
          best_epoch = total_steps / steps_per_epoch;
        } else {
          torch::NoGradGuard no_grad;
          auto params = net_->parameters();
          for (size_t i = 0; i < params.size(); ++i) params[i].copy_(best_state[i]);
        }
        report_ = nlohmann::json{{"early_stopping",
                                  {{"held_out", valid_rows.size()},
                                   {"best_epoch", best_epoch},
                                   {"epochs_checked", epochs_run},
                                   {"validation_rmse", best_rmse * y_std_}}}}
                      .dump();
      } else {
        report_ = "{}";
      }
      net_->eval();
      fitted_ = true;
      return {};
    });
  }

  Result<Predictions> Predict(const SparseMatrix& x) const override {
    if (!fitted_) return MakeError(ErrorCode::kFailedPrecondition, Kind() + " is not fitted");
    if (x.cols != cols_) {
      return MakeError(ErrorCode::kInvalidArgument, "fingerprint length " + std::to_string(x.cols) +
                                                        " differs from the model's " +
                                                        std::to_string(cols_));
    }
    return GuardTorch("predicting with " + Kind(), [&]() -> Result<Predictions> {
      ScopedTorchThreads threads(options_.threads);
      torch::NoGradGuard no_grad;
      const int64_t n = x.Rows();
      Predictions p;
      p.mean.resize(n);
      p.sigma_epistemic.resize(n);
      p.sigma_aleatoric.resize(n);
      // The ensemble's members, or MC dropout's passes: each pass one dropout mask per layer,
      // drawn from the model's own seed and shared by every row, so that a molecule's μ and σ
      // do not depend on the other rows, and each pass's means are one function's (Thompson
      // sampling, EHVI).
      const int64_t draws = mc_samples_ > 0 ? mc_samples_ : options_.members;
      p.member_means.assign(draws, std::vector<float>(n));
      std::vector<std::pair<torch::Tensor, torch::Tensor>> masks;
      if (mc_samples_ > 0) {
        auto generator = at::detail::createCPUGenerator(options_.seed + 1);
        const auto shape = std::vector<int64_t>{options_.members, 1, options_.hidden};
        const double keep = 1.0 - options_.dropout;
        auto draw = [&] {
          return (torch::empty(shape, torch::kFloat32).bernoulli_(keep, generator) / keep)
              .to(device_);
        };
        for (int s = 0; s < mc_samples_; ++s) {
          auto first = draw();
          masks.emplace_back(first, draw());
        }
      }
      constexpr int64_t kChunk = 8192;
      for (int64_t start = 0; start < n; start += kChunk) {
        int64_t count = std::min(kChunk, n - start);
        CsrTensors t = ToTensors(x, start, count, device_);
        torch::Tensor out;
        if (mc_samples_ > 0) {
          std::vector<torch::Tensor> passes;
          for (const auto& [first, second] : masks) {
            passes.push_back(net_->forward_masked(t.indices, t.offsets, t.weights, first, second));
          }
          out = torch::cat(passes, 0);
        } else {
          out = net_->forward(t.indices, t.offsets, t.weights);
        }
        LABLOOP_TRY(FillEnsemblePredictions(out, y_mean_, y_std_, start, Kind(), p));
      }
      return p;
    });
  }

  Result<std::string> Save() const override {
    if (!fitted_) return MakeError(ErrorCode::kFailedPrecondition, Kind() + " is not fitted");
    return GuardTorch("saving " + Kind(), [&]() -> Result<std::string> {
      torch::serialize::OutputArchive archive;
      archive.write(
          "meta", torch::tensor({static_cast<double>(cols_), static_cast<double>(options_.members),
                                 static_cast<double>(options_.hidden), avg_on_bits_, y_mean_,
                                 y_std_, options_.dropout, static_cast<double>(mc_samples_)},
                                torch::kFloat64));
      archive.write("seed", torch::tensor({static_cast<int64_t>(options_.seed)}, torch::kInt64));
      torch::serialize::OutputArchive weights;
      net_->save(weights);  // Load maps the tensors to the CPU, whatever device they were on
      archive.write("net", weights);
      std::ostringstream out;
      archive.save_to(out);
      return out.str();
    });
  }

  Status Load(const std::string& bytes) override {
    return GuardTorch("loading " + Kind(), [&]() -> Status {
      std::istringstream in(bytes);
      torch::serialize::InputArchive archive;
      archive.load_from(in, torch::kCPU);
      torch::Tensor meta;
      archive.read("meta", meta);
      if (meta.dim() != 1 || meta.scalar_type() != torch::kFloat64 || meta.numel() < 6) {
        return MakeError(ErrorCode::kInvalidArgument,
                         Kind() + " weights are damaged (their header has " +
                             std::to_string(meta.numel()) + " entries, at least 6 expected)");
      }
      auto m = meta.accessor<double, 1>();
      cols_ = static_cast<int64_t>(m[0]);
      options_.members = static_cast<int>(m[1]);
      options_.hidden = static_cast<int>(m[2]);
      avg_on_bits_ = m[3];
      y_mean_ = m[4];
      y_std_ = m[5];
      // Files from before MC dropout have 6 entries: an ensemble without dropout.
      if (meta.numel() >= 8) {
        options_.dropout = m[6];
        mc_samples_ = static_cast<int>(m[7]);
      }
      // The seed of MC dropout's masks; files from before it was stored: seed 0's.
      torch::Tensor seed;
      options_.seed = archive.try_read("seed", seed) && seed.numel() == 1
                          ? static_cast<uint64_t>(seed.item<int64_t>())
                          : 0;
      if (mc_samples_ > 0 && !(options_.dropout > 0 && options_.dropout < 1)) {
        return MakeError(ErrorCode::kInvalidArgument, Kind() + " weights are damaged (dropout " +
                                                          std::to_string(options_.dropout) + ")");
      }
      net_ = EnsembleNet(cols_, options_.members, options_.hidden, avg_on_bits_, options_.dropout);
      torch::serialize::InputArchive weights;
      archive.read("net", weights);
      net_->load(weights);
      net_->to(device_);
      net_->eval();
      fitted_ = true;
      return {};
    });
  }

 private:
  ModelOptions options_;
  torch::Device device_;
  int mc_samples_ = 0;
  mutable EnsembleNet net_{nullptr};  // forward() is not const in LibTorch
  std::string FitReport() const override { return report_; }

  std::string report_ = "{}";
  int64_t cols_ = 0;
  double avg_on_bits_ = 1, y_mean_ = 0, y_std_ = 1;
  bool fitted_ = false;
};

}  // namespace

Result<std::unique_ptr<PropertyModel>> CreateDeepEnsemble(const ModelOptions& options) {
  if (auto valid = options.Validate(); !valid) return tl::unexpected(valid.error());
  auto device = ParseDevice(options.device);
  if (!device) return tl::unexpected(device.error());
  return std::unique_ptr<PropertyModel>(new DeepEnsemble(options, *device, 0));
}

Result<std::unique_ptr<PropertyModel>> CreateMcDropout(const ModelOptions& options) {
  if (auto valid = options.Validate(); !valid) return tl::unexpected(valid.error());
  if (!(options.dropout > 0)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "model option dropout must be > 0 for mc_dropout");
  }
  auto device = ParseDevice(options.device);
  if (!device) return tl::unexpected(device.error());
  return std::unique_ptr<PropertyModel>(new DeepEnsemble(options, *device, options.mc_samples));
}

}  // namespace labloop::learners
