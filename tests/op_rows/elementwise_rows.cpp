// Op-table rows for the elementwise ops (ops/elementwise.h): binary arithmetic with broadcasting and scalars,
// where / masked_fill, and every unary math function, each with a std:: reference where one is easy to write.
// Inputs are kept away from kinks and discontinuities (0 for abs/relu, ties for maximum, clamp bounds, the
// softplus threshold) so central differences are meaningful.
#include <cmath>
#include <functional>

#include "support/op_table.h"

using namespace tangent;
using tangent::testing::OpCase;

namespace {

using Inputs = std::vector<Tensor>;
constexpr double kPi = 3.14159265358979323846;

// Uniform float64 values in [lo, hi).
Tensor uniform(const Shape& s, double lo, double hi) { return add(mul(rand(s, kFloat64), hi - lo), lo); }
// Magnitudes in [lo, hi) with random signs.
Tensor signed_away_from_zero(const Shape& s, double lo = 0.3, double hi = 2.0) {
  return mul(uniform(s, lo, hi), sub(mul(bernoulli(s, 0.5, kFloat64), 2.0), 1.0));
}
Tensor normal(const Shape& s) { return randn(s, kFloat64); }

// A float64 tensor of `shape` holding v (also for 0-dim shapes).
Tensor from_values(const std::vector<double>& v, const Shape& shape) {
  return tensor(v, Shape{static_cast<int64_t>(v.size())}, kFloat64).reshape(shape);
}

// Reference for a unary function: a std:: loop over the values.
std::function<Tensor(const Inputs&)> unary_ref(std::function<double(double)> f) {
  return [f](const Inputs& x) {
    std::vector<double> v = to_vector<double>(x[0]);
    for (auto& e : v) e = f(e);
    return from_values(v, x[0].shape());
  };
}

// Reference for a binary function with broadcasting (operands expanded, then a loop).
std::function<Tensor(const Inputs&)> binary_ref(std::function<double(double, double)> f) {
  return [f](const Inputs& x) {
    const Shape s = broadcast_shapes(x[0].shape(), x[1].shape(), "reference");
    const std::vector<double> a = to_vector<double>(x[0].expand(s)), b = to_vector<double>(x[1].expand(s));
    std::vector<double> out(a.size());
    for (size_t i = 0; i < a.size(); ++i) out[i] = f(a[i], b[i]);
    return from_values(out, s);
  };
}

double sigmoid_ref(double v) { return 1.0 / (1.0 + std::exp(-v)); }

}  // namespace

