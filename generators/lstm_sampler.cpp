#include "generators/lstm_sampler.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

// This file is compiled with -O3 -fno-trapping-math (generators/CMakeLists.txt): GCC 12
// vectorizes the fused LSTM cell below only so, each of its clones with the widest vectors the CPU
// has.

namespace labloop::generators {

namespace {

// The helpers of the cell are inlined into each of its clones, so that each compiles for the
// clone's vector width.
#define ALWAYS_INLINE __attribute__((always_inline))

// e^x for x in [-87, 88] (clamped outside), within 2e-7 relative: Cephes' expf (range
// reduction by ln 2, a degree-6 polynomial, the power of two put in the exponent bits), written
// without branches or library calls so that loops over it vectorize.
ALWAYS_INLINE inline float Exp(float x) {
  x = std::min(std::max(x, -87.f), 88.f);
  const float n = (x * 1.44269504088896341f + 12582912.f) - 12582912.f;  // round(x / ln 2)
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float y =
      ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f) *
           r +
       1.6666665459e-1f) *
          r +
      5.0000001201e-1f;
  y = y * r * r + r + 1.f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}

ALWAYS_INLINE inline float Sigmoid(float x) { return 1.f / (1.f + Exp(-x)); }
ALWAYS_INLINE inline float Tanh(float x) { return 2.f / (1.f + Exp(-2.f * x)) - 1.f; }

// bfloat16 is the top half of a float32; conversion to it rounds to nearest even.
ALWAYS_INLINE inline float Widen(float x) { return x; }
ALWAYS_INLINE inline float Widen(uint16_t x) {
  const uint32_t bits = static_cast<uint32_t>(x) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
template <typename T>
ALWAYS_INLINE inline T Narrow(float x) {
  if constexpr (std::is_same_v<T, float>) {
    return x;
  } else {
    uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return static_cast<uint16_t>(bits >> 16);
  }
}

// One row: gates [4h] (torch's order: input, forget, cell, output) plus `add` [4h]; the cell
// state [h] in place; the new hidden state in float32 and, for the next products, in T.
template <typename T>
ALWAYS_INLINE inline void CellRow(const T* __restrict g, const float* __restrict add,
                                  float* __restrict c, float* __restrict hidden, T* __restrict own,
                                  int64_t h) {
  for (int64_t j = 0; j < h; ++j) {
    const float i = Sigmoid(Widen(g[j]) + add[j]), f = Sigmoid(Widen(g[h + j]) + add[h + j]);
    const float z = Tanh(Widen(g[2 * h + j]) + add[2 * h + j]);
    const float o = Sigmoid(Widen(g[3 * h + j]) + add[3 * h + j]);
    const float cell = f * c[j] + i * z;
    c[j] = cell;
    const float out = o * Tanh(cell);
    hidden[j] = out;
    own[j] = Narrow<T>(out);
  }
}

// Compiled for the widest vectors the CPU has (each clone inlines the helpers above).
#define CELL_CLONES __attribute__((target_clones("arch=skylake-avx512", "avx2", "default")))
CELL_CLONES void Cell(const float* g, const float* add, float* c, float* hidden, float* own,
                      int64_t h) {
  CellRow(g, add, c, hidden, own, h);
}
CELL_CLONES void Cell(const uint16_t* g, const float* add, float* c, float* hidden, uint16_t* own,
                      int64_t h) {
  CellRow(g, add, c, hidden, own, h);
}

// One layer's step for `rows` rows: the gates of the product plus a bias (one row for all) or
// a table row a token, the cell states in place, the new hidden state where this layer's next
// product reads it (`own`), where the next layer's reads it (`next`, or null) and in float32
// (`hidden`, [rows, h] for the output layer; other layers pass one scratch row, stride 0).
template <typename T>
void CellRows(const T* gates, const float* add, const int64_t* add_row, float* cells, float* hidden,
              int64_t hidden_stride, T* own, int64_t own_stride, T* next, int64_t next_stride,
              int64_t rows, int64_t h) {
  for (int64_t r = 0; r < rows; ++r) {
    T* own_row = own + r * own_stride;
    Cell(gates + r * 4 * h, add + (add_row ? add_row[r] * 4 * h : 0), cells + r * h,
         hidden + r * hidden_stride, own_row, h);
    if (next) std::memcpy(next + r * next_stride, own_row, sizeof(T) * h);
  }
}

}  // namespace

bool LstmSampler::Bfloat16Available() { return __builtin_cpu_supports("avx512bf16"); }

