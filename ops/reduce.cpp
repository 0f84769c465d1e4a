// STUB: to be implemented
#include "ops/reduce.h"

namespace tangent {

Tensor sum(const Tensor&, const Shape&, bool) { TANGENT_FAIL("sum: not implemented yet"); }
Tensor sum(const Tensor&, const Shape&, bool, DType) { TANGENT_FAIL("sum: not implemented yet"); }
Tensor mean(const Tensor&, const Shape&, bool) { TANGENT_FAIL("mean: not implemented yet"); }
Tensor var(const Tensor&, const Shape&, int64_t, bool) { TANGENT_FAIL("var: not implemented yet"); }
Tensor std(const Tensor&, const Shape&, int64_t, bool) { TANGENT_FAIL("std: not implemented yet"); }
Tensor prod(const Tensor&, const Shape&, bool) { TANGENT_FAIL("prod: not implemented yet"); }
Tensor amax(const Tensor&, const Shape&, bool) { TANGENT_FAIL("amax: not implemented yet"); }
Tensor amin(const Tensor&, const Shape&, bool) { TANGENT_FAIL("amin: not implemented yet"); }
Tensor max(const Tensor&) { TANGENT_FAIL("max: not implemented yet"); }
Tensor min(const Tensor&) { TANGENT_FAIL("min: not implemented yet"); }
std::tuple<Tensor, Tensor> max(const Tensor&, int64_t, bool) { TANGENT_FAIL("max: not implemented yet"); }
std::tuple<Tensor, Tensor> min(const Tensor&, int64_t, bool) { TANGENT_FAIL("min: not implemented yet"); }
Tensor argmax(const Tensor&, int64_t, bool) { TANGENT_FAIL("argmax: not implemented yet"); }
Tensor argmin(const Tensor&, int64_t, bool) { TANGENT_FAIL("argmin: not implemented yet"); }
Tensor argmax(const Tensor&) { TANGENT_FAIL("argmax: not implemented yet"); }
Tensor logsumexp(const Tensor&, const Shape&, bool) { TANGENT_FAIL("logsumexp: not implemented yet"); }
Tensor norm(const Tensor&, double, const Shape&, bool) { TANGENT_FAIL("norm: not implemented yet"); }
Tensor softmax(const Tensor&, int64_t) { TANGENT_FAIL("softmax: not implemented yet"); }
Tensor log_softmax(const Tensor&, int64_t) { TANGENT_FAIL("log_softmax: not implemented yet"); }
Tensor sum_to(const Tensor&, const Shape&) { TANGENT_FAIL("sum_to: not implemented yet"); }
bool allclose(const Tensor&, const Tensor&, double, double, bool) { TANGENT_FAIL("allclose: not implemented yet"); }
bool equal(const Tensor&, const Tensor&) { TANGENT_FAIL("equal: not implemented yet"); }
Tensor isnan(const Tensor&) { TANGENT_FAIL("isnan: not implemented yet"); }
bool any(const Tensor&) { TANGENT_FAIL("any: not implemented yet"); }
bool all(const Tensor&) { TANGENT_FAIL("all: not implemented yet"); }

}  // namespace tangent