// ---- add / sub / mul / div ----
TANGENT_OP_CASE(add_same, {
    .name = "add/same_shape",
    .inputs = [] { return Inputs{normal({3, 4}), normal({3, 4})}; },
    .fn = [](const Inputs& x) { return add(x[0], x[1]); },
    .reference = binary_ref([](double a, double b) { return a + b; }),
});
TANGENT_OP_CASE(add_bcast_row, {
    .name = "add/broadcast_row",
    .inputs = [] { return Inputs{normal({3, 4}), normal({4})}; },
    .fn = [](const Inputs& x) { return add(x[0], x[1]); },
    .reference = binary_ref([](double a, double b) { return a + b; }),
});
TANGENT_OP_CASE(add_bcast_outer, {
    .name = "add/broadcast_outer",
    .inputs = [] { return Inputs{normal({3, 1}), normal({1, 4})}; },
    .fn = [](const Inputs& x) { return add(x[0], x[1]); },
    .reference = binary_ref([](double a, double b) { return a + b; }),
});
TANGENT_OP_CASE(add_alpha, {
    .name = "add/alpha",
    .inputs = [] { return Inputs{normal({3, 4}), normal({3, 4})}; },
    .fn = [](const Inputs& x) { return add(x[0], x[1], 2.5); },
    .reference = binary_ref([](double a, double b) { return a + 2.5 * b; }),
});
TANGENT_OP_CASE(add_scalar, {
    .name = "add/scalar",
    .inputs = [] { return Inputs{normal({3, 4})}; },
    .fn = [](const Inputs& x) { return add(x[0], 1.5); },
    .reference = unary_ref([](double a) { return a + 1.5; }),
});
TANGENT_OP_CASE(add_0dim, {
    .name = "add/zero_dim",
    .inputs = [] { return Inputs{normal({3, 4}), normal({})}; },
    .fn = [](const Inputs& x) { return add(x[0], x[1]); },
    .reference = binary_ref([](double a, double b) { return a + b; }),
});
// Mixed precision: float64 + float32 promotes to float64; the float32 input is not perturbed.
TANGENT_OP_CASE(add_mixed, {
    .name = "add/mixed_float64_float32",
    .inputs = [] { return Inputs{normal({3, 4}), randn({3, 4}, kFloat32)}; },
    .fn = [](const Inputs& x) { return add(x[0], x[1]); },
    .reference = binary_ref([](double a, double b) { return a + b; }),
    .no_grad_inputs = {1},
});
TANGENT_OP_CASE(mul_mixed, {
    .name = "mul/mixed_float64_float32_broadcast",
    .inputs = [] { return Inputs{normal({3, 4}), randn({4}, kFloat32)}; },
    .fn = [](const Inputs& x) { return mul(x[0], x[1]); },
    .reference = binary_ref([](double a, double b) { return a * b; }),
    .no_grad_inputs = {1},
});
TANGENT_OP_CASE(sub_same, {
    .name = "sub/same_shape",
    .inputs = [] { return Inputs{normal({3, 4}), normal({3, 4})}; },
    .fn = [](const Inputs& x) { return sub(x[0], x[1]); },
    .reference = binary_ref([](double a, double b) { return a - b; }),
});
TANGENT_OP_CASE(sub_bcast, {
    .name = "sub/broadcast_alpha",
    .inputs = [] { return Inputs{normal({3, 1}), normal({2, 1, 4})}; },
    .fn = [](const Inputs& x) { return sub(x[0], x[1], 0.5); },
    .reference = binary_ref([](double a, double b) { return a - 0.5 * b; }),
});
TANGENT_OP_CASE(sub_scalar_lhs, {
    .name = "sub/scalar_lhs",
    .inputs = [] { return Inputs{normal({3, 4})}; },
    .fn = [](const Inputs& x) { return 2.0 - x[0]; },
    .reference = unary_ref([](double a) { return 2.0 - a; }),
});
TANGENT_OP_CASE(mul_same, {
    .name = "mul/same_shape",
    .inputs = [] { return Inputs{normal({3, 4}), normal({3, 4})}; },
    .fn = [](const Inputs& x) { return mul(x[0], x[1]); },
    .reference = binary_ref([](double a, double b) { return a * b; }),
});
TANGENT_OP_CASE(mul_bcast, {
    .name = "mul/broadcast_outer",
    .inputs = [] { return Inputs{normal({3, 1}), normal({1, 4})}; },
    .fn = [](const Inputs& x) { return mul(x[0], x[1]); },
    .reference = binary_ref([](double a, double b) { return a * b; }),
});
TANGENT_OP_CASE(mul_self, {
    .name = "mul/same_tensor_twice",
    .inputs = [] { return Inputs{normal({3, 4})}; },
    .fn = [](const Inputs& x) { return mul(x[0], x[0]); },
    .reference = unary_ref([](double a) { return a * a; }),
});
TANGENT_OP_CASE(mul_scalar, {
    .name = "mul/scalar",
    .inputs = [] { return Inputs{normal({3, 4})}; },
    .fn = [](const Inputs& x) { return mul(x[0], -1.75); },
    .reference = unary_ref([](double a) { return -1.75 * a; }),
});
TANGENT_OP_CASE(div_same, {
    .name = "div/same_shape",
    .inputs = [] { return Inputs{normal({3, 4}), signed_away_from_zero({3, 4}, 0.5, 2.0)}; },
    .fn = [](const Inputs& x) { return div(x[0], x[1]); },
    .reference = binary_ref([](double a, double b) { return a / b; }),
});
TANGENT_OP_CASE(div_bcast, {
    .name = "div/broadcast_row",
    .inputs = [] { return Inputs{normal({3, 4}), signed_away_from_zero({4}, 0.5, 2.0)}; },
    .fn = [](const Inputs& x) { return div(x[0], x[1]); },
    .reference = binary_ref([](double a, double b) { return a / b; }),
});
TANGENT_OP_CASE(div_scalar_lhs, {
    .name = "div/scalar_lhs",
    .inputs = [] { return Inputs{signed_away_from_zero({3, 4}, 0.5, 2.0)}; },
    .fn = [](const Inputs& x) { return 3.0 / x[0]; },
    .reference = unary_ref([](double a) { return 3.0 / a; }),
});
TANGENT_OP_CASE(div_scalar, {
    .name = "div/scalar",
    .inputs = [] { return Inputs{normal({3, 4})}; },
    .fn = [](const Inputs& x) { return div(x[0], 4.0); },
    .reference = unary_ref([](double a) { return a / 4.0; }),
});