LstmSampler::LstmSampler(const torch::Tensor& embedding, const std::vector<Layer>& layers,
                         const torch::Tensor& out_weight, const torch::Tensor& out_bias,
                         Precision precision) {
  TORCH_CHECK(!layers.empty(), "an LSTM sampler needs at least one layer");
  torch::NoGradGuard no_grad;
  const bool bf16 =
      precision == Precision::kBfloat16 || (precision == Precision::kAuto && Bfloat16Available());
  dtype_ = bf16 ? torch::kBFloat16 : torch::kFloat32;
  vocabulary_ = embedding.size(0);
  hidden_ = layers[0].w_hh.size(1);
  auto cpu = [](const torch::Tensor& t) { return t.detach().to(torch::kCPU, torch::kFloat32); };
  const auto& first = layers[0];
  input_table_ =
      torch::addmm(cpu(first.b_ih) + cpu(first.b_hh), cpu(embedding), cpu(first.w_ih).t())
          .contiguous();
  for (size_t l = 0; l < layers.size(); ++l) {
    const auto& w = layers[l];
    auto product = l == 0 ? cpu(w.w_hh) : torch::cat({cpu(w.w_ih), cpu(w.w_hh)}, 1);
    weights_.push_back(product.t().contiguous().to(dtype_));
    biases_.push_back(l == 0 ? torch::Tensor() : (cpu(w.b_ih) + cpu(w.b_hh)).contiguous());
  }
  out_t_ = cpu(out_weight).t().contiguous();
  out_bias_ = cpu(out_bias).contiguous();
}

namespace {

// One step of every layer for the `active` first rows of the batch, gates in T (float or the
// bits of bfloat16). `inputs[l]` holds [layer l-1's new state, layer l's state] (layer 0: its
// state only); `tokens` the tokens just sampled; `hidden` [rows, h] receives the last layer's
// new state in float32.
template <typename T>
void Step(const std::vector<torch::Tensor>& weights, const std::vector<torch::Tensor>& biases,
          const torch::Tensor& table, const int64_t* tokens, int64_t active, int64_t h,
          std::vector<torch::Tensor>& inputs, std::vector<torch::Tensor>& gates,
          std::vector<torch::Tensor>& cells, torch::Tensor& hidden) {
  const size_t layers = weights.size();
  std::vector<float> scratch(h);  // the float32 state of the layers below the last: unused
  for (size_t l = 0; l < layers; ++l) {
    auto g = gates[l].narrow(0, 0, active);
    at::mm_out(g, inputs[l].narrow(0, 0, active), weights[l]);
    const bool last = l + 1 == layers;
    CellRows(static_cast<const T*>(g.data_ptr()),
             l == 0 ? table.data_ptr<float>() : biases[l].data_ptr<float>(),
             l == 0 ? tokens : nullptr, cells[l].data_ptr<float>(),
             last ? hidden.data_ptr<float>() : scratch.data(), last ? h : 0,
             static_cast<T*>(inputs[l].data_ptr()) + (l == 0 ? 0 : h), inputs[l].size(1),
             last ? nullptr : static_cast<T*>(inputs[l + 1].data_ptr()),
             last ? 0 : inputs[l + 1].size(1), active, h);
  }
}

}  // namespace

