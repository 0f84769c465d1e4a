#include "nn/transformer.h"

#include "core/error.h"
#include "ops/elementwise.h"
#include "ops/factory.h"

namespace tangent::nn {

TransformerBlock::TransformerBlock(const TransformerBlockOptions& o) : options(o) {
  const int64_t e = o.attention.embed_dim;
  TANGENT_CHECK(o.mlp_ratio >= 1, "TransformerBlock: mlp_ratio must be >= 1, got ", o.mlp_ratio);
  if (options.layer_scale < 0) options.layer_scale = o.attention.kind == AttentionKind::Sigmoid ? 1e-4 : 0.0;
  norm1 = register_module("norm1", make_norm(o.norm, e));
  attention = register_module("attention", std::make_shared<MultiheadAttention>(o.attention));
  if (options.layer_scale > 0) layer_scale = register_parameter("layer_scale", full({e}, options.layer_scale));
  norm2 = register_module("norm2", make_norm(o.norm, e));
  fc1 = register_module("fc1", std::make_shared<Linear>(e, o.mlp_ratio * e, o.bias));
  fc2 = register_module("fc2", std::make_shared<Linear>(o.mlp_ratio * e, e, o.bias));
}

Tensor TransformerBlock::forward(const Tensor& x) { return residual(x, (*attention)((*norm1)(x))); }

Tensor TransformerBlock::forward_cached(const Tensor& x, KVCache& cache) {
  return residual(x, attention->forward_cached((*norm1)(x), cache));
}

Tensor TransformerBlock::residual(const Tensor& x, Tensor a) {
  if (layer_scale.defined()) a = mul(a, layer_scale);
  const Tensor h = add(x, a);
  return add(h, (*fc2)(gelu((*fc1)((*norm2)(h)))));
}

std::string TransformerBlock::extra_repr() const {
  std::string s = "norm=" + options.norm + ", mlp_ratio=" + std::to_string(options.mlp_ratio);
  if (layer_scale.defined()) s += ", layer_scale";
  return s;
}

}  // namespace tangent::nn
