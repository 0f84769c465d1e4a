#pragma once
// Numerical gradient checks (float64 central differences) used by every suite, plus small comparison helpers.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include <tangent/tangent.h>

namespace tangent::testing {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;
// A function with several outputs (any of which may be undefined, meaning "no dependence").
using MultiFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

// Checks the analytic Jacobian of fn (via autograd, one backward per output element) against central differences
// for every floating input that requires grad. Inputs that require grad must be float64; they are copied (keeping
// a non-contiguous layout non-contiguous) and the copies are perturbed through their storage. `name` labels the
// failure message, which gives the first mismatch with its indices and both values.
::testing::AssertionResult gradcheck(const Fn& fn, const std::vector<Tensor>& inputs, double eps = 1e-6,
                                     double atol = 1e-5, double rtol = 1e-3, const std::string& name = "fn");

// The same for a function with several outputs.
::testing::AssertionResult gradcheck_multi(const MultiFn& fn, const std::vector<Tensor>& inputs, double eps = 1e-6,
                                           double atol = 1e-5, double rtol = 1e-3, const std::string& name = "fn");

// Second order: for a fixed random v of fn's output shape, checks the full Jacobian of
// inputs -> d<fn(inputs), v>/d inputs (computed with create_graph) against central differences, i.e. that the
// backward is itself differentiable and correct. (Equivalent to, and stronger than, checking
// sum_i <grad_i, w_i> for random w_i; it needs no reduction op.)
::testing::AssertionResult gradgradcheck(const Fn& fn, const std::vector<Tensor>& inputs, double eps = 1e-6,
                                         double atol = 1e-4, double rtol = 1e-3, const std::string& name = "fn");

// A copy of t with the same values but non-contiguous strides (an every-other-element slice, at offset 1, of a
// larger NaN-filled buffer). A tensor with at most one element stays contiguous. The copy is a leaf that
// requires grad when t is floating and requires grad.
Tensor make_noncontiguous(const Tensor& t);

// Max |a - b| as a double (shapes must match; NaN in the same place counts as equal, NaN against a number as inf).
double max_abs_diff(const Tensor& a, const Tensor& b);

// Elementwise |actual - expected| <= atol + rtol * |expected| with equal shapes (NaN matches NaN); the failure
// message names the first offending index and both values.
::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected, double rtol = 1e-5,
                                     double atol = 1e-8);

}  // namespace tangent::testing
