// STUB: to be implemented
#include "ops/cpu/cpu_backend.h"

namespace tangent::cpu {

void CpuBackend::conv2d(const Tensor&, const Tensor&, const Tensor*, const Conv2dParams&, const Tensor&) { TANGENT_FAIL("conv2d: not implemented yet"); }
void CpuBackend::conv2d_backward_input(const Tensor&, const Tensor&, const Conv2dParams&, const Tensor&) { TANGENT_FAIL("conv2d_backward_input: not implemented yet"); }
void CpuBackend::conv2d_backward_weight(const Tensor&, const Tensor&, const Conv2dParams&, const Tensor&, const Tensor*) { TANGENT_FAIL("conv2d_backward_weight: not implemented yet"); }

}  // namespace tangent::cpu