// ---- pow ----
TANGENT_OP_CASE(pow_tt, {
    .name = "pow/tensor_tensor",
    .inputs = [] { return Inputs{uniform({3, 4}, 0.5, 2.0), normal({3, 4})}; },
    .fn = [](const Inputs& x) { return pow(x[0], x[1]); },
    .reference = binary_ref([](double a, double b) { return std::pow(a, b); }),
});
TANGENT_OP_CASE(pow_tt_bcast, {
    .name = "pow/tensor_tensor_broadcast",
    .inputs = [] { return Inputs{uniform({3, 4}, 0.5, 2.0), normal({4})}; },
    .fn = [](const Inputs& x) { return pow(x[0], x[1]); },
    .reference = binary_ref([](double a, double b) { return std::pow(a, b); }),
});
TANGENT_OP_CASE(pow_scalar_base, {
    .name = "pow/scalar_base",
    .inputs = [] { return Inputs{normal({3, 4})}; },
    .fn = [](const Inputs& x) { return pow(2.0, x[0]); },
    .reference = unary_ref([](double a) { return std::pow(2.0, a); }),
});
TANGENT_OP_CASE(pow_2, {
    .name = "pow/scalar_2",
    .inputs = [] { return Inputs{normal({3, 4})}; },
    .fn = [](const Inputs& x) { return pow(x[0], 2.0); },
    .reference = unary_ref([](double a) { return a * a; }),
});
TANGENT_OP_CASE(pow_3, {
    .name = "pow/scalar_3",
    .inputs = [] { return Inputs{normal({3, 4})}; },
    .fn = [](const Inputs& x) { return pow(x[0], 3); },
    .reference = unary_ref([](double a) { return a * a * a; }),
});
TANGENT_OP_CASE(pow_half, {
    .name = "pow/scalar_0.5",
    .inputs = [] { return Inputs{uniform({3, 4}, 0.5, 3.0)}; },
    .fn = [](const Inputs& x) { return pow(x[0], 0.5); },
    .reference = unary_ref([](double a) { return std::sqrt(a); }),
});
TANGENT_OP_CASE(pow_2_5, {
    .name = "pow/scalar_2.5",
    .inputs = [] { return Inputs{uniform({3, 4}, 0.5, 3.0)}; },
    .fn = [](const Inputs& x) { return pow(x[0], 2.5); },
    .reference = unary_ref([](double a) { return std::pow(a, 2.5); }),
});
TANGENT_OP_CASE(pow_m1, {
    .name = "pow/scalar_-1",
    .inputs = [] { return Inputs{signed_away_from_zero({3, 4}, 0.5, 2.0)}; },
    .fn = [](const Inputs& x) { return pow(x[0], -1.0); },
    .reference = unary_ref([](double a) { return 1.0 / a; }),
});

// ---- maximum / minimum (b = a +- [0.2, 1): no ties) ----
TANGENT_OP_CASE(maximum_same, {
    .name = "maximum/same_shape",
    .inputs = [] {
      Tensor a = normal({3, 4});
      return Inputs{a, add(a, signed_away_from_zero({3, 4}, 0.2, 1.0))};
    },
    .fn = [](const Inputs& x) { return maximum(x[0], x[1]); },
    .reference = binary_ref([](double a, double b) { return std::max(a, b); }),
});
TANGENT_OP_CASE(maximum_bcast, {
    .name = "maximum/broadcast",
    .inputs = [] {
      return Inputs{tensor(std::vector<double>{-1.5, -0.5, 0.5, 1.5}, {4}, kFloat64), tensor(std::vector<double>{-1.0, 0.0, 1.0}, {3, 1}, kFloat64)};
    },
    .fn = [](const Inputs& x) { return maximum(x[0], x[1]); },
    .reference = binary_ref([](double a, double b) { return std::max(a, b); }),
});
TANGENT_OP_CASE(minimum_same, {
    .name = "minimum/same_shape",
    .inputs = [] {
      Tensor a = normal({3, 4});
      return Inputs{a, add(a, signed_away_from_zero({3, 4}, 0.2, 1.0))};
    },
    .fn = [](const Inputs& x) { return minimum(x[0], x[1]); },
    .reference = binary_ref([](double a, double b) { return std::min(a, b); }),
});
TANGENT_OP_CASE(minimum_bcast, {
    .name = "minimum/broadcast",
    .inputs = [] {
      return Inputs{tensor(std::vector<double>{-1.5, -0.5, 0.5, 1.5}, {4}, kFloat64), tensor(std::vector<double>{-1.0, 0.0, 1.0}, {3, 1}, kFloat64)};
    },
    .fn = [](const Inputs& x) { return minimum(x[0], x[1]); },
    .reference = binary_ref([](double a, double b) { return std::min(a, b); }),
});

