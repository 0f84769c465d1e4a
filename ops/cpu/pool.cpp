// STUB: to be implemented
#include "ops/cpu/cpu_backend.h"

namespace tangent::cpu {

void CpuBackend::pool2d(PoolKind, const Tensor&, const Pool2dParams&, const Tensor&, const Tensor*) { TANGENT_FAIL("pool2d: not implemented yet"); }
void CpuBackend::avg_pool2d_backward(const Tensor&, const Pool2dParams&, const Tensor&) { TANGENT_FAIL("avg_pool2d_backward: not implemented yet"); }

}  // namespace tangent::cpu
