// CPU elementwise kernels: unary, binary and where, over the strided loop of loops.h.
#include <cmath>

#include "ops/cpu/cpu_backend.h"
#include "ops/cpu/loops.h"

namespace tangent::cpu {

namespace {

template <typename T, typename F>
void map1(const Tensor& x, const Tensor& out, const F& f) {
  cpu_loop<2>(out.shape(), {&out, &x}, [&f](std::array<char*, 2> p, std::array<int64_t, 2> s, int64_t n) {
    T* o = reinterpret_cast<T*>(p[0]);
    const T* a = reinterpret_cast<const T*>(p[1]);
    if (s[0] == sizeof(T) && s[1] == sizeof(T)) {
      for (int64_t i = 0; i < n; ++i) o[i] = T(f(static_cast<acc_t<T>>(a[i])));
    } else {
      for (int64_t i = 0; i < n; ++i) {
        *reinterpret_cast<T*>(p[0] + i * s[0]) =
            T(f(static_cast<acc_t<T>>(*reinterpret_cast<const T*>(p[1] + i * s[1]))));
      }
    }
  });
}

// out = f(a, b) with T inputs and R output; fast paths for contiguous and scalar-broadcast operands.
template <typename T, typename R, typename F>
void map2(const Tensor& a, const Tensor& b, const Tensor& out, const F& f) {
  cpu_loop<3>(out.shape(), {&out, &a, &b}, [&f](std::array<char*, 3> p, std::array<int64_t, 3> s, int64_t n) {
    using A = acc_t<T>;
    R* o = reinterpret_cast<R*>(p[0]);
    const T* x = reinterpret_cast<const T*>(p[1]);
    const T* y = reinterpret_cast<const T*>(p[2]);
    constexpr int64_t es = sizeof(T);
    if (s[0] == sizeof(R) && s[1] == es && s[2] == es) {
      for (int64_t i = 0; i < n; ++i) o[i] = R(f(static_cast<A>(x[i]), static_cast<A>(y[i])));
    } else if (s[0] == sizeof(R) && s[1] == es && s[2] == 0) {
      const A yv = static_cast<A>(*y);
      for (int64_t i = 0; i < n; ++i) o[i] = R(f(static_cast<A>(x[i]), yv));
    } else if (s[0] == sizeof(R) && s[1] == 0 && s[2] == es) {
      const A xv = static_cast<A>(*x);
      for (int64_t i = 0; i < n; ++i) o[i] = R(f(xv, static_cast<A>(y[i])));
    } else {
      for (int64_t i = 0; i < n; ++i) {
        *reinterpret_cast<R*>(p[0] + i * s[0]) = R(f(static_cast<A>(*reinterpret_cast<const T*>(p[1] + i * s[1])),
                                                     static_cast<A>(*reinterpret_cast<const T*>(p[2] + i * s[2]))));
      }
    }
  });
}

constexpr double kSqrt1_2 = 0.70710678118654752440;
constexpr double kSqrt2OverPi = 0.79788456080286535588;

template <typename T>
void unary_typed(UnaryOp op, const Tensor& x, const Tensor& out, double p0, double p1) {
  using A = acc_t<T>;
  switch (op) {
    case UnaryOp::Neg: return map1<T>(x, out, [](A v) { return static_cast<A>(-v); });
    case UnaryOp::Abs: return map1<T>(x, out, [](A v) { return v < A(0) ? static_cast<A>(-v) : v; });
    case UnaryOp::Sign: return map1<T>(x, out, [](A v) { return static_cast<A>((A(0) < v) - (v < A(0))); });
    case UnaryOp::Square: return map1<T>(x, out, [](A v) { return static_cast<A>(v * v); });
    case UnaryOp::Clamp: {
      if constexpr (std::is_integral_v<A>) {
        const double lo = p0, hi = p1;
        return map1<T>(x, out, [lo, hi](A v) {
          double d = static_cast<double>(v);
          d = d < lo ? lo : d;
          d = d > hi ? hi : d;
          return static_cast<A>(d);
        });
      } else {
        const A lo = static_cast<A>(p0), hi = static_cast<A>(p1);
        return map1<T>(x, out, [lo, hi](A v) { return std::isnan(v) ? v : (v < lo ? lo : (v > hi ? hi : v)); });
      }
    }
    default: break;
  }
  if constexpr (std::is_floating_point_v<A>) {
    switch (op) {
      case UnaryOp::Exp: return map1<T>(x, out, [](A v) { return std::exp(v); });
      case UnaryOp::Log: return map1<T>(x, out, [](A v) { return std::log(v); });
      case UnaryOp::Log1p: return map1<T>(x, out, [](A v) { return std::log1p(v); });
      case UnaryOp::Sqrt: return map1<T>(x, out, [](A v) { return std::sqrt(v); });
      case UnaryOp::Rsqrt: return map1<T>(x, out, [](A v) { return A(1) / std::sqrt(v); });
      case UnaryOp::Sin: return map1<T>(x, out, [](A v) { return std::sin(v); });
      case UnaryOp::Cos: return map1<T>(x, out, [](A v) { return std::cos(v); });
      case UnaryOp::Tanh: return map1<T>(x, out, [](A v) { return std::tanh(v); });
      case UnaryOp::Sigmoid: return map1<T>(x, out, [](A v) { return A(1) / (A(1) + std::exp(-v)); });
      case UnaryOp::Relu: return map1<T>(x, out, [](A v) { return v > A(0) ? v : (std::isnan(v) ? v : A(0)); });
      case UnaryOp::Gelu:
        return map1<T>(x, out, [](A v) { return A(0.5) * v * (A(1) + std::erf(v * A(kSqrt1_2))); });
      case UnaryOp::GeluTanh:
        return map1<T>(x, out, [](A v) {
          return A(0.5) * v * (A(1) + std::tanh(A(kSqrt2OverPi) * (v + A(0.044715) * v * v * v)));
        });
      case UnaryOp::Silu: return map1<T>(x, out, [](A v) { return v / (A(1) + std::exp(-v)); });
      case UnaryOp::Softplus: {
        const A beta = static_cast<A>(p0), threshold = static_cast<A>(p1);
        return map1<T>(x, out, [beta, threshold](A v) {
          return v * beta > threshold ? v : std::log1p(std::exp(v * beta)) / beta;
        });
      }
      case UnaryOp::Erf: return map1<T>(x, out, [](A v) { return std::erf(v); });
      case UnaryOp::Reciprocal: return map1<T>(x, out, [](A v) { return A(1) / v; });
      case UnaryOp::PowScalar: {
        const A e = static_cast<A>(p0);
        if (p0 == 2.0) return map1<T>(x, out, [](A v) { return v * v; });
        if (p0 == 1.0) return map1<T>(x, out, [](A v) { return v; });
        if (p0 == 0.5) return map1<T>(x, out, [](A v) { return std::sqrt(v); });
        return map1<T>(x, out, [e](A v) { return std::pow(v, e); });
      }
      default: break;
    }
  }
  TANGENT_FAIL(unary_op_name(op), ": not supported for dtype ", x.dtype());
}

template <typename T>
void binary_typed(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  using A = acc_t<T>;
  switch (op) {
    case BinaryOp::Add: return map2<T, T>(a, b, out, [](A x, A y) { return static_cast<A>(x + y); });
    case BinaryOp::Sub: return map2<T, T>(a, b, out, [](A x, A y) { return static_cast<A>(x - y); });
    case BinaryOp::Mul: return map2<T, T>(a, b, out, [](A x, A y) { return static_cast<A>(x * y); });
    case BinaryOp::Div:
      if constexpr (std::is_integral_v<A>) {
        return map2<T, T>(a, b, out, [](A x, A y) {  // floor division like Python; divide by zero gives 0
          if (y == 0) return A(0);
          A q = x / y;
          if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
          return q;
        });
      } else {
        return map2<T, T>(a, b, out, [](A x, A y) { return x / y; });
      }
    case BinaryOp::Pow:
      return map2<T, T>(a, b, out, [](A x, A y) {
        return static_cast<A>(std::pow(static_cast<double>(x), static_cast<double>(y)));
      });
    case BinaryOp::Maximum:
      return map2<T, T>(a, b, out, [](A x, A y) {
        if constexpr (std::is_floating_point_v<A>) {
          if (std::isnan(x) || std::isnan(y)) return std::numeric_limits<A>::quiet_NaN();
        }
        return x > y ? x : y;
      });
    case BinaryOp::Minimum:
      return map2<T, T>(a, b, out, [](A x, A y) {
        if constexpr (std::is_floating_point_v<A>) {
          if (std::isnan(x) || std::isnan(y)) return std::numeric_limits<A>::quiet_NaN();
        }
        return x < y ? x : y;
      });
    case BinaryOp::Eq: return map2<T, bool>(a, b, out, [](A x, A y) { return x == y; });
    case BinaryOp::Ne: return map2<T, bool>(a, b, out, [](A x, A y) { return x != y; });
    case BinaryOp::Lt: return map2<T, bool>(a, b, out, [](A x, A y) { return x < y; });
    case BinaryOp::Le: return map2<T, bool>(a, b, out, [](A x, A y) { return x <= y; });
    case BinaryOp::Gt: return map2<T, bool>(a, b, out, [](A x, A y) { return x > y; });
    case BinaryOp::Ge: return map2<T, bool>(a, b, out, [](A x, A y) { return x >= y; });
    case BinaryOp::LogicalAnd:
      return map2<T, bool>(a, b, out, [](A x, A y) { return x != A(0) && y != A(0); });
    case BinaryOp::LogicalOr:
      return map2<T, bool>(a, b, out, [](A x, A y) { return x != A(0) || y != A(0); });
  }
}

}  // namespace

void CpuBackend::unary(UnaryOp op, const Tensor& x, const Tensor& out, double p0, double p1) {
  if (op == UnaryOp::LogicalNot) {
    TANGENT_DISPATCH_ALL(x.dtype(), "logical_not", [&](auto tag) {
      using T = decltype(tag);
      cpu_loop<2>(out.shape(), {&out, &x}, [](std::array<char*, 2> p, std::array<int64_t, 2> s, int64_t n) {
        for (int64_t i = 0; i < n; ++i)
          *reinterpret_cast<bool*>(p[0] + i * s[0]) =
              static_cast<acc_t<T>>(*reinterpret_cast<const T*>(p[1] + i * s[1])) == acc_t<T>(0);
      });
    });
    return;
  }
  TANGENT_DISPATCH_ALL(x.dtype(), unary_op_name(op), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      TANGENT_FAIL(unary_op_name(op), ": not supported for dtype bool");
    } else {
      unary_typed<T>(op, x, out, p0, p1);
    }
  });
}

void CpuBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  TANGENT_DISPATCH_ALL(a.dtype(), binary_op_name(op), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      // Bool arithmetic: compute as int64-free logic (add = or, mul = and), comparisons as usual.
      switch (op) {
        case BinaryOp::Add: case BinaryOp::Maximum: case BinaryOp::LogicalOr:
          return map2<bool, bool>(a, b, out, [](bool x, bool y) { return x || y; });
        case BinaryOp::Mul: case BinaryOp::Minimum: case BinaryOp::LogicalAnd:
          return map2<bool, bool>(a, b, out, [](bool x, bool y) { return x && y; });
        case BinaryOp::Eq: return map2<bool, bool>(a, b, out, [](bool x, bool y) { return x == y; });
        case BinaryOp::Ne: return map2<bool, bool>(a, b, out, [](bool x, bool y) { return x != y; });
        case BinaryOp::Lt: return map2<bool, bool>(a, b, out, [](bool x, bool y) { return !x && y; });
        case BinaryOp::Le: return map2<bool, bool>(a, b, out, [](bool x, bool y) { return !x || y; });
        case BinaryOp::Gt: return map2<bool, bool>(a, b, out, [](bool x, bool y) { return x && !y; });
        case BinaryOp::Ge: return map2<bool, bool>(a, b, out, [](bool x, bool y) { return x || !y; });
        default: TANGENT_FAIL(binary_op_name(op), ": not supported for bool tensors");
      }
    } else {
      binary_typed<T>(op, a, b, out);
    }
  });
}

void CpuBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  TANGENT_DISPATCH_ALL(out.dtype(), "where", [&](auto tag) {
    using T = decltype(tag);
    cpu_loop<4>(out.shape(), {&out, &cond, &a, &b},
                [](std::array<char*, 4> p, std::array<int64_t, 4> s, int64_t n) {
                  for (int64_t i = 0; i < n; ++i) {
                    const bool c = *reinterpret_cast<const bool*>(p[1] + i * s[1]);
                    *reinterpret_cast<T*>(p[0] + i * s[0]) =
                        c ? *reinterpret_cast<const T*>(p[2] + i * s[2]) : *reinterpret_cast<const T*>(p[3] + i * s[3]);
                  }
                });
  });
}

}  // namespace tangent::cpu
