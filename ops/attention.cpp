// Attention (placeholder until the kernels land).
#include "ops/attention.h"

#include "core/error.h"
#include "ops/moba.h"

namespace tangent {

const char* attention_kind_name(AttentionKind kind) {
  switch (kind) {
    case AttentionKind::Softmax: return "softmax";
    case AttentionKind::Sigmoid: return "sigmoid";
    case AttentionKind::MoBA: return "moba";
  }
  return "?";
}

AttentionKind parse_attention_kind(const std::string& name) {
  if (name == "softmax") return AttentionKind::Softmax;
  if (name == "sigmoid") return AttentionKind::Sigmoid;
  if (name == "moba") return AttentionKind::MoBA;
  TANGENT_FAIL("attention: unknown kind '", name, "' (expected softmax, sigmoid or moba)");
}

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& options) {
  if (options.kind == AttentionKind::MoBA) return moba_attention(q, k, v, options);
  return attention_reference(q, k, v, options);
}

Tensor attention_reference(const Tensor&, const Tensor&, const Tensor&, const AttentionOptions&) {
  TANGENT_FAIL("attention_reference: not implemented yet");
}

}  // namespace tangent
