#pragma once
// MoBA (mixture of block attention; Lu et al. 2025, with the routing of Xiao et al. 2025): keys and values are
// split into blocks of `moba_block_size` positions; each query scores every block by the unscaled float32 dot
// product of q with the block's mean key; a past block is a candidate only if it lies entirely before the
// query; the query's own block is always selected (token-level causal inside it) and counts toward top-k. The
// query attends with one softmax over the union of its selected blocks. Routing is not differentiated.
//
// Conventions: q [B, H, L, D], k [B, Hkv, L, D], v [B, Hkv, L, Dv] (H a multiple of Hkv: query head h reads, and
// routes with, kv head h / (H / Hkv)); out [B, H, L, Dv]. MoBA is always causal (options.causal is ignored) and
// self-attention: Lq must equal Lk. Scale: options.scale, NaN meaning 1/sqrt(D). key_padding_mask is rejected.
// Ties between gates go to the later block. top_k = 1 is block-diagonal causal attention (each query sees only
// its own block); top_k >= ceil(L / block) is dense causal attention. float32 or float64, any backend (the fused
// kernels where the backend supports Primitive::Moba, the reference otherwise). The gate is
// computed in the input dtype (float32, or float64 for float64 inputs).
#include <utility>

#include "ops/attention.h"

namespace tangent {

// The selected blocks: [B, H, Lq, nblocks] bool (nblocks = ceil(Lk / block)), true where query i attends to
// block n. Computed without gradients.
Tensor moba_select_blocks(const Tensor& q, const Tensor& k, const AttentionOptions& options);

// MoBA attention (options.kind is ignored): the fused block-sparse kernel when options.fused, else the
// reference (dense causal softmax attention masked to the selected blocks).
Tensor moba_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& options);

// The same output, and the log-sum-exp of each query's scaled scores over the keys it attends to, [B, H, Lq]
// (not differentiable).
std::pair<Tensor, Tensor> moba_attention_with_lse(const Tensor& q, const Tensor& k, const Tensor& v,
                                                  const AttentionOptions& options);

}  // namespace tangent
