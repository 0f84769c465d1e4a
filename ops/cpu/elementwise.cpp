// CPU elementwise kernels: unary and binary (dispatch and formulas generated from core/scalar_math.h) and where,
// over the strided loop of loops.h.
#include <type_traits>

#include "ops/cpu/cpu_backend.h"
#include "ops/cpu/loops.h"

namespace tangent::cpu {

namespace {

// out = f(x) with T input and R output; a fast path for dense operands.
template <typename T, typename R, typename F>
void map1(const Tensor& x, const Tensor& out, const F& f) {
  cpu_loop<2>(out.shape(), {&out, &x}, [&f](std::array<char*, 2> p, std::array<int64_t, 2> s, int64_t n) {
    R* o = reinterpret_cast<R*>(p[0]);
    const T* a = reinterpret_cast<const T*>(p[1]);
    if (s[0] == sizeof(R) && s[1] == sizeof(T)) {
      for (int64_t i = 0; i < n; ++i) o[i] = R(f(static_cast<acc_t<T>>(a[i])));
    } else {
      for (int64_t i = 0; i < n; ++i) {
        *reinterpret_cast<R*>(p[0] + i * s[0]) =
            R(f(static_cast<acc_t<T>>(*reinterpret_cast<const T*>(p[1] + i * s[1]))));
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

// The output type of an op on T: bool when its formula returns bool (comparisons, logic), else T.
template <typename T, typename Result>
using out_t = std::conditional_t<std::is_same_v<Result, bool>, bool, T>;

// Op is a struct of core/scalar_math.h.
template <typename Op>
void unary_kernel(const Tensor& x, const Tensor& out, double p0, double p1) {
  TANGENT_DISPATCH_ALL(x.dtype(), Op::name, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (scalar_math::accepts<T>(Op::domain)) {
      using A = acc_t<T>;
      const scalar_math::Params<A> params(p0, p1);
      using R = out_t<T, decltype(Op::f(A(), params))>;
      map1<T, R>(x, out, [params](A v) { return Op::f(v, params); });
    } else {
      TANGENT_FAIL(Op::name, ": not supported for dtype ", x.dtype());
    }
  });
}

template <typename Op>
void binary_kernel(const Tensor& a, const Tensor& b, const Tensor& out) {
  TANGENT_DISPATCH_ALL(a.dtype(), Op::name, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (scalar_math::accepts<T>(Op::domain)) {
      using A = acc_t<T>;
      using R = out_t<T, decltype(Op::f(A(), A()))>;
      map2<T, R>(a, b, out, [](A x, A y) { return Op::f(x, y); });
    } else {
      TANGENT_FAIL(Op::name, ": not supported for dtype ", a.dtype());
    }
  });
}

}  // namespace

void CpuBackend::unary(UnaryOp op, const Tensor& x, const Tensor& out, double p0, double p1) {
  if (op == UnaryOp::PowScalar && p0 == 2.0) op = UnaryOp::Square;  // same values, a vectorisable loop
  if (op == UnaryOp::PowScalar && p0 == 0.5) op = UnaryOp::Sqrt;
  switch (op) {
#define TANGENT_UNARY_CASE(Name) \
  case UnaryOp::Name:            \
    return unary_kernel<scalar_math::Name>(x, out, p0, p1);
    TANGENT_UNARY_OPS(TANGENT_UNARY_CASE)
#undef TANGENT_UNARY_CASE
  }
  TANGENT_FAIL("unary: unknown op ", static_cast<int>(op));
}

void CpuBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  switch (op) {
#define TANGENT_BINARY_CASE(Name) \
  case BinaryOp::Name:            \
    return binary_kernel<scalar_math::Name>(a, b, out);
    TANGENT_BINARY_OPS(TANGENT_BINARY_CASE)
#undef TANGENT_BINARY_CASE
  }
  TANGENT_FAIL("binary: unknown op ", static_cast<int>(op));
}

void CpuBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  TANGENT_DISPATCH_ALL(out.dtype(), "where", [&](auto tag) {
    using T = decltype(tag);
    cpu_loop<4>(out.shape(), {&out, &cond, &a, &b}, [](std::array<char*, 4> p, std::array<int64_t, 4> s, int64_t n) {
      for (int64_t i = 0; i < n; ++i) {
        const bool c = *reinterpret_cast<const bool*>(p[1] + i * s[1]);
        *reinterpret_cast<T*>(p[0] + i * s[0]) =
            c ? *reinterpret_cast<const T*>(p[2] + i * s[2]) : *reinterpret_cast<const T*>(p[3] + i * s[3]);
      }
    });
  });
}

}  // namespace tangent::cpu
