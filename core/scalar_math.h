#pragma once
// The elementwise primitives of the Backend (Backend::unary, Backend::binary): one list of each, and each op's
// scalar formula, written once for the host (ops/cpu/elementwise.cpp) and the device (cuda/cuda_kernels.cu).
// core/backend.h generates the UnaryOp and BinaryOp enums and their names from the lists at the bottom; both
// backends generate their dispatch from the same lists.
//
// An op is a struct with its name (as errors and autograd print it), the dtypes it accepts (`domain`) and its
// formula `f`, a function template over the compute type A (acc_t<T>: float for float16/bfloat16, else T).
// Adding an op is one struct here and its name in the list. A formula returns A, or bool for ops whose output
// is bool (comparisons, logic); it may use std:: maths (nvcc provides the float and double overloads on the
// device) and `if constexpr` on A, and must not allocate or throw. NaN tests are written `v != v`.
#include <cmath>
#include <cstdint>
#include <type_traits>

#if defined(__CUDACC__)
#define TANGENT_HOST_DEVICE __host__ __device__
#else
#define TANGENT_HOST_DEVICE
#endif

namespace tangent::scalar_math {

// Which input dtypes an op accepts; the backends reject the others with an Error naming the op and the dtype.
enum class Domain : uint8_t {
  Floating,  // float16, bfloat16, float32, float64
  Numeric,   // floating and int64 (not bool)
  Any,       // every dtype; on bool, add/maximum are "or" and mul/minimum "and"
  Compare,   // every dtype; out is bool (the inputs share a dtype)
  Logical,   // every dtype, read as truth values (nonzero is true); out is bool
};

// p0 and p1 of Backend::unary: in the compute type (floating A only; 0 otherwise) and as given.
template <typename A>
struct Params {
  A a0, a1;
  double d0, d1;
  TANGENT_HOST_DEVICE Params(double p0, double p1)
      : a0(std::is_floating_point_v<A> ? static_cast<A>(p0) : A(0)),
        a1(std::is_floating_point_v<A> ? static_cast<A>(p1) : A(0)),
        d0(p0),
        d1(p1) {}
};

// ---------------------------------------------------------------------------------------------------------------
// float erf and exp without a libm call, so that the CPU loops over them vectorise (libm's erff and expf are scalar
// calls; ops/cpu/elementwise.cpp is built with -fno-trapping-math so that the selects below if-convert). Host code
// only: the device keeps its own erff/expf. float64 always uses std::.

// erf: the rational minimax approximation of Eigen's vectorised erf (x P(x^2) / Q(x^2) on [-4, 4]; erf(x) rounds
// to +-1 in float beyond); within 6 ulp of the correctly rounded erf, 4e-7 absolute (tests/test_elementwise.cpp
// checks a dense grid against double erf). NaN stays NaN (the clamp's comparisons let it through).
TANGENT_HOST_DEVICE inline float erf_float(float v) {
#if defined(__CUDA_ARCH__)
  return erff(v);
#else
  float x = v < -4.f ? -4.f : v;
  x = x > 4.f ? 4.f : x;
  const float x2 = x * x;
  float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
  p = x2 * p + -2.10102402082508e-06f;
  p = x2 * p + -5.69250639462346e-05f;
  p = x2 * p + -7.34990630326855e-04f;
  p = x2 * p + -2.95459980854025e-03f;
  p = x2 * p + -1.60960333262415e-02f;
  float q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
  q = x2 * q + -1.68282697438203e-03f;
  q = x2 * q + -7.37332916720468e-03f;
  q = x2 * q + -1.42647390514189e-02f;
  return x * p / q;
#endif
}

// exp(v) for v <= 0 (the Gaussian density's exp(-x^2/2)): 2^n * e^r with n = round(v / ln 2), |r| <= ln2 / 2, e^r
// by its degree-6 Taylor polynomial (relative error below 2e-7); 0 below -87 (where exp leaves float's normal
// range). NaN stays NaN.
TANGENT_HOST_DEVICE inline float exp_nonpositive_float(float v) {
#if defined(__CUDA_ARCH__)
  return expf(v);
#else
  // n: round to nearest by adding and subtracting 1.5 * 2^23 (floorf does not vectorise here).
  // NaN takes the -87 branch for the arithmetic (a NaN n would make the int conversion below undefined) and is
  // given back at the end.
  const float keep = v < -87.f ? 0.f : 1.f;
  const float x = v >= -87.f ? v : -87.f;
  const float n = (x * 1.44269504088896341f + 12582912.f) - 12582912.f;
  const float r = (x - n * 0.693145751953125f) - n * 1.42860682030941723e-6f;
  float e = r * (1.f / 720) + (1.f / 120);
  e = r * e + (1.f / 24);
  e = r * e + (1.f / 6);
  e = r * e + 0.5f;
  e = r * e + 1.f;
  e = r * e + 1.f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;  // 2^n, n in [-126, 0]
  float scale;
  __builtin_memcpy(&scale, &bits, sizeof scale);
  return v != v ? v : e * scale * keep;
#endif
}

template <typename A>
TANGENT_HOST_DEVICE inline A erf_of(A v) {
  if constexpr (std::is_same_v<A, float>) {
    return erf_float(v);
  } else {
    return std::erf(v);
  }
}

// d/dx gelu(x) = Phi(x) + x phi(x), Phi the standard normal CDF and phi its density.
template <typename A>
TANGENT_HOST_DEVICE inline A gelu_grad_of(A v) {
  const A cdf = A(0.5) * (A(1) + erf_of(v * A(0.70710678118654752440)));
  A e;
  if constexpr (std::is_same_v<A, float>) {
    e = exp_nonpositive_float(A(-0.5) * v * v);
  } else {
    e = std::exp(A(-0.5) * v * v);
  }
  return cdf + v * e * A(0.39894228040143267794);
}

// ---------------------------------------------------------------------------------------------------------------
// Unary ops: f(v, params).

// TANGENT_UNARY_FORMULA(enum name, "name", domain, body of f(A v, const Params<A>& p)).
#define TANGENT_UNARY_FORMULA(Name, str, dom, ...)               \
  struct Name {                                                  \
    static constexpr const char* name = str;                     \
    static constexpr Domain domain = Domain::dom;                \
    template <typename A>                                        \
    TANGENT_HOST_DEVICE static auto f(A v, const Params<A>& p) { \
      (void)p;                                                   \
      __VA_ARGS__                                                \
    }                                                            \
  }

TANGENT_UNARY_FORMULA(Neg, "neg", Numeric, return static_cast<A>(-v););
TANGENT_UNARY_FORMULA(Exp, "exp", Floating, return std::exp(v););
TANGENT_UNARY_FORMULA(Log, "log", Floating, return std::log(v););
TANGENT_UNARY_FORMULA(Log1p, "log1p", Floating, return std::log1p(v););
TANGENT_UNARY_FORMULA(Sqrt, "sqrt", Floating, return std::sqrt(v););
TANGENT_UNARY_FORMULA(Rsqrt, "rsqrt", Floating, return A(1) / std::sqrt(v););
TANGENT_UNARY_FORMULA(Abs, "abs", Numeric, return v < A(0) ? static_cast<A>(-v) : v;);
TANGENT_UNARY_FORMULA(Sign, "sign", Numeric, return static_cast<A>((A(0) < v) - (v < A(0))););
TANGENT_UNARY_FORMULA(Sin, "sin", Floating, return std::sin(v););
TANGENT_UNARY_FORMULA(Cos, "cos", Floating, return std::cos(v););
TANGENT_UNARY_FORMULA(Tanh, "tanh", Floating, return std::tanh(v););
TANGENT_UNARY_FORMULA(Sigmoid, "sigmoid", Floating, return A(1) / (A(1) + std::exp(-v)););
// NaN stays NaN.
TANGENT_UNARY_FORMULA(Relu, "relu", Floating, return v > A(0) ? v : (v != v ? v : A(0)););
// Exact: x * Phi(x).
TANGENT_UNARY_FORMULA(Gelu, "gelu", Floating, return A(0.5) * v * (A(1) + erf_of(v * A(0.70710678118654752440))););
// The tanh approximation.
TANGENT_UNARY_FORMULA(GeluTanh, "gelu_tanh", Floating,
                      return A(0.5) * v *
                             (A(1) + std::tanh(A(0.79788456080286535588) * (v + A(0.044715) * v * v * v))););
TANGENT_UNARY_FORMULA(Silu, "silu", Floating, return v / (A(1) + std::exp(-v)););
// p0 = beta, p1 = threshold (linear above it).
TANGENT_UNARY_FORMULA(Softplus, "softplus", Floating,
                      return v * p.a0 > p.a1 ? v : std::log1p(std::exp(v * p.a0)) / p.a0;);
TANGENT_UNARY_FORMULA(Erf, "erf", Floating, return erf_of(v););
TANGENT_UNARY_FORMULA(Reciprocal, "reciprocal", Floating, return A(1) / v;);
TANGENT_UNARY_FORMULA(Square, "square", Numeric, return static_cast<A>(v * v););
// x ^ p0 (the CPU backend runs p0 = 2 and 0.5 as Square and Sqrt, which give the same values).
TANGENT_UNARY_FORMULA(PowScalar, "pow", Floating,
                      return p.d0 == 2.0   ? v * v
                             : p.d0 == 1.0 ? v
                             : p.d0 == 0.5 ? std::sqrt(v)
                                           : std::pow(v, p.a0););
// Clamp to [p0, p1] (either may be +-inf); NaN stays NaN. Integers compare in double.
TANGENT_UNARY_FORMULA(
    Clamp, "clamp", Numeric,
    if constexpr (std::is_integral_v<A>) {
      double d = static_cast<double>(v);
      d = d < p.d0 ? p.d0 : d;
      d = d > p.d1 ? p.d1 : d;
      return static_cast<A>(d);
    } else {
      const A low = v < p.a0 ? p.a0 : v;  // NaN compares false: it passes through both
      return low > p.a1 ? p.a1 : low;
    });
// gelu's derivative (its backward is g * gelu_grad(x)): one pass instead of eleven.
TANGENT_UNARY_FORMULA(GeluGrad, "gelu_grad", Floating, return gelu_grad_of(v););
TANGENT_UNARY_FORMULA(LogicalNot, "logical_not", Logical, return v == A(0););
TANGENT_UNARY_FORMULA(Floor, "floor", Numeric, if constexpr (std::is_integral_v<A>) return v;
                      else return std::floor(v););
// Half to even (torch.round): nearbyint in the default rounding mode.
TANGENT_UNARY_FORMULA(Round, "round", Numeric, if constexpr (std::is_integral_v<A>) return v;
                      else return std::nearbyint(v););
#undef TANGENT_UNARY_FORMULA

// ---------------------------------------------------------------------------------------------------------------
// Binary ops: f(x, y).

// TANGENT_BINARY_FORMULA(enum name, "name", domain, body of f(A x, A y)).
#define TANGENT_BINARY_FORMULA(Name, str, dom, ...) \
  struct Name {                                     \
    static constexpr const char* name = str;        \
    static constexpr Domain domain = Domain::dom;   \
    template <typename A>                           \
    TANGENT_HOST_DEVICE static auto f(A x, A y) {   \
      __VA_ARGS__                                   \
    }                                               \
  }

TANGENT_BINARY_FORMULA(Add, "add", Any, return static_cast<A>(x + y););
TANGENT_BINARY_FORMULA(Sub, "sub", Numeric, return static_cast<A>(x - y););
TANGENT_BINARY_FORMULA(Mul, "mul", Any, return static_cast<A>(x * y););
// Integers: floor division as in Python; dividing by zero gives 0.
TANGENT_BINARY_FORMULA(
    Div, "div", Numeric,
    if constexpr (std::is_integral_v<A>) {
      if (y == 0) return A(0);
      A q = x / y;
      if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
      return q;
    } else { return x / y; });
// Computed in double for every dtype.
TANGENT_BINARY_FORMULA(Pow, "pow", Numeric,
                       return static_cast<A>(std::pow(static_cast<double>(x), static_cast<double>(y))););
// NaN in either operand gives NaN.
TANGENT_BINARY_FORMULA(
    Maximum, "maximum", Any,
    if constexpr (std::is_floating_point_v<A>) {
      if (x != x) return x;
      if (y != y) return y;
    } return x > y
        ? x
        : y;);
TANGENT_BINARY_FORMULA(
    Minimum, "minimum", Any,
    if constexpr (std::is_floating_point_v<A>) {
      if (x != x) return x;
      if (y != y) return y;
    } return x < y
        ? x
        : y;);
TANGENT_BINARY_FORMULA(Eq, "eq", Compare, return x == y;);
TANGENT_BINARY_FORMULA(Ne, "ne", Compare, return x != y;);
TANGENT_BINARY_FORMULA(Lt, "lt", Compare, return x < y;);
TANGENT_BINARY_FORMULA(Le, "le", Compare, return x <= y;);
TANGENT_BINARY_FORMULA(Gt, "gt", Compare, return x > y;);
TANGENT_BINARY_FORMULA(Ge, "ge", Compare, return x >= y;);
TANGENT_BINARY_FORMULA(LogicalAnd, "logical_and", Logical, return x != A(0) && y != A(0););
TANGENT_BINARY_FORMULA(LogicalOr, "logical_or", Logical, return x != A(0) || y != A(0););
// atan2(y = x, x = y): the angle of the point (y, x) in (-pi, pi], as torch.atan2(input, other).
TANGENT_BINARY_FORMULA(Atan2, "atan2", Floating, return std::atan2(x, y););
#undef TANGENT_BINARY_FORMULA

// ---------------------------------------------------------------------------------------------------------------
// The lists. A new op goes at the end of its list (the enums follow this order).
// clang-format off
#define TANGENT_UNARY_OPS(X)                                                                                    \
  X(Neg) X(Exp) X(Log) X(Log1p) X(Sqrt) X(Rsqrt) X(Abs) X(Sign) X(Sin) X(Cos) X(Tanh) X(Sigmoid) X(Relu) X(Gelu) \
  X(GeluTanh) X(Silu) X(Softplus) X(Erf) X(Reciprocal) X(Square) X(PowScalar) X(Clamp) X(LogicalNot) X(Floor)  \
  X(Round) X(GeluGrad)

#define TANGENT_BINARY_OPS(X)                                                                                    \
  X(Add) X(Sub) X(Mul) X(Div) X(Pow) X(Maximum) X(Minimum) X(Eq) X(Ne) X(Lt) X(Le) X(Gt) X(Ge) X(LogicalAnd)     \
  X(LogicalOr) X(Atan2)
// clang-format on

// Whether dtype T (a storage type: float, double, Half, BFloat16, int64_t, bool) is in `domain`.
template <typename T>
constexpr bool accepts(Domain domain) {
  constexpr bool is_bool = std::is_same_v<T, bool>;
  constexpr bool is_int = std::is_integral_v<T> && !is_bool;
  switch (domain) {
    case Domain::Floating:
      return !is_bool && !is_int;
    case Domain::Numeric:
      return !is_bool;
    default:
      return true;
  }
}

}  // namespace tangent::scalar_math
