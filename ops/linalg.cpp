// STUB: to be implemented
#include "ops/linalg.h"

namespace tangent {

Tensor matmul(const Tensor&, const Tensor&) { TANGENT_FAIL("matmul: not implemented yet"); }
Tensor mm(const Tensor&, const Tensor&) { TANGENT_FAIL("mm: not implemented yet"); }
Tensor bmm(const Tensor&, const Tensor&) { TANGENT_FAIL("bmm: not implemented yet"); }
Tensor linear(const Tensor&, const Tensor&, const Tensor&) { TANGENT_FAIL("linear: not implemented yet"); }
Tensor addmm(const Tensor&, const Tensor&, const Tensor&, const Scalar&, const Scalar&) { TANGENT_FAIL("addmm: not implemented yet"); }

}  // namespace tangent
