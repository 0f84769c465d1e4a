// STUB: to be implemented
#include "ops/cpu/cpu_backend.h"

namespace tangent::cpu {

void CpuBackend::reduce(ReduceOp, const Tensor&, const Shape&, const Tensor&) { TANGENT_FAIL("reduce: not implemented yet"); }
void CpuBackend::arg_reduce(ReduceOp, const Tensor&, int64_t, const Tensor&, const Tensor&) { TANGENT_FAIL("arg_reduce: not implemented yet"); }
void CpuBackend::softmax(const Tensor&, int64_t, bool, const Tensor&) { TANGENT_FAIL("softmax: not implemented yet"); }

}  // namespace tangent::cpu