LstmSampler::Samples LstmSampler::Sample(int64_t count, const Options& o,
                                         at::Generator& generator) const {
  torch::NoGradGuard no_grad;
  const int64_t h = hidden_, v = vocabulary_, layers = static_cast<int64_t>(weights_.size());
  const int64_t width = std::max<int64_t>(1, std::min(count, o.width));
  const int64_t columns = o.max_tokens + 2;
  Samples result;
  result.tokens = torch::full({count, columns}, o.pad, torch::kInt64);
  result.log_likelihood.assign(count, 0.0);
  if (count == 0) return result;
  int64_t* out = result.tokens.data_ptr<int64_t>();

  const auto in_dtype = torch::TensorOptions(dtype_);
  std::vector<torch::Tensor> inputs, gates, cells;
  for (int64_t l = 0; l < layers; ++l) {
    inputs.push_back(torch::zeros({width, l == 0 ? h : 2 * h}, in_dtype));
    gates.push_back(torch::empty({width, 4 * h}, in_dtype));
    cells.push_back(torch::zeros({width, h}));
  }
  auto hidden = torch::empty({width, h});  // the last layer's state, for the output layer
  const int64_t element = static_cast<int64_t>(inputs[0].element_size());
  auto logits = torch::empty({width, v});
  std::vector<int64_t> tokens(width);

  // Slot s of the batch writes output row row[s], `length[s]` tokens so far.
  std::vector<int64_t> row(width), length(width);
  std::vector<uint8_t> done(width), allowed(v), never(v, 0);
  for (int64_t t : o.never) never[t] = 1;
  std::vector<SmilesGrammar::State> states(width);
  std::vector<float> p(v);
  int64_t started = 0, active = width, longest = 1;

  auto rows_of = [&](const torch::Tensor& t, int64_t s) {
    return static_cast<char*>(t.data_ptr()) + s * t.size(1) * t.element_size();
  };
  auto start = [&](int64_t s) {
    row[s] = started++;
    length[s] = 0;
    out[row[s] * columns] = o.begin;
    tokens[s] = o.begin;
    for (int64_t l = 0; l < layers; ++l) {
      std::memset(rows_of(inputs[l], s), 0, inputs[l].size(1) * element);
      std::memset(rows_of(cells[l], s), 0, sizeof(float) * h);
    }
    states[s] = SmilesGrammar::State{};
  };
  auto move = [&](int64_t from, int64_t to) {
    if (from == to) return;
    row[to] = row[from];
    length[to] = length[from];
    done[to] = done[from];
    tokens[to] = tokens[from];
    for (int64_t l = 0; l < layers; ++l) {
      std::memcpy(rows_of(inputs[l], to), rows_of(inputs[l], from), inputs[l].size(1) * element);
      std::memcpy(rows_of(cells[l], to), rows_of(cells[l], from), sizeof(float) * h);
    }
    states[to] = std::move(states[from]);
  };
  for (int64_t s = 0; s < width; ++s) start(s);

  const float inverse_temperature = static_cast<float>(1.0 / o.temperature);
  while (active > 0) {
    if (bfloat16()) {
      Step<uint16_t>(weights_, biases_, input_table_, tokens.data(), active, h, inputs, gates,
                     cells, hidden);
    } else {
      Step<float>(weights_, biases_, input_table_, tokens.data(), active, h, inputs, gates, cells,
                  hidden);
    }
    auto z = logits.narrow(0, 0, active);
    torch::addmm_out(z, out_bias_, hidden.narrow(0, 0, active), out_t_);

    // One token a row, by inverse transform of one uniform draw.
    const auto uniform = torch::rand({active}, generator, torch::kFloat64);
    const double* u = uniform.data_ptr<double>();
    const float* zs = z.data_ptr<float>();
    for (int64_t s = 0; s < active; ++s) {
      const float* zr = zs + s * v;
      if (o.grammar) o.grammar->Allowed(states[s], allowed.data(), o.wind_up_after);
      float top = -std::numeric_limits<float>::infinity(), top_allowed = top;
      for (int64_t k = 0; k < v; ++k) {
        allowed[k] = (allowed[k] || !o.grammar) && !never[k];
        top = std::max(top, zr[k]);
        if (allowed[k]) top_allowed = std::max(top_allowed, zr[k]);
      }
      double all = 0, sum = 0;
      for (int64_t k = 0; k < v; ++k) {
        all += Exp(zr[k] - top);
        p[k] = allowed[k] ? Exp((zr[k] - top_allowed) * inverse_temperature) : 0.f;
        sum += p[k];
      }
      const auto draw = [&] {
        const double target = u[s] * sum;
        int64_t token = -1;
        double running = 0;
        for (int64_t k = 0; k < v; ++k) {
          if (p[k] <= 0) continue;
          token = k;  // the last allowed token catches rounding at the top end
          running += p[k];
          if (running > target) break;
        }
        return token;
      };
      int64_t token = draw();
      // A token after which the grammar allows nothing is drawn again without it (the same
      // uniform over what is left); when nothing is left, the first draw stands.
      const int64_t first = token;
      while (o.grammar && token >= 0 && !o.grammar->LeadsOn(states[s], token)) {
        sum -= p[token];
        p[token] = 0;
        token = sum > 0 ? draw() : -1;
      }
      if (token < 0) token = first;
      result.log_likelihood[row[s]] += zr[token] - top - std::log(all);
      tokens[s] = token;
      ++length[s];
      out[row[s] * columns + length[s]] = token;
      longest = std::max(longest, length[s] + 1);
      if (o.grammar) o.grammar->Advance(states[s], token);
      done[s] = token == o.end || length[s] > o.max_tokens;
    }
    // Finished rows start the next sequences; once all have started, the last row fills the gap.
    for (int64_t s = 0; s < active;) {
      if (!done[s]) {
        ++s;
      } else if (started < count) {
        start(s);
        done[s] = 0;
        ++s;
      } else {
        move(active - 1, s);
        --active;
      }
    }
  }
  result.tokens = result.tokens.narrow(1, 0, longest).contiguous();
  return result;
}

}  // namespace labloop::generators
