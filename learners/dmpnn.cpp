#include "learners/dmpnn.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "learners/torch_util.h"

namespace labloop::learners {

namespace {

using chem::kAtomFeatures;
using chem::kBondFeatures;
using chem::MolGraph;

// Many molecules as one disconnected graph, features expanded.
struct GraphBatch {
  torch::Tensor atoms;       // [N, kAtomFeatures]
  torch::Tensor bonds;       // [E, kAtomFeatures + kBondFeatures]: source atom, then the bond
  torch::Tensor source;      // [E] the atom each directed bond leaves
  torch::Tensor target;      // [E] the atom it enters
  torch::Tensor reverse;     // [E] the opposite directed bond
  torch::Tensor molecule;    // [N] the molecule of each atom
  torch::Tensor atom_count;  // [M, 1] atoms per molecule (at least 1)
  torch::Tensor features;    // [M, F] molecule-level features (F may be 0)
  int64_t molecules = 0;
};

// Molecule-level features are standardized: (f - mean) * scale, per feature.
struct FeatureScaling {
  std::vector<float> mean, scale;
};

GraphBatch MakeBatch(const std::vector<MolGraph>& graphs, const std::vector<int64_t>& rows,
                     const FeatureScaling& scaling, torch::Device device) {
  int64_t n_atoms = 0, n_bonds = 0;
  for (int64_t r : rows) {
    n_atoms += graphs[r].atoms;
    n_bonds += 2 * graphs[r].Bonds();
  }
  constexpr int kBondInput = kAtomFeatures + kBondFeatures;
  std::vector<float> atoms(static_cast<size_t>(n_atoms) * kAtomFeatures, 0.0f);
  std::vector<float> bonds(static_cast<size_t>(n_bonds) * kBondInput, 0.0f);
  std::vector<int64_t> source(n_bonds), target(n_bonds), reverse(n_bonds), molecule(n_atoms);
  std::vector<float> counts(rows.size());
  const int64_t n_features =
      rows.empty() ? 0 : static_cast<int64_t>(graphs[rows[0]].features.size());
  std::vector<float> features(rows.size() * n_features);
  int64_t atom0 = 0, bond0 = 0;
  for (size_t m = 0; m < rows.size(); ++m) {
    const MolGraph& g = graphs[rows[m]];
    for (int a = 0; a < g.atoms; ++a) {
      chem::FeaturizeAtom(g, a, &atoms[(atom0 + a) * kAtomFeatures]);
      molecule[atom0 + a] = static_cast<int64_t>(m);
    }
    for (int b = 0; b < g.Bonds(); ++b) {
      const int64_t ends[2] = {atom0 + g.bond_atoms[2 * b], atom0 + g.bond_atoms[2 * b + 1]};
      for (int dir = 0; dir < 2; ++dir) {
        const int64_t d = bond0 + 2 * b + dir;
        source[d] = ends[dir];
        target[d] = ends[1 - dir];
        reverse[d] = bond0 + 2 * b + (1 - dir);
        float* row = &bonds[d * kBondInput];
        std::copy_n(&atoms[source[d] * kAtomFeatures], kAtomFeatures, row);
        chem::FeaturizeBond(g, b, row + kAtomFeatures);
      }
    }
    counts[m] = static_cast<float>(std::max(1, g.atoms));
    for (int64_t f = 0; f < std::min<int64_t>(n_features, g.features.size()); ++f) {
      features[m * n_features + f] = (g.features[f] - scaling.mean[f]) * scaling.scale[f];
    }
    atom0 += g.atoms;
    bond0 += 2 * g.Bonds();
  }
  auto floats = [&](std::vector<float>& v, std::vector<int64_t> shape) {
    return torch::from_blob(v.data(), shape, torch::kFloat32).clone().to(device);
  };
  auto longs = [&](std::vector<int64_t>& v) {
    return torch::from_blob(v.data(), {static_cast<int64_t>(v.size())}, torch::kInt64)
        .clone()
        .to(device);
  };
  GraphBatch batch;
  batch.atoms = floats(atoms, {n_atoms, kAtomFeatures});
  batch.bonds = floats(bonds, {n_bonds, kBondInput});
  batch.source = longs(source);
  batch.target = longs(target);
  batch.reverse = longs(reverse);
  batch.molecule = longs(molecule);
  batch.atom_count = floats(counts, {static_cast<int64_t>(rows.size()), 1});
  batch.features = floats(features, {static_cast<int64_t>(rows.size()), n_features});
  batch.molecules = static_cast<int64_t>(rows.size());
  return batch;
}

struct MpnNetImpl : torch::nn::Module {
  MpnNetImpl(int64_t hidden, int64_t depth, double dropout, int64_t features)
      : hidden(hidden), depth(depth), dropout(dropout), features(features) {
    w_i = register_module(
        "w_i", torch::nn::Linear(
                   torch::nn::LinearOptions(kAtomFeatures + kBondFeatures, hidden).bias(false)));
    w_h = register_module("w_h",
                          torch::nn::Linear(torch::nn::LinearOptions(hidden, hidden).bias(false)));
    w_o = register_module("w_o", torch::nn::Linear(kAtomFeatures + hidden, hidden));
    ffn1 = register_module("ffn1", torch::nn::Linear(hidden + features, hidden));
    ffn2 = register_module("ffn2", torch::nn::Linear(hidden, 2));
  }

