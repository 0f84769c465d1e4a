// STUB: to be implemented
#include "ops/cpu/cpu_backend.h"

namespace tangent::cpu {

void CpuBackend::index_select(const Tensor&, int64_t, const Tensor&, const Tensor&) { TANGENT_FAIL("index_select: not implemented yet"); }
void CpuBackend::index_add(const Tensor&, int64_t, const Tensor&, const Tensor&) { TANGENT_FAIL("index_add: not implemented yet"); }
void CpuBackend::gather(const Tensor&, int64_t, const Tensor&, const Tensor&) { TANGENT_FAIL("gather: not implemented yet"); }
void CpuBackend::scatter_add(const Tensor&, int64_t, const Tensor&, const Tensor&) { TANGENT_FAIL("scatter_add: not implemented yet"); }

}  // namespace tangent::cpu
