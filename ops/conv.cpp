// STUB: to be implemented
#include "ops/conv.h"

namespace tangent {

Tensor conv2d(const Tensor&, const Tensor&, const Tensor&, Pair, Pair, Pair, int64_t) { TANGENT_FAIL("conv2d: not implemented yet"); }
Tensor max_pool2d(const Tensor&, Pair, Pair, Pair) { TANGENT_FAIL("max_pool2d: not implemented yet"); }
Tensor avg_pool2d(const Tensor&, Pair, Pair, Pair, bool) { TANGENT_FAIL("avg_pool2d: not implemented yet"); }
Tensor adaptive_avg_pool2d(const Tensor&, Pair) { TANGENT_FAIL("adaptive_avg_pool2d: not implemented yet"); }

}  // namespace tangent
