// The CPU sampler of the SMILES LSTM against LibTorch's own LSTM: the same likelihoods, the same
// next-token distribution, every sequence started once.
#include "generators/lstm_sampler.h"

#include <catch2/catch.hpp>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <vector>

using labloop::generators::LstmSampler;

namespace {

constexpr int64_t kPad = 0, kBegin = 1, kEnd = 2, kVocabulary = 12;

// A small random language model, built as smiles_lm.cpp builds its network.
struct Model {
  torch::nn::Embedding embed{nullptr};
  torch::nn::LSTM lstm{nullptr};
  torch::nn::Linear out{nullptr};

  Model() {
    torch::manual_seed(7);
    embed = torch::nn::Embedding(kVocabulary, 8);
    lstm = torch::nn::LSTM(torch::nn::LSTMOptions(8, 16).num_layers(2).batch_first(true));
    out = torch::nn::Linear(16, kVocabulary);
    torch::NoGradGuard no_grad;
    // Larger logits than the default initialization, so that the tokens' odds differ clearly.
    out->weight.mul_(4);
  }

  LstmSampler Sampler(LstmSampler::Precision precision) {
    std::vector<LstmSampler::Layer> layers;
    auto p = lstm->named_parameters();
    for (const std::string k : {"0", "1"}) {
      layers.push_back(
          {p["weight_ih_l" + k], p["weight_hh_l" + k], p["bias_ih_l" + k], p["bias_hh_l" + k]});
    }
    return LstmSampler(embed->weight, layers, out->weight, out->bias, precision);
  }

  // Teacher-forced log-likelihood of each row (begin, tokens, pad after the end).
  std::vector<double> LogLikelihood(const torch::Tensor& rows) {
    torch::NoGradGuard no_grad;
    auto input = rows.slice(1, 0, rows.size(1) - 1), target = rows.slice(1, 1);
    auto [h, state] = lstm->forward(embed->forward(input));
    auto logp = torch::log_softmax(out->forward(h), 2).gather(2, target.unsqueeze(2)).squeeze(2);
    auto sum = (logp * target.ne(kPad).to(torch::kFloat32)).sum(1).to(torch::kFloat64);
    return std::vector<double>(sum.data_ptr<double>(), sum.data_ptr<double>() + sum.size(0));
  }

  // P(first token), the model's softmax after the begin token.
  torch::Tensor FirstToken(double temperature) {
    torch::NoGradGuard no_grad;
    auto [h, state] = lstm->forward(embed->forward(torch::full({1, 1}, kBegin, torch::kInt64)));
    auto logits = out->forward(h).reshape({kVocabulary}) / temperature;
    logits.index_fill_(0, torch::tensor({kPad, kBegin}), -INFINITY);
    return torch::softmax(logits, 0);
  }
};

LstmSampler::Options SmallOptions() {
  LstmSampler::Options o;
  o.begin = kBegin;
  o.end = kEnd;
  o.pad = kPad;
  o.never = {kPad, kBegin};
  o.max_tokens = 30;
  o.width = 7;  // fewer rows than sequences: finished rows start new ones
  return o;
}

}  // namespace

TEST_CASE("The CPU LSTM sampler's likelihoods match LibTorch's LSTM on the sampled sequences") {
  Model model;
  for (auto precision : {LstmSampler::Precision::kFloat32, LstmSampler::Precision::kBfloat16}) {
    auto sampler = model.Sampler(precision);
    at::Generator generator = at::detail::createCPUGenerator(3);
    auto samples = sampler.Sample(200, SmallOptions(), generator);
    REQUIRE(samples.tokens.size(0) == 200);
    REQUIRE(samples.log_likelihood.size() == 200);
    auto a = samples.tokens.accessor<int64_t, 2>();
    int ended = 0;
    for (int64_t i = 0; i < 200; ++i) {
      CHECK(a[i][0] == kBegin);
      bool end = false;
      for (int64_t j = 1; j < samples.tokens.size(1); ++j) {
        if (end) CHECK(a[i][j] == kPad);  // nothing after the end
        if (!end) CHECK(a[i][j] != kBegin);
        end = end || a[i][j] == kEnd;
      }
      ended += end;
    }
    CHECK(ended > 100);
    const auto reference = model.LogLikelihood(samples.tokens);
    double worst = 0;
    for (int64_t i = 0; i < 200; ++i) {
      worst = std::max(worst, std::abs(reference[i] - samples.log_likelihood[i]) /
                                  std::max(1.0, std::abs(reference[i])));
    }
    INFO("bfloat16: " << sampler.bfloat16() << ", worst relative gap " << worst);
    // float32: summation order only; bfloat16 products: about 3 significant digits.
    CHECK(worst < (sampler.bfloat16() ? 2e-2 : 1e-4));
  }
}

TEST_CASE("The CPU LSTM sampler draws tokens with the model's probabilities at a temperature") {
  Model model;
  auto sampler = model.Sampler(LstmSampler::Precision::kFloat32);
  for (double temperature : {1.0, 0.5}) {
    auto options = SmallOptions();
    options.temperature = temperature;
    options.max_tokens = 0;  // one token each
    options.width = 512;
    at::Generator generator = at::detail::createCPUGenerator(11);
    const int64_t n = 40000;
    auto samples = sampler.Sample(n, options, generator);
    auto counts = torch::bincount(samples.tokens.select(1, 1), {}, kVocabulary);
    auto expected = model.FirstToken(temperature);
    for (int64_t k = 0; k < kVocabulary; ++k) {
      const double p = expected[k].item<double>();
      const double seen = counts[k].item<double>() / n;
      INFO("temperature " << temperature << ", token " << k << ": p " << p << ", seen " << seen);
      CHECK(std::abs(seen - p) < 4 * std::sqrt(p * (1 - p) / n) + 1e-9);  // within 4 s.d.
    }
  }
}

TEST_CASE("The CPU LSTM sampler is reproducible for a seed") {
  Model model;
  auto sampler = model.Sampler(LstmSampler::Precision::kFloat32);
  auto options = SmallOptions();
  at::Generator first = at::detail::createCPUGenerator(5),
                second = at::detail::createCPUGenerator(5);
  auto a = sampler.Sample(50, options, first);
  auto b = sampler.Sample(50, options, second);
  CHECK(torch::equal(a.tokens, b.tokens));
  // Fewer sequences than rows, and none at all.
  at::Generator third = at::detail::createCPUGenerator(5);
  CHECK(sampler.Sample(3, options, third).tokens.size(0) == 3);
  CHECK(sampler.Sample(0, options, third).tokens.size(0) == 0);
}
