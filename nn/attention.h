#pragma once
// MultiheadAttention: self-attention with pluggable kernels (softmax, sigmoid, MoBA; ops/attention.h), grouped-query
// attention, QK-norm, rotary positions and an optional causal key convolution for MoBA routing.
//   x [B, T, E] -> q = x Wq [B, H, T, D], k = x Wk and v = x Wv [B, Hkv, T, D] (D = E / H)
//   (key_conv) k <- causal depthwise conv of k along T      (before the heads are split)
//   (qk_norm)  q, k <- Norm(q), Norm(k) over D               (separate learnable norms for q and k)
//   (rotary)   q, k <- RoPE(q), RoPE(k)                      (nn/rotary.h)
//   o = scaled_dot_product_attention(q, k, v) [B, H, T, D] -> [B, T, E] -> out_proj
// forward_cached runs the same computation incrementally for generation: a KVCache keeps the keys and values of
// the positions seen so far, so each new position costs one query against the cache instead of a full pass.
#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include "nn/config.h"
#include "nn/linear.h"
#include "nn/module.h"
#include "ops/attention.h"

namespace tangent::nn {

// A normalisation layer over the last dim by name: "layernorm" or "rmsnorm" (an Error otherwise).
std::shared_ptr<Module> make_norm(const std::string& kind, int64_t dim);

// Causal depthwise convolution along the sequence: x [B, T, C] -> y [B, T, C] with
//   y[b, t, c] = sum_{j < K} weight[j, c] * x[b, t - j, c]   (x before position 0 is zero),
// so y at t depends only on x at <= t. weight [K, C] starts as the identity (weight[0] = 1, the rest 0).
// Composed from differentiable ops.
class CausalConv1d : public Module {
 public:
  CausalConv1d(int64_t channels, int64_t kernel_size);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "CausalConv1d"; }
  std::string extra_repr() const override;
  int64_t channels, kernel_size;
  Tensor weight;  // [kernel_size, channels]
};

struct MultiheadAttentionOptions {
  int64_t embed_dim = 0;
  int64_t num_heads = 1;
  int64_t num_kv_heads = 0;  // 0: num_heads; otherwise a divisor of num_heads (grouped-query attention)
  AttentionKind kind = AttentionKind::Softmax;
  bool causal = true;  // MoBA is always causal
  // Norm over the head dim applied to q and k: "none", "rmsnorm", "layernorm", or "auto" (rmsnorm for sigmoid
  // attention, which needs it to train stably; none otherwise). The constructor resolves "auto".
  std::string qk_norm = "auto";
  double sigmoid_bias = std::numeric_limits<double>::quiet_NaN();  // NaN: -ln(sequence length), per call
  int64_t moba_block_size = 64;
  int64_t moba_top_k = 3;
  int64_t moba_key_conv = 0;  // 0: off; 3 or 5: CausalConv1d of that width on the keys (any kind)
  bool rotary = false;
  double rotary_base = 10000.0;
  bool bias = true;   // in the q/k/v/out projections
  bool fused = true;  // false: the unfused reference kernels (for tests)

  int64_t head_dim() const { return num_heads > 0 ? embed_dim / num_heads : 0; }
  int64_t kv_heads() const { return num_kv_heads > 0 ? num_kv_heads : num_heads; }
  // Keys under `prefix` ("attention.kind", ...).
  void to_config(Config& c, const std::string& prefix) const;
  static MultiheadAttentionOptions from_config(const Config& c, const std::string& prefix);
};

// The state MultiheadAttention::forward_cached keeps between calls (one per attention layer): everything about
// the positions seen so far that a later position needs. Empty (length 0) when default-constructed. Keys and values
// live in buffers with room to grow (doubling when full), so a step writes one position instead of copying them.
struct KVCache {
  Tensor key_buffer, value_buffer;  // [B, Hkv, capacity, D]: after key_conv, qk_norm and rotary; the first
                                    // `positions` filled
  int64_t positions = 0;
  Tensor key_tail;     // key_conv: the last kernel_size - 1 raw key projections [B, kernel_size - 1, Hkv * D]
  Tensor block_means;  // MoBA: the mean key of each complete block [B, Hkv, complete blocks, D]
  int64_t length() const { return positions; }
  Tensor keys() const;    // [B, Hkv, positions, D], a view of the buffer
  Tensor values() const;  // the same for the values
};

class MultiheadAttention : public Module {
 public:
  explicit MultiheadAttention(const MultiheadAttentionOptions& options);
  // x [B, T, embed_dim] -> [B, T, embed_dim].
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "MultiheadAttention"; }
  std::string extra_repr() const override;
  // Incremental forward without gradients: x [B, T, embed_dim] holds positions cache.length() .. + T - 1 and gives
  // the rows forward() would give for them on the whole sequence (up to rounding); appends them to `cache`.
  // Either the cache is empty (a prefill of T >= 1 positions) or T == 1 (one step). Softmax and sigmoid attend the
  // new query to every cached key (a sigmoid_bias of NaN means -ln(positions so far)); MoBA routes the query among
  // the complete blocks, whose mean keys the cache updates as each block completes, plus its own block. A step
  // reads the cache through strided matmuls (no copy of the keys and values); the prefill uses the kernels.
  Tensor forward_cached(const Tensor& x, KVCache& cache);
  // The options the kernel gets (kind, causal, bias, MoBA settings).
  AttentionOptions attention_options() const;

  MultiheadAttentionOptions options;
  std::shared_ptr<Linear> q_proj, k_proj, v_proj, out_proj;
  std::shared_ptr<Module> q_norm, k_norm;  // null without qk_norm
  std::shared_ptr<CausalConv1d> key_conv;  // null without moba_key_conv

 private:
  // q, k, v [B, T, heads * D] -> [B, heads, T, D] (contiguous), with qk_norm and rotary at positions offset...
  void split_heads(Tensor& q, Tensor& k, Tensor& v, int64_t offset);
  // One query q [B, H, 1, D] at the last cached position against the cached keys and values -> [B, H, 1, D].
  Tensor attend_step(const Tensor& q, const KVCache& cache) const;
};

}  // namespace tangent::nn