  // [molecules, 2]: mean and raw (pre-softplus) variance.
  torch::Tensor forward(const GraphBatch& b) {
    const int64_t n_atoms = b.atoms.size(0);
    auto input = w_i->forward(b.bonds);
    auto message = torch::relu(input);
    for (int64_t step = 1; step < depth; ++step) {
      auto incoming =
          torch::zeros({n_atoms, hidden}, message.options()).index_add_(0, b.target, message);
      auto m = incoming.index_select(0, b.source) - message.index_select(0, b.reverse);
      message = torch::relu(input + w_h->forward(m));
      if (dropout > 0) message = torch::dropout(message, dropout, is_training());
    }
    auto incoming =
        torch::zeros({n_atoms, hidden}, message.options()).index_add_(0, b.target, message);
    auto atom_h = torch::relu(w_o->forward(torch::cat({b.atoms, incoming}, 1)));
    if (dropout > 0) atom_h = torch::dropout(atom_h, dropout, is_training());
    auto mol =
        torch::zeros({b.molecules, hidden}, atom_h.options()).index_add_(0, b.molecule, atom_h) /
        b.atom_count;
    if (features > 0) mol = torch::cat({mol, b.features}, 1);
    auto h = torch::relu(ffn1->forward(mol));
    if (dropout > 0) h = torch::dropout(h, dropout, is_training());
    return ffn2->forward(h);
  }

  int64_t hidden, depth;
  double dropout;
  int64_t features;  // molecule-level features beside the graph readout
  torch::nn::Linear w_i{nullptr}, w_h{nullptr}, w_o{nullptr}, ffn1{nullptr}, ffn2{nullptr};
};
TORCH_MODULE(MpnNet);

class Dmpnn final : public PropertyModel {
 public:
  // Dropout is MC dropout's option; the D-MPNN trains without it, as chemprop does by default.
  Dmpnn(const ModelOptions& options, torch::Device device) : options_(options), device_(device) {
    options_.dropout = 0;
  }
  std::string Kind() const override { return "dmpnn"; }
  bool ReadsGraphs() const override { return true; }

  Status Fit(const SparseMatrix&, const std::vector<double>&) override {
    return MakeError(ErrorCode::kInvalidArgument, "dmpnn reads molecular graphs: use FitGraphs");
  }
  Result<Predictions> Predict(const SparseMatrix&) const override {
    return MakeError(ErrorCode::kInvalidArgument,
                     "dmpnn reads molecular graphs: use PredictGraphs");
  }