// ---- where / masked_fill (fixed masks) ----
TANGENT_OP_CASE(where_same, {
    .name = "where/same_shape",
    .inputs = [] {
      return Inputs{tensor(std::vector<bool>{true, false, false, true, true, true, false, false, true, false, true, false},
                           {3, 4}),
                    normal({3, 4}), normal({3, 4})};
    },
    .fn = [](const Inputs& x) { return where(x[0], x[1], x[2]); },
    .reference = [](const Inputs& x) {
      const std::vector<bool> c = to_vector<bool>(x[0]);
      const std::vector<double> a = to_vector<double>(x[1]), b = to_vector<double>(x[2]);
      std::vector<double> out(c.size());
      for (size_t i = 0; i < c.size(); ++i) out[i] = c[i] ? a[i] : b[i];
      return tensor(out, x[1].shape(), kFloat64);
    },
});
TANGENT_OP_CASE(where_bcast, {
    .name = "where/broadcast",
    .inputs = [] { return Inputs{tensor(std::vector<bool>{true, false, true}, {3, 1}), normal({3, 4}), normal({4})}; },
    .fn = [](const Inputs& x) { return where(x[0], x[1], x[2]); },
    .reference = [](const Inputs& x) {
      const std::vector<bool> c = to_vector<bool>(x[0]);
      const std::vector<double> a = to_vector<double>(x[1]), b = to_vector<double>(x[2]);
      std::vector<double> out(12);
      for (size_t i = 0; i < 3; ++i)
        for (size_t j = 0; j < 4; ++j) out[i * 4 + j] = c[i] ? a[i * 4 + j] : b[j];
      return tensor(out, {3, 4}, kFloat64);
    },
});
TANGENT_OP_CASE(where_scalar, {
    .name = "where/scalar_other",
    .inputs = [] { return Inputs{tensor(std::vector<bool>{true, false, false, true}, {4}), normal({3, 4})}; },
    .fn = [](const Inputs& x) { return where(x[0], x[1], -2.0); },
    .reference = [](const Inputs& x) {
      const std::vector<bool> c = to_vector<bool>(x[0]);
      std::vector<double> a = to_vector<double>(x[1]);
      for (size_t i = 0; i < a.size(); ++i)
        if (!c[i % 4]) a[i] = -2.0;
      return tensor(a, {3, 4}, kFloat64);
    },
});
TANGENT_OP_CASE(masked_fill_bcast, {
    .name = "masked_fill/broadcast_mask",
    .inputs = [] { return Inputs{normal({3, 4}), tensor(std::vector<bool>{false, true, true, false}, {4})}; },
    .fn = [](const Inputs& x) { return masked_fill(x[0], x[1], 0.5); },
    .reference = [](const Inputs& x) {
      std::vector<double> a = to_vector<double>(x[0]);
      const std::vector<bool> m = to_vector<bool>(x[1]);
      for (size_t i = 0; i < a.size(); ++i)
        if (m[i % 4]) a[i] = 0.5;
      return tensor(a, {3, 4}, kFloat64);
    },
});

