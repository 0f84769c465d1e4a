#pragma once
// Reductions over any set of dims (empty dims = all), with keepdim; softmax and log_softmax (all in
// ops/reduce.cpp). Max/min propagate NaN (argmax and argmin pick a NaN first); the gradient of max/min is split
// evenly among tied extreme values.
#include <optional>
#include <tuple>

#include "core/tensor.h"

namespace tangent {

Tensor sum(const Tensor& x, const Shape& dims = {}, bool keepdim = false);
Tensor sum(const Tensor& x, const Shape& dims, bool keepdim, DType dtype);
Tensor mean(const Tensor& x, const Shape& dims = {}, bool keepdim = false);
// correction = 1 gives the unbiased estimate (PyTorch's default).
Tensor var(const Tensor& x, const Shape& dims = {}, int64_t correction = 1, bool keepdim = false);
Tensor std(const Tensor& x, const Shape& dims = {}, int64_t correction = 1, bool keepdim = false);
Tensor prod(const Tensor& x, const Shape& dims = {}, bool keepdim = false);
Tensor amax(const Tensor& x, const Shape& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& x, const Shape& dims = {}, bool keepdim = false);
Tensor max(const Tensor& x);  // over all elements
Tensor min(const Tensor& x);
// Values and int64 indices along one dim.
std::tuple<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim = false);
std::tuple<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& x);  // flat index
Tensor logsumexp(const Tensor& x, const Shape& dims, bool keepdim = false);
// p-norm (p = 2 by default; p = inf for max-abs) over dims.
Tensor norm(const Tensor& x, double p = 2.0, const Shape& dims = {}, bool keepdim = false);

Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

// Sums `x` down to `shape` (the reverse of broadcasting): used by backward of broadcast ops.
Tensor sum_to(const Tensor& x, const Shape& shape);

bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8, bool equal_nan = false);
bool equal(const Tensor& a, const Tensor& b);  // same shape and exactly equal values
Tensor isnan(const Tensor& x);
bool any(const Tensor& x);  // any non-zero element
bool all(const Tensor& x);

}  // namespace tangent
