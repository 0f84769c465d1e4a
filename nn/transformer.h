#pragma once
// TransformerBlock: one pre-norm decoder block,
//   h = x + LayerScale(Attention(Norm1(x)))
//   y = h + MLP(Norm2(h)),   MLP = Linear(E, r E) -> GELU -> Linear(r E, E)
// LayerScale (Touvron et al. 2021) multiplies the attention branch by a learnable per-channel gamma [E] that
// starts small (1e-4), so each block starts near the identity. Sigmoid attention needs it: its weights are not
// normalised, so at initialisation the attention output norm grows with the sequence length (Ramapuram et al.
// 2024 train with b = -ln n plus LayerScale or an extra norm; we use LayerScale). It is on by default for sigmoid
// layers and off otherwise (layer_scale < 0 means this automatic choice; 0 forces it off).
#include <memory>
#include <string>

#include "nn/attention.h"
#include "nn/linear.h"
#include "nn/module.h"

namespace tangent::nn {

struct TransformerBlockOptions {
  MultiheadAttentionOptions attention;  // embed_dim is the block's width
  std::string norm = "layernorm";       // layernorm or rmsnorm (the two pre-norms)
  int64_t mlp_ratio = 4;                // MLP hidden width = mlp_ratio * embed_dim
  double layer_scale = -1.0;            // < 0: 1e-4 for sigmoid attention, off otherwise; 0: off; > 0: init value
  bool bias = true;                     // in the MLP
};

class TransformerBlock : public Module {
 public:
  explicit TransformerBlock(const TransformerBlockOptions& options);
  // x [B, T, E] -> [B, T, E].
  Tensor forward(const Tensor& x) override;
  // The same incrementally, without gradients (MultiheadAttention::forward_cached): x [B, T, E] holds the positions
  // after those in `cache`.
  Tensor forward_cached(const Tensor& x, KVCache& cache);
  std::string type_name() const override { return "TransformerBlock"; }
  std::string extra_repr() const override;

  TransformerBlockOptions options;  // layer_scale resolved (>= 0)
  std::shared_ptr<Module> norm1, norm2;
  std::shared_ptr<MultiheadAttention> attention;
  std::shared_ptr<Linear> fc1, fc2;
  Tensor layer_scale;  // [E], undefined when off

 private:
  // x + LayerScale(a), then the MLP branch.
  Tensor residual(const Tensor& x, Tensor a);
};

}  // namespace tangent::nn