// ---- unary ----
TANGENT_OP_CASE(neg_row, {
    .name = "neg",
    .inputs = [] { return Inputs{normal({3, 4})}; },
    .fn = [](const Inputs& x) { return neg(x[0]); },
    .reference = unary_ref([](double a) { return -a; }),
});
TANGENT_OP_CASE(neg_operator, {
    .name = "neg/operator",
    .inputs = [] { return Inputs{normal({2, 3, 2})}; },
    .fn = [](const Inputs& x) { return -x[0]; },
    .reference = unary_ref([](double a) { return -a; }),
});
TANGENT_OP_CASE(exp_row, {
    .name = "exp",
    .inputs = [] { return Inputs{normal({3, 4})}; },
    .fn = [](const Inputs& x) { return exp(x[0]); },
    .reference = unary_ref([](double a) { return std::exp(a); }),
});
TANGENT_OP_CASE(exp_0dim, {
    .name = "exp/zero_dim",
    .inputs = [] { return Inputs{normal({})}; },
    .fn = [](const Inputs& x) { return exp(x[0]); },
    .reference = unary_ref([](double a) { return std::exp(a); }),
});
TANGENT_OP_CASE(log_row, {
    .name = "log",
    .inputs = [] { return Inputs{uniform({3, 4}, 0.5, 3.0)}; },
    .fn = [](const Inputs& x) { return log(x[0]); },
    .reference = unary_ref([](double a) { return std::log(a); }),
});
TANGENT_OP_CASE(log1p_row, {
    .name = "log1p",
    .inputs = [] { return Inputs{uniform({3, 4}, -0.5, 2.0)}; },
    .fn = [](const Inputs& x) { return log1p(x[0]); },
    .reference = unary_ref([](double a) { return std::log1p(a); }),
});
TANGENT_OP_CASE(sqrt_row, {
    .name = "sqrt",
    .inputs = [] { return Inputs{uniform({3, 4}, 0.5, 3.0)}; },
    .fn = [](const Inputs& x) { return sqrt(x[0]); },
    .reference = unary_ref([](double a) { return std::sqrt(a); }),
});
TANGENT_OP_CASE(rsqrt_row, {
    .name = "rsqrt",
    .inputs = [] { return Inputs{uniform({3, 4}, 0.5, 3.0)}; },
    .fn = [](const Inputs& x) { return rsqrt(x[0]); },
    .reference = unary_ref([](double a) { return 1.0 / std::sqrt(a); }),
});
TANGENT_OP_CASE(abs_row, {
    .name = "abs",
    .inputs = [] { return Inputs{signed_away_from_zero({3, 4})}; },
    .fn = [](const Inputs& x) { return abs(x[0]); },
    .reference = unary_ref([](double a) { return std::abs(a); }),
});
TANGENT_OP_CASE(sign_row, {
    .name = "sign",
    .inputs = [] { return Inputs{signed_away_from_zero({3, 4})}; },
    .fn = [](const Inputs& x) { return sign(x[0]); },
    .reference = unary_ref([](double a) { return a > 0 ? 1.0 : -1.0; }),
});
TANGENT_OP_CASE(sin_row, {
    .name = "sin",
    .inputs = [] { return Inputs{uniform({3, 4}, -3.0, 3.0)}; },
    .fn = [](const Inputs& x) { return sin(x[0]); },
    .reference = unary_ref([](double a) { return std::sin(a); }),
});
TANGENT_OP_CASE(cos_row, {
    .name = "cos",
    .inputs = [] { return Inputs{uniform({3, 4}, -3.0, 3.0)}; },
    .fn = [](const Inputs& x) { return cos(x[0]); },
    .reference = unary_ref([](double a) { return std::cos(a); }),
});
TANGENT_OP_CASE(tanh_row, {
    .name = "tanh",
    .inputs = [] { return Inputs{mul(normal({3, 4}), 1.5)}; },
    .fn = [](const Inputs& x) { return tanh(x[0]); },
    .reference = unary_ref([](double a) { return std::tanh(a); }),
});
TANGENT_OP_CASE(sigmoid_row, {
    .name = "sigmoid",
    .inputs = [] { return Inputs{mul(normal({3, 4}), 2.0)}; },
    .fn = [](const Inputs& x) { return sigmoid(x[0]); },
    .reference = unary_ref(sigmoid_ref),
});
TANGENT_OP_CASE(relu_row, {
    .name = "relu",
    .inputs = [] { return Inputs{signed_away_from_zero({3, 4}, 0.1, 2.0)}; },
    .fn = [](const Inputs& x) { return relu(x[0]); },
    .reference = unary_ref([](double a) { return a > 0 ? a : 0.0; }),
});
TANGENT_OP_CASE(gelu_exact, {
    .name = "gelu/exact",
    .inputs = [] { return Inputs{mul(normal({3, 4}), 1.5)}; },
    .fn = [](const Inputs& x) { return gelu(x[0]); },
    .reference = unary_ref([](double a) { return 0.5 * a * (1.0 + std::erf(a / std::sqrt(2.0))); }),
});
TANGENT_OP_CASE(gelu_tanh, {
    .name = "gelu/tanh",
    .inputs = [] { return Inputs{mul(normal({3, 4}), 1.5)}; },
    .fn = [](const Inputs& x) { return gelu(x[0], "tanh"); },
    .reference = unary_ref([](double a) {
      return 0.5 * a * (1.0 + std::tanh(std::sqrt(2.0 / kPi) * (a + 0.044715 * a * a * a)));
    }),
});
TANGENT_OP_CASE(silu_row, {
    .name = "silu",
    .inputs = [] { return Inputs{mul(normal({3, 4}), 2.0)}; },
    .fn = [](const Inputs& x) { return silu(x[0]); },
    .reference = unary_ref([](double a) { return a * sigmoid_ref(a); }),
});
TANGENT_OP_CASE(softplus_default, {
    .name = "softplus/default",
    .inputs = [] { return Inputs{mul(normal({3, 4}), 2.0)}; },
    .fn = [](const Inputs& x) { return softplus(x[0]); },
    .reference = unary_ref([](double a) { return std::log1p(std::exp(a)); }),
});
// beta 2, threshold 1: inputs on both sides of the switch at x = 0.5, none near it.
TANGENT_OP_CASE(softplus_beta, {
    .name = "softplus/beta2_threshold",
    .inputs = [] { return Inputs{tensor(std::vector<double>{-2.0, -0.7, 0.1, 0.3, 0.8, 1.5, 3.0, -0.1}, {2, 4}, kFloat64)}; },
    .fn = [](const Inputs& x) { return softplus(x[0], 2.0, 1.0); },
    .reference = unary_ref([](double a) { return 2.0 * a > 1.0 ? a : std::log1p(std::exp(2.0 * a)) / 2.0; }),
});
TANGENT_OP_CASE(erf_row, {
    .name = "erf",
    .inputs = [] { return Inputs{normal({3, 4})}; },
    .fn = [](const Inputs& x) { return erf(x[0]); },
    .reference = unary_ref([](double a) { return std::erf(a); }),
});
TANGENT_OP_CASE(reciprocal_row, {
    .name = "reciprocal",
    .inputs = [] { return Inputs{signed_away_from_zero({3, 4}, 0.5, 2.0)}; },
    .fn = [](const Inputs& x) { return reciprocal(x[0]); },
    .reference = unary_ref([](double a) { return 1.0 / a; }),
});
TANGENT_OP_CASE(square_row, {
    .name = "square",
    .inputs = [] { return Inputs{normal({3, 4})}; },
    .fn = [](const Inputs& x) { return square(x[0]); },
    .reference = unary_ref([](double a) { return a * a; }),
});
// clamp to [-0.5, 0.8]: values on all three pieces, none within 0.1 of a bound.
TANGENT_OP_CASE(clamp_both, {
    .name = "clamp/both",
    .inputs = [] { return Inputs{tensor(std::vector<double>{-1.7, -0.9, -0.3, 0.1, 0.6, 1.2, 2.0, -0.65}, {2, 4}, kFloat64)}; },
    .fn = [](const Inputs& x) { return clamp(x[0], -0.5, 0.8); },
    .reference = unary_ref([](double a) { return std::min(std::max(a, -0.5), 0.8); }),
});
TANGENT_OP_CASE(clamp_min_row, {
    .name = "clamp_min",
    .inputs = [] { return Inputs{tensor(std::vector<double>{-1.7, -0.9, -0.3, 0.1, 0.6, 1.2, 2.0, -0.65}, {2, 4}, kFloat64)}; },
    .fn = [](const Inputs& x) { return clamp_min(x[0], -0.5); },
    .reference = unary_ref([](double a) { return std::max(a, -0.5); }),
});
TANGENT_OP_CASE(clamp_max_row, {
    .name = "clamp_max",
    .inputs = [] { return Inputs{tensor(std::vector<double>{-1.7, -0.9, -0.3, 0.1, 0.6, 1.2, 2.0, -0.65}, {2, 4}, kFloat64)}; },
    .fn = [](const Inputs& x) { return clamp_max(x[0], 0.8); },
    .reference = unary_ref([](double a) { return std::min(a, 0.8); }),
});

// ---- compositions: backward of backward through several ops ----
TANGENT_OP_CASE(composite_chain, {
    .name = "mul/composite_tanh_exp_div",
    .inputs = [] { return Inputs{normal({3, 4}), uniform({4}, 0.5, 2.0)}; },
    .fn = [](const Inputs& x) { return div(mul(tanh(x[0]), exp(mul(x[0], 0.3))), x[1]); },
    .reference = binary_ref([](double a, double b) { return std::tanh(a) * std::exp(0.3 * a) / b; }),
});
