// STUB: to be implemented
#include "ops/cpu/cpu_backend.h"

namespace tangent::cpu {

void CpuBackend::matmul(const Tensor&, const Tensor&, const Tensor*, const Tensor&) { TANGENT_FAIL("matmul: not implemented yet"); }

}  // namespace tangent::cpu
