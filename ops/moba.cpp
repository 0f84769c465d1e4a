// MoBA attention (placeholder until the kernel lands).
#include "ops/moba.h"

#include "core/error.h"

namespace tangent {

Tensor moba_select_blocks(const Tensor&, const Tensor&, const AttentionOptions&) {
  TANGENT_FAIL("moba_select_blocks: not implemented yet");
}

Tensor moba_attention(const Tensor&, const Tensor&, const Tensor&, const AttentionOptions&) {
  TANGENT_FAIL("moba_attention: not implemented yet");
}

}  // namespace tangent
