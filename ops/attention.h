#pragma once
// Attention: one interface, three interchangeable kernels (softmax, sigmoid, MoBA), each with a fused forward and
// backward that never materialises the Lq x Lk score matrix (FlashAttention-2 tiling: online softmax, the
// log-sum-exp saved for backward, scores recomputed in backward), and an unfused reference composed from ordinary
// differentiable ops that the tests compare against. Layout as PyTorch's scaled_dot_product_attention:
//   q [B, H, Lq, D], k and v [B, Hkv, Lk, D], H a multiple of Hkv (grouped-query attention); out [B, H, Lq, D].
// Causal masks align top-left (query i sees keys j <= i), as PyTorch's is_causal, for any Lq and Lk (with
// Lq > Lk the last queries see every key; with Lq < Lk the last keys are seen by no query).
//
// Masked (query, key) pairs contribute exactly 0. A softmax row whose keys are all masked outputs 0 (not NaN) and
// has LSE +inf; a sigmoid row with every key masked outputs 0 as well.
//
// The fused CPU kernels (ops/cpu/flash_attention.cpp) tile queries and keys in blocks of 128 rows: their extra
// memory is O(N) (two score tiles per thread, the row LSE and rowsum(dO*O) [B, H, Lq], and one dQ accumulator
// per extra thread in backward), never O(Lq * Lk). Their backward recomputes the scores tile by tile. Under
// create_graph (grad mode on during backward) the gradients are computed with ordinary ops instead
// (forming the score matrix), so double backward works.
#include <cmath>
#include <limits>
#include <utility>

#include "core/tensor.h"

namespace tangent {

enum class AttentionKind : uint8_t {
  Softmax,  // O = softmax(Q K^T * scale + mask) V
  Sigmoid,  // O = sigmoid(Q K^T * scale + bias) V, masked entries exactly 0 (Ramapuram et al. 2024)
  MoBA,     // mixture of block attention (Lu et al. 2025): causal softmax over the top-k key blocks per query
};
const char* attention_kind_name(AttentionKind kind);
AttentionKind parse_attention_kind(const std::string& name);  // "softmax", "sigmoid", "moba"

struct AttentionOptions {
  AttentionKind kind = AttentionKind::Softmax;
  bool causal = false;                                      // MoBA is always causal
  double scale = std::numeric_limits<double>::quiet_NaN();  // NaN: 1/sqrt(D)
  // [B, Lk] bool, true where the key is padding (ignored), as PyTorch's key_padding_mask. Undefined: none.
  Tensor key_padding_mask;
  // Sigmoid: the scalar bias b; NaN means -ln(Lk) (the paper's recipe).
  double sigmoid_bias = std::numeric_limits<double>::quiet_NaN();
  // MoBA: keys split into blocks of block_size positions; each query attends to its own block (causally) plus
  // the top_k - 1 past blocks whose mean-pooled key scores highest against it (unscaled, float32, per head).
  int64_t moba_block_size = 64;
  int64_t moba_top_k = 3;
  // false: run the unfused reference (ordinary ops) instead of the fused kernel.
  bool fused = true;
};

// The attention output [B, H, Lq, D]. Differentiable in q, k and v (float32 or float64, same device).
// Dispatch: kind MoBA -> moba_attention (ops/moba.h); fused and the backend supports Primitive::Attention for
// the dtype -> the fused kernel; otherwise -> attention_reference. Softmax and sigmoid raise on non-4-D inputs,
// differing D, batch or dtype, H not a multiple of Hkv, k and v of different shapes, or a key_padding_mask that is
// not bool [B, Lk]; MoBA checks its inputs itself (ops/moba.h).
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& options = {});

// The unfused reference: the score matrix is formed with matmul and normalised with ordinary ops (softmax and
// sigmoid kinds; MoBA has its own reference in ops/moba.h).
Tensor attention_reference(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& options = {});

// Softmax attention's output [B, H, Lq, D] and row log-sum-exp [B, H, Lq] of the scaled, masked scores (+inf on
// fully masked rows), without gradients. The fused kernel when options.fused and the backend supports it, else the
// reference. Two attentions over disjoint key sets merge exactly: L = log(e^L1 + e^L2), O = e^(L1-L) O1 + e^(L2-L) O2.
std::pair<Tensor, Tensor> attention_with_lse(const Tensor& q, const Tensor& k, const Tensor& v,
                                             const AttentionOptions& options = {});

}  // namespace tangent
