// Op-table rows for to_dtype (ops/elementwise.h): every pair of dtypes (float64, float32, float16, bfloat16,
// int64, bool), on values exactly representable in all of them, against the conversion written out (floats to
// int64 truncate toward zero, anything to bool is "nonzero"); and the gradient through the floating casts, which
// is the incoming gradient cast back (checked exactly: finite differences cannot see through a rounding cast).
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "support/op_table.h"

using namespace tangent;
using tangent::testing::OpCase;

namespace {

using Inputs = std::vector<Tensor>;

const std::vector<DType> kAllDTypes = {kFloat64, kFloat32, kFloat16, kBFloat16, kInt64, kBool};

// The expected values of x (float64) cast to `from` and then to `to`, as float64 (bool as 0/1).
std::vector<double> cast_values(const std::vector<double>& x, DType from, DType to) {
  std::vector<double> out;
  for (double v : x) {
    if (from == kInt64) v = std::trunc(v);
    if (from == kBool) v = v != 0.0 ? 1.0 : 0.0;
    if (to == kInt64) v = std::trunc(v);
    if (to == kBool) v = v != 0.0 ? 1.0 : 0.0;
    out.push_back(v);
  }
  return out;
}

// The gradient through a floating cast is the incoming gradient cast back to the input's dtype.
void expect_cast_gradient(const Tensor& x, DType to) {
  if (!is_floating_point(to) || x.dtype() != kFloat64) return;
  Tensor leaf = x.detach().requires_grad_(true);
  const Tensor y = to_dtype(leaf, to);
  ASSERT_TRUE(y.requires_grad()) << "to_dtype(float64 -> " << to << ") drops the graph";
  const Tensor seed = linspace(-2.0, 2.0, x.numel(), to).reshape(x.shape());
  const Tensor g = autograd::grad({y}, {leaf}, {seed})[0];
  EXPECT_EQ(g.dtype(), kFloat64) << "gradient of to_dtype(float64 -> " << to << ")";
  EXPECT_EQ(to_vector<double>(g), to_vector<double>(seed)) << "gradient of to_dtype(float64 -> " << to << ")";
}

const bool kCastRows = [] {
  for (DType from : kAllDTypes)
    for (DType to : kAllDTypes) {
      const std::string name = std::string("to_dtype/") + dtype_name(from) + "_to_" + dtype_name(to);
      const bool differentiable =
          is_floating_point(from) && is_floating_point(to) && from == kFloat64 && to == kFloat64;
      tangent::testing::op_cases().push_back(OpCase{
          .name = name,
          .inputs =
              [] {
                return Inputs{tensor(std::vector<double>{-2.5, -1.0, 0.0, 0.5, 1.0, 3.0, -0.5, 2.0}, {2, 4}, kFloat64)};
              },
          .fn = [from, to](const Inputs& x) { return to_dtype(to_dtype(x[0], from), to); },
          .reference =
              [from, to](const Inputs& x) {
                const std::vector<double> v = cast_values(to_vector<double>(x[0]), from, to);
                return to_dtype(tensor(v, x[0].shape(), kFloat64), to);
              },
          .dtypes = {kFloat64},
          .first_order = differentiable,
          .check =
              [from, to](const Inputs& in, const Tensor& out) {
                EXPECT_EQ(out.dtype(), to);
                expect_cast_gradient(in[0], from);
                expect_cast_gradient(in[0], to);
              },
      });
    }
  return true;
}();

// Rounding casts on values that are not representable: float64 -> float32 -> float64 equals a float cast.
TANGENT_OP_CASE(to_dtype_rounding,
                {
                    .name = "to_dtype/float64_to_float32_rounding",
                    .inputs =
                        [] {
                          return Inputs{randn({3, 4}, kFloat64)};
                        },
                    .fn = [](const Inputs& x) { return to_dtype(to_dtype(x[0], kFloat32), kFloat64); },
                    .reference =
                        [](const Inputs& x) {
                          std::vector<double> v = to_vector<double>(x[0]);
                          for (auto& e : v) e = static_cast<double>(static_cast<float>(e));
                          return tensor(v, x[0].shape(), kFloat64);
                        },
                    .dtypes = {kFloat64},  // the row rounds by itself; its output is float64 whatever the input
                    .first_order = false,
                });

}  // namespace
