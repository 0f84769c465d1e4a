#pragma once
// Helpers shared by the attention ops (ops/attention.cpp, ops/moba.cpp); not part of the public API.
#include "core/tensor.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace tangent::detail {

// k or v [B, Hkv, L, E] with each head repeated H / Hkv times: [B, H, L, E] (query head h reads kv head
// h / (H / Hkv), grouped-query attention).
inline Tensor expand_kv_heads(const Tensor& t, int64_t H) {
  const int64_t B = t.size(0), Hkv = t.size(1), L = t.size(2), E = t.size(3);
  if (Hkv == H) return t;
  return reshape(expand(unsqueeze(t, 2), {B, Hkv, H / Hkv, L, E}), {B, H, L, E});
}

// The transpose of expand_kv_heads: [B, H, L, E] summed over each group of H / Hkv heads -> [B, Hkv, L, E].
inline Tensor sum_kv_heads(const Tensor& t, int64_t Hkv) {
  const int64_t B = t.size(0), H = t.size(1), L = t.size(2), E = t.size(3);
  if (Hkv == H) return t;
  return sum(reshape(t, {B, Hkv, H / Hkv, L, E}), {2});
}

}  // namespace tangent::detail
