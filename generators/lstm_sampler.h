#pragma once
// LstmSampler: draws token sequences from a stacked-LSTM language model (an embedding, LSTM
// layers as torch::nn::LSTM holds them, a linear output) on the CPU, one token a step for a
// batch of sequences side by side.
//
// It computes what torch::nn::LSTM computes, faster for sampling:
//   - the first layer's input product is a table lookup (one row of embedding · W_ihᵀ + biases a
//     token), since its input is one of a few dozen tokens;
//   - each layer's four gates come from one product (its input and its own state side by side in
//     one buffer) into a preallocated buffer, and one fused loop adds the biases, applies the
//     sigmoids and tanhs, updates the cell state in place and writes the new hidden state where
//     the next products read it;
//   - on CPUs with AVX-512 BF16 the products take bfloat16 weights and states (oneDNN's kernels,
//     twice as fast as float32 on two busy cores here); biases, cell states, the output layer and
//     the sampling stay float32;
//   - a sequence that ends hands its row to the next sequence to start, so the products keep
//     their full height until the last sequences finish.
// Internal to generators/ (it includes LibTorch's headers); the tests check it against the
// torch::nn model's own likelihoods.

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "generators/smiles_grammar.h"

namespace labloop::generators {

class LstmSampler {
 public:
  struct Layer {
    torch::Tensor w_ih, w_hh, b_ih, b_hh;  // as torch::nn::LSTM names them, layer by layer
  };
  // embedding [V, E]; out_weight [V, H] and out_bias [V] map the last layer's state to logits.
  // Products in bfloat16 (kAuto: where the CPU has AVX-512 BF16) or float32.
  enum class Precision { kAuto, kFloat32, kBfloat16 };
  LstmSampler(const torch::Tensor& embedding, const std::vector<Layer>& layers,
              const torch::Tensor& out_weight, const torch::Tensor& out_bias,
              Precision precision = Precision::kAuto);
  bool bfloat16() const { return dtype_ == torch::kBFloat16; }
  // Whether kAuto picks bfloat16 on this CPU.
  static bool Bfloat16Available();

  struct Options {
    int64_t begin = 1, end = 2, pad = 0;
    std::vector<int64_t> never;  // tokens never sampled (padding, the start token)
    double temperature = 1.0;
    int max_tokens = 120;  // a sequence not ended after max_tokens + 1 tokens is cut there
    int64_t width = 512;   // sequences written side by side
    const SmilesGrammar* grammar = nullptr;  // when set, only the tokens it allows are sampled
    int wind_up_after = 0;  // with a grammar: from this many tokens on, only moves to the end
  };
  struct Samples {
    torch::Tensor tokens;  // [count, longest] int64: begin, the tokens, then pad after the end
    // Each sequence's log-likelihood under the model itself (temperature 1, no grammar), as
    // the teacher-forced model would score the same tokens.
    std::vector<double> log_likelihood;
  };
  // Draws `count` sequences from the caller's random stream. Thread-safe: it only reads weights.
  Samples Sample(int64_t count, const Options& options, at::Generator& generator) const;

 private:
  int64_t vocabulary_ = 0, hidden_ = 0;
  torch::ScalarType dtype_ = torch::kFloat32;  // of the products' weights and inputs
  torch::Tensor input_table_;  // [V, 4H] float32: layer 0's input gates for each token + biases
  // Layer l's product: [its input (l > 0), its own state] · weights[l], [K_l, 4H] in dtype_ with
  // K_0 = H and K_l = 2H; biases[l] [4H] float32 (empty for layer 0: the table has them).
  std::vector<torch::Tensor> weights_, biases_;
  torch::Tensor out_t_, out_bias_;  // [H, V], [V] float32
};

}  // namespace labloop::generators