  // The fingerprint rows are not read: the graphs and their molecule-level features are all.
  Status FitGraphs(const SparseMatrix&, const std::vector<MolGraph>& graphs,
                   const std::vector<double>& y) override {
    const int64_t n = static_cast<int64_t>(graphs.size());
    if (n < 2 || static_cast<int64_t>(y.size()) != n) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "dmpnn needs at least 2 training molecules with one target each (got " +
                           std::to_string(n) + " molecules, " + std::to_string(y.size()) +
                           " targets)");
    }
    fitted_ = false;  // until this fit succeeds
    features_ = static_cast<int64_t>(graphs[0].features.size());
    for (int64_t i = 0; i < n; ++i) {
      if (static_cast<int64_t>(graphs[i].features.size()) != features_) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "dmpnn: molecule " + std::to_string(i) + " has " +
                             std::to_string(graphs[i].features.size()) +
                             " molecule features, the first has " + std::to_string(features_));
      }
    }
    scaling_ = StandardizeFeatures(graphs);
    return GuardTorch("training dmpnn", [&]() -> Status {
      ScopedTorchThreads threads(options_.threads > 0 ? options_.threads : 1);
      double mean = std::accumulate(y.begin(), y.end(), 0.0) / static_cast<double>(n);
      double var = 0;
      for (double v : y) var += (v - mean) * (v - mean);
      double sd = std::sqrt(var / static_cast<double>(n));
      y_mean_ = mean;
      y_std_ = sd > 1e-12 ? sd : 1.0;
      std::vector<float> target(n);
      for (int64_t i = 0; i < n; ++i) target[i] = static_cast<float>((y[i] - y_mean_) / y_std_);
      // The early-stopping hold-out: the same rows for every member.
      std::mt19937_64 split_rng(options_.seed ^ 0x5eedULL);
      std::vector<int64_t> order(n);
      std::iota(order.begin(), order.end(), 0);
      std::shuffle(order.begin(), order.end(), split_rng);
      int64_t n_valid = static_cast<int64_t>(options_.validation_fraction * n);
      if (n - n_valid < 2) n_valid = 0;
      std::vector<int64_t> valid(order.begin(), order.begin() + n_valid);
      std::vector<int64_t> train(order.begin() + n_valid, order.end());
      nets_.clear();
      epochs_run_.clear();
      validation_rmse_.clear();
      for (int k = 0; k < options_.members; ++k) {
        auto net = TrainMember(graphs, target, train, valid, options_.seed + 1000003ULL * k);
        if (!net) return tl::unexpected(net.error());
        nets_.push_back(*net);
      }
      nlohmann::json report = nlohmann::json::object();
      if (!valid.empty()) {
        report["early_stopping"] = {{"held_out", valid.size()},
                                    {"best_epoch_per_member", epochs_run_},
                                    {"validation_rmse_per_member", validation_rmse_}};
      }
      report_ = report.dump();
      fitted_ = true;
      return {};
    });
  }

  std::string FitReport() const override { return report_; }

  Result<Predictions> PredictGraphs(const SparseMatrix&,
                                    const std::vector<MolGraph>& graphs) const override {
    if (!fitted_) return MakeError(ErrorCode::kFailedPrecondition, "dmpnn is not fitted");
    for (size_t i = 0; i < graphs.size(); ++i) {
      if (static_cast<int64_t>(graphs[i].features.size()) != features_) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "dmpnn was trained with " + std::to_string(features_) +
                             " molecule features; molecule " + std::to_string(i) + " has " +
                             std::to_string(graphs[i].features.size()));
      }
    }
    return GuardTorch("predicting with dmpnn", [&]() -> Result<Predictions> {
      ScopedTorchThreads threads(options_.threads);
      torch::NoGradGuard no_grad;
      const int64_t n = static_cast<int64_t>(graphs.size());
      const int64_t members = static_cast<int64_t>(nets_.size());
      Predictions p;
      p.mean.resize(n);
      p.sigma_epistemic.resize(n);
      p.sigma_aleatoric.resize(n);
      p.member_means.assign(members, std::vector<float>(n));
      constexpr int64_t kChunk = 2048;
      for (int64_t start = 0; start < n; start += kChunk) {
        std::vector<int64_t> rows(std::min(kChunk, n - start));
        std::iota(rows.begin(), rows.end(), start);
        GraphBatch batch = MakeBatch(graphs, rows, scaling_, device_);
        std::vector<torch::Tensor> outs;
        for (auto& net : nets_) outs.push_back(net->forward(batch));
        auto out = torch::stack(outs, 0);  // [members, rows, 2]
        LABLOOP_TRY(FillEnsemblePredictions(out, y_mean_, y_std_, start, "dmpnn", p));
      }
      return p;
    });
  }

  Result<std::string> Save() const override {
    if (!fitted_) return MakeError(ErrorCode::kFailedPrecondition, "dmpnn is not fitted");
    return GuardTorch("saving dmpnn", [&]() -> Result<std::string> {
      torch::serialize::OutputArchive archive;
      archive.write("meta", torch::tensor({static_cast<double>(nets_.size()),
                                           static_cast<double>(options_.hidden),
                                           static_cast<double>(options_.depth), y_mean_, y_std_,
                                           options_.dropout, static_cast<double>(features_)},
                                          torch::kFloat64));
      archive.write("feature_mean", FloatTensor(scaling_.mean));
      archive.write("feature_scale", FloatTensor(scaling_.scale));
      for (size_t k = 0; k < nets_.size(); ++k) {
        torch::serialize::OutputArchive weights;
        nets_[k]->save(weights);  // Load maps the tensors to the CPU, whatever their device
        archive.write("member" + std::to_string(k), weights);
      }
      std::ostringstream out;
      archive.save_to(out);
      return out.str();
    });
  }

  Status Load(const std::string& bytes) override {
    fitted_ = false;  // until this load succeeds
    return GuardTorch("loading dmpnn", [&]() -> Status {
      std::istringstream in(bytes);
      torch::serialize::InputArchive archive;
      archive.load_from(in, torch::kCPU);
      torch::Tensor meta;
      archive.read("meta", meta);
      if (meta.dim() != 1 || meta.numel() != 7 || meta.scalar_type() != torch::kFloat64) {
        return MakeError(ErrorCode::kInvalidArgument, "not a dmpnn model (bad header)");
      }
      auto m = meta.accessor<double, 1>();
      options_.members = static_cast<int>(m[0]);
      options_.hidden = static_cast<int>(m[1]);
      options_.depth = static_cast<int>(m[2]);
      y_mean_ = m[3];
      y_std_ = m[4];
      options_.dropout = m[5];
      features_ = static_cast<int64_t>(m[6]);
      // Models saved before features were standardized have no scaling: the identity.
      scaling_.mean.assign(features_, 0.0f);
      scaling_.scale.assign(features_, 1.0f);
      torch::Tensor mean, scale;
      const bool has_mean = archive.try_read("feature_mean", mean);
      const bool has_scale = archive.try_read("feature_scale", scale);
      if (has_mean != has_scale) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "damaged dmpnn model (half of its feature scaling)");
      }
      if (has_mean) {
        if (mean.numel() != features_ || scale.numel() != features_) {
          return MakeError(ErrorCode::kInvalidArgument, "not a dmpnn model (bad feature scaling)");
        }
        mean = mean.to(torch::kFloat32).contiguous();
        scale = scale.to(torch::kFloat32).contiguous();
        std::copy_n(mean.data_ptr<float>(), features_, scaling_.mean.begin());
        std::copy_n(scale.data_ptr<float>(), features_, scaling_.scale.begin());
      }
      nets_.clear();
      for (int k = 0; k < options_.members; ++k) {
        MpnNet net(options_.hidden, options_.depth, options_.dropout, features_);
        torch::serialize::InputArchive weights;
        archive.read("member" + std::to_string(k), weights);
        net->load(weights);
        net->to(device_);
        net->eval();
        nets_.push_back(net);
      }
      fitted_ = true;
      return {};
    });
  }

 private:
  // Each molecule-level feature's mean and 1 / s.d. over the training graphs, so that features
  // of any range weigh alike in the readout. A feature (nearly) constant in training gets scale
  // 1: dividing by its rounding noise would blow up any other value met later.
  static FeatureScaling StandardizeFeatures(const std::vector<MolGraph>& graphs) {
    const size_t n_features = graphs[0].features.size();
    const double n = static_cast<double>(graphs.size());
    FeatureScaling scaling{std::vector<float>(n_features, 0.0f),
                           std::vector<float>(n_features, 1.0f)};
    for (size_t f = 0; f < n_features; ++f) {
      double mean = 0, var = 0;
      for (const auto& g : graphs) mean += static_cast<double>(g.features[f]) / n;
      for (const auto& g : graphs) {
        const double d = static_cast<double>(g.features[f]) - mean;
        var += d * d / n;
      }
      scaling.mean[f] = static_cast<float>(mean);
      const double sd = std::sqrt(var);
      if (sd > 1e-6 * std::max(1.0, std::abs(mean))) {
        scaling.scale[f] = static_cast<float>(1.0 / sd);
      }
    }
    return scaling;
  }

  static torch::Tensor FloatTensor(const std::vector<float>& v) {
    return torch::tensor(std::vector<float>(v.begin(), v.end()), torch::kFloat32);
  }

  // RMSE of a network on rows, in standardized units.
  double Rmse(MpnNet& net, const std::vector<MolGraph>& graphs, const std::vector<float>& target,
              const std::vector<int64_t>& rows) const {
    torch::NoGradGuard no_grad;
    net->eval();
    double sum = 0;
    constexpr size_t kChunk = 1024;
    for (size_t start = 0; start < rows.size(); start += kChunk) {
      std::vector<int64_t> part(rows.begin() + start,
                                rows.begin() + std::min(rows.size(), start + kChunk));
      auto mu =
          net->forward(MakeBatch(graphs, part, scaling_, device_)).select(1, 0).to(torch::kCPU);
      for (size_t i = 0; i < part.size(); ++i) {
        double d = mu[i].item<double>() - target[part[i]];
        sum += d * d;
      }
    }
    net->train();
    return std::sqrt(sum / static_cast<double>(rows.size()));
  }

  Result<MpnNet> TrainMember(const std::vector<MolGraph>& graphs, const std::vector<float>& target,
                             std::vector<int64_t> train, const std::vector<int64_t>& valid,
                             uint64_t seed) {
    auto seeded = SeedTorch(seed);
    MpnNet net(options_.hidden, options_.depth, options_.dropout, features_);
    net->to(device_);
    torch::optim::AdamW optimizer(
        net->parameters(),
        torch::optim::AdamWOptions(options_.learning_rate).weight_decay(options_.weight_decay));
    const int64_t n = static_cast<int64_t>(train.size());
    const int64_t batch = std::min<int64_t>(options_.batch_size, n);
    const int64_t steps_per_epoch = (n + batch - 1) / batch;
    const int64_t epochs = std::max<int64_t>(
        options_.epochs, (options_.min_steps + steps_per_epoch - 1) / steps_per_epoch);
    const int64_t warmup_epochs = std::max<int64_t>(1, epochs / 5);
    std::mt19937_64 rng(seed);
    double best = std::numeric_limits<double>::infinity();
    int64_t best_epoch = -1, since_best = 0;
    std::vector<torch::Tensor> best_state;
    net->train();
    for (int64_t epoch = 0; epoch < epochs; ++epoch) {
      std::shuffle(train.begin(), train.end(), rng);
      for (int64_t start = 0; start < n; start += batch) {
        std::vector<int64_t> rows(train.begin() + start,
                                  train.begin() + std::min(n, start + batch));
        std::vector<float> t(rows.size());
        for (size_t i = 0; i < rows.size(); ++i) t[i] = target[rows[i]];
        auto yt = torch::from_blob(t.data(), {static_cast<int64_t>(t.size())}, torch::kFloat32)
                      .to(device_);
        auto out = net->forward(MakeBatch(graphs, rows, scaling_, device_));
        auto loss = MeanVarianceLoss(out.select(1, 0), out.select(1, 1), yt, epoch < warmup_epochs);
        if (!std::isfinite(loss.item<double>())) {
          return MakeError(ErrorCode::kFailedPrecondition,
                           "dmpnn training diverged (non-finite loss in epoch " +
                               std::to_string(epoch) + "); lower model.learning_rate");
        }
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
      }
      // Early stopping: after the warm-up, keep the best epoch by validation RMSE.
      if (!valid.empty() && epoch >= warmup_epochs) {
        double rmse = Rmse(net, graphs, target, valid);
        if (rmse < best) {
          best = rmse;
          best_epoch = epoch;
          since_best = 0;
          best_state.clear();
          for (const auto& p : net->parameters()) best_state.push_back(p.detach().clone());
        } else if (++since_best >= options_.patience) {
          break;
        }
      }
    }
    if (!best_state.empty()) {
      torch::NoGradGuard no_grad;
      auto params = net->parameters();
      for (size_t i = 0; i < params.size(); ++i) params[i].copy_(best_state[i]);
    }
    epochs_run_.push_back(best_epoch);
    validation_rmse_.push_back(best * y_std_);
    net->eval();
    return net;
  }

  ModelOptions options_;
  torch::Device device_;
  mutable std::vector<MpnNet> nets_;     // forward() is not const in LibTorch
  std::vector<int64_t> epochs_run_;      // per member: the epoch kept (-1: the last)
  std::vector<double> validation_rmse_;  // per member: its validation RMSE, target units
  std::string report_ = "{}";
  int64_t features_ = 0;    // molecule-level features per graph
  FeatureScaling scaling_;  // of those features, from the training graphs
  double y_mean_ = 0, y_std_ = 1;
  bool fitted_ = false;
};

}  // namespace

Result<std::unique_ptr<PropertyModel>> CreateDmpnn(const ModelOptions& options) {
  if (auto valid = options.Validate(); !valid) return tl::unexpected(valid.error());
  auto device = ParseDevice(options.device);
  if (!device) return tl::unexpected(device.error());
  return std::unique_ptr<PropertyModel>(new Dmpnn(options, *device));
}

}  // namespace labloop::learners
