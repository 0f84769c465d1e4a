#pragma once
// MoBA (mixture of block attention; Lu et al. 2025, with the routing of Xiao et al. 2025): keys and values are
// split into blocks of `moba_block_size` positions; each query scores every block by the unscaled float32 dot
// product of q with the block's mean key; a past block is a candidate only if it lies entirely before the
// query; the query's own block is always selected (token-level causal inside it) and counts toward top-k. The
// query attends with one softmax over the union of its selected blocks. Routing is not differentiated.
#include "ops/attention.h"

namespace tangent {

// The selected blocks: [B, H, Lq, nblocks] bool (nblocks = ceil(Lk / block)), true where query i attends to
// block n. Computed without gradients.
Tensor moba_select_blocks(const Tensor& q, const Tensor& k, const AttentionOptions& options);

// MoBA attention (options.kind is ignored): the fused block-sparse kernel when options.fused, else the
// reference (dense causal softmax attention masked to the selected blocks).
Tensor moba_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& options);

}  // namespace tangent
