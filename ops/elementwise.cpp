// Binary elementwise ops (add, sub, mul, div, pow, maximum, minimum, comparisons, where) with their backward.
#include "ops/elementwise.h"

#include <cmath>

#include "autograd/forward_ad.h"
#include "ops/factory.h"
#include "ops/internal.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace tangent {

namespace detail {

DType result_type(const Tensor& a, const Tensor& b) {
  const bool wa = a.impl()->is_wrapped_number, wb = b.impl()->is_wrapped_number;
  if (wa == wb) return promote_types(a.dtype(), b.dtype());
  const Tensor& tensor = wa ? b : a;
  const Tensor& scalar = wa ? a : b;
  // A scalar only changes the category: int tensor with a float scalar -> float32; bool tensor with int -> int64.
  auto category = [](DType t) { return t == kBool ? 0 : t == kInt64 ? 1 : 2; };
  if (category(scalar.dtype()) > category(tensor.dtype()))
    return scalar.dtype() == kFloat64 ? kFloat32 : scalar.dtype();
  return tensor.dtype();
}

Tensor expand_raw(const Tensor& t, const Shape& shape) {
  if (t.shape() == shape) return t;
  const size_t n = shape.size(), k = t.shape().size();
  Shape strides(n, 0);
  for (size_t i = 0; i < k; ++i) {
    const size_t d = n - k + i;
    strides[d] = t.shape()[i] == 1 && shape[d] != 1 ? 0 : t.strides()[i];
  }
  Tensor v = alias_with(t, shape, strides, t.storage_offset());
  v.impl()->is_view = true;
  return v;
}

Tensor cast_raw(const Tensor& t, DType dtype) {
  if (t.dtype() == dtype) return t;
  Tensor out = new_empty(t.shape(), dtype, t.device());
  backend_for(t).copy(t, out);
  return out;
}

Tensor wrap_scalar(const Scalar& s, Device device) {
  Tensor t =
      scalar_tensor(s, TensorOptions(s.default_dtype() == kFloat32 ? kFloat64 : s.default_dtype()).device(device));
  t.impl()->is_wrapped_number = true;
  return t;
}

}  // namespace detail

using detail::cast_raw;
using detail::expand_raw;

namespace {

// Runs a binary primitive with broadcasting and promotion; `compute` is the dtype both operands are cast to.
Tensor binary_raw(BinaryOp op, const char* name, const Tensor& a, const Tensor& b, DType compute) {
  detail::check_defined(a, name);
  detail::check_defined(b, name);
  detail::check_same_device(a, b, name);
  const Shape shape = a.shape() == b.shape() ? a.shape() : broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = detail::new_empty(
      shape, is_comparison(op) || op == BinaryOp::LogicalAnd || op == BinaryOp::LogicalOr ? kBool : compute,
      a.device());
  // Operands that already have the dtype and shape are passed as they are: no handle copies (refcount traffic).
  auto prepared = [&](const Tensor& t, Tensor& tmp) -> const Tensor& {
    if (t.dtype() == compute && t.shape() == shape) return t;
    tmp = expand_raw(cast_raw(t, compute), shape);
    return tmp;
  };
  Tensor ta, tb;
  backend_for(a).binary(op, prepared(a, ta), prepared(b, tb), out);
  return out;
}

Tensor arith(BinaryOp op, const char* name, const Tensor& a, const Tensor& b) {
  detail::check_defined(a, name);
  detail::check_defined(b, name);
  return binary_raw(op, name, a, b, detail::result_type(a, b));
}

Tensor compare(BinaryOp op, const char* name, const Tensor& a, const Tensor& b) {
  return arith(op, name, a, b);  // comparisons promote their operands alike; the result is bool
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b, const Scalar& alpha) {
  Tensor scaled;
  const Tensor& bb = alpha.to_double() == 1.0 ? b : (scaled = mul(b, alpha));
  Tensor out = arith(BinaryOp::Add, "add", a, bb);
  autograd::forward::rule("add", out, {a, bb},
                          [](const std::vector<Tensor>& t) { return autograd::forward::sum(t[0], t[1]); });
  if (autograd::needs_grad(a, bb)) {
    autograd::record("add", out, {a, bb}, {}, [](const Tensor& g, autograd::Context&) {
      return std::vector<Tensor>{g, g};
    });
  }
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b, const Scalar& alpha) {
  Tensor scaled;
  const Tensor& bb = alpha.to_double() == 1.0 ? b : (scaled = mul(b, alpha));
  Tensor out = arith(BinaryOp::Sub, "sub", a, bb);
  autograd::forward::rule("sub", out, {a, bb}, [](const std::vector<Tensor>& t) {
    return autograd::forward::sum(t[0], t[1].defined() ? neg(t[1]) : Tensor());
  });
  if (autograd::needs_grad(a, bb)) {
    autograd::record("sub", out, {a, bb}, {}, [](const Tensor& g, autograd::Context& ctx) {
      return std::vector<Tensor>{g, ctx.needs_grad(1) ? neg(g) : Tensor()};
    });
  }
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = arith(BinaryOp::Mul, "mul", a, b);
  autograd::forward::rule("mul", out, {a, b}, [&](const std::vector<Tensor>& t) {
    return autograd::forward::sum(t[0].defined() ? mul(t[0], b) : Tensor(), t[1].defined() ? mul(a, t[1]) : Tensor());
  });
  if (autograd::needs_grad(a, b)) {
    autograd::record("mul", out, {a, b}, {a, b}, [](const Tensor& g, autograd::Context& ctx) {
      return std::vector<Tensor>{ctx.needs_grad(0) ? mul(g, ctx.saved(1)) : Tensor(),
                                 ctx.needs_grad(1) ? mul(g, ctx.saved(0)) : Tensor()};
    });
  }
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  // True division: integer operands give float32, as in PyTorch.
  DType t = detail::result_type(a, b);
  if (!is_floating_point(t)) t = kFloat32;
  Tensor out = binary_raw(BinaryOp::Div, "div", a, b, t);
  autograd::forward::rule("div", out, {a, b}, [&](const std::vector<Tensor>& t) {  // (ta - out tb) / b
    return div(autograd::forward::sum(t[0], t[1].defined() ? neg(mul(out, t[1])) : Tensor()), b);
  });
  if (autograd::needs_grad(a, b)) {
    autograd::record("div", out, {a, b}, {a, b}, [](const Tensor& g, autograd::Context& ctx) {
      const Tensor b = ctx.saved(1);
      return std::vector<Tensor>{ctx.needs_grad(0) ? div(g, b) : Tensor(),
                                 ctx.needs_grad(1) ? neg(div(mul(g, ctx.saved(0)), mul(b, b))) : Tensor()};
    });
  }
  return out;
}

Tensor pow(const Tensor& a, const Tensor& b) {
  Tensor out = arith(BinaryOp::Pow, "pow", a, b);
  autograd::forward::rule("pow", out, {a, b}, [&](const std::vector<Tensor>& t) {
    Tensor ta, tb;
    if (t[0].defined()) ta = mul(t[0], mul(b, pow(a, sub(b, scalar_tensor(1.0, out.dtype())))));
    if (t[1].defined()) tb = mul(t[1], where(eq(a, 0.0), zeros_like(out), mul(out, log(a))));
    return autograd::forward::sum(ta, tb);
  });
  if (autograd::needs_grad(a, b)) {
    autograd::record("pow", out, {a, b}, {a, b}, [](const Tensor& g, autograd::Context& ctx) {
      const Tensor x = ctx.saved(0), y = ctx.saved(1);
      Tensor ga, gb;
      if (ctx.needs_grad(0)) ga = mul(g, mul(y, pow(x, sub(y, scalar_tensor(1.0, y.dtype())))));
      // d/dy x^y = x^y log x, taken as 0 where x == 0 (the limit for y > 0).
      if (ctx.needs_grad(1)) gb = mul(g, where(eq(x, 0.0), zeros_like(x), mul(pow(x, y), log(x))));
      return std::vector<Tensor>{ga, gb};
    });
  }
  return out;
}

Tensor atan2(const Tensor& a, const Tensor& b) {
  DType t = detail::result_type(a, b);
  if (!is_floating_point(t)) t = kFloat32;  // as div
  Tensor out = binary_raw(BinaryOp::Atan2, "atan2", a, b, t);
  autograd::forward::rule("atan2", out, {a, b}, [&](const std::vector<Tensor>& t) {  // (b ta - a tb) / (a^2 + b^2)
    return div(
        autograd::forward::sum(t[0].defined() ? mul(t[0], b) : Tensor(), t[1].defined() ? neg(mul(t[1], a)) : Tensor()),
        add(mul(a, a), mul(b, b)));
  });
  if (autograd::needs_grad(a, b)) {
    // d/da atan2(a, b) = b / (a^2 + b^2), d/db = -a / (a^2 + b^2).
    autograd::record("atan2", out, {a, b}, {a, b}, [](const Tensor& g, autograd::Context& ctx) {
      const Tensor x = ctx.saved(0), y = ctx.saved(1);
      const Tensor scale = div(g, add(mul(x, x), mul(y, y)));
      return std::vector<Tensor>{ctx.needs_grad(0) ? mul(scale, y) : Tensor(),
                                 ctx.needs_grad(1) ? neg(mul(scale, x)) : Tensor()};
    });
  }
  return out;
}

Tensor pow(const Scalar& base, const Tensor& exponent) {
  return pow(detail::wrap_scalar(base, exponent.device()), exponent);
}

namespace {
// d max(a, b): the gradient goes to the larger input, split evenly on ties (as PyTorch).
Tensor extremum(BinaryOp op, const char* name, const Tensor& a, const Tensor& b) {
  Tensor out = arith(op, name, a, b);
  autograd::forward::rule(name, out, {a, b}, [&](const std::vector<Tensor>& t) {
    const Tensor wins = op == BinaryOp::Maximum ? gt(a, b) : lt(a, b);
    const Tensor wa = add(to_dtype(wins, out.dtype()), mul(eq(a, b), 0.5));
    return autograd::forward::sum(t[0].defined() ? mul(t[0], wa) : Tensor(),
                                  t[1].defined() ? mul(t[1], sub(scalar_tensor(1.0, out.dtype()), wa)) : Tensor());
  });
  if (autograd::needs_grad(a, b)) {
    const bool is_max = op == BinaryOp::Maximum;
    autograd::record(name, out, {a, b}, {a, b}, [is_max](const Tensor& g, autograd::Context& ctx) {
      const Tensor x = ctx.saved(0), y = ctx.saved(1);
      const Tensor wins = is_max ? gt(x, y) : lt(x, y);
      const Tensor ties = mul(eq(x, y), 0.5);
      const Tensor wa = add(to_dtype(wins, g.dtype()), ties);
      return std::vector<Tensor>{ctx.needs_grad(0) ? mul(g, wa) : Tensor(),
                                 ctx.needs_grad(1) ? mul(g, sub(scalar_tensor(1.0, g.dtype()), wa)) : Tensor()};
    });
  }
  return out;
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) { return extremum(BinaryOp::Maximum, "maximum", a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return extremum(BinaryOp::Minimum, "minimum", a, b); }

Tensor add(const Tensor& a, const Scalar& b) { return add(a, detail::wrap_scalar(b, a.device())); }
Tensor sub(const Tensor& a, const Scalar& b) { return sub(a, detail::wrap_scalar(b, a.device())); }
Tensor mul(const Tensor& a, const Scalar& b) { return mul(a, detail::wrap_scalar(b, a.device())); }
Tensor div(const Tensor& a, const Scalar& b) { return div(a, detail::wrap_scalar(b, a.device())); }

Tensor eq(const Tensor& a, const Tensor& b) { return compare(BinaryOp::Eq, "eq", a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare(BinaryOp::Ne, "ne", a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare(BinaryOp::Lt, "lt", a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return compare(BinaryOp::Le, "le", a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare(BinaryOp::Gt, "gt", a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare(BinaryOp::Ge, "ge", a, b); }
Tensor eq(const Tensor& a, const Scalar& b) { return eq(a, detail::wrap_scalar(b, a.device())); }
Tensor ne(const Tensor& a, const Scalar& b) { return ne(a, detail::wrap_scalar(b, a.device())); }
Tensor lt(const Tensor& a, const Scalar& b) { return lt(a, detail::wrap_scalar(b, a.device())); }
Tensor le(const Tensor& a, const Scalar& b) { return le(a, detail::wrap_scalar(b, a.device())); }
Tensor gt(const Tensor& a, const Scalar& b) { return gt(a, detail::wrap_scalar(b, a.device())); }
Tensor ge(const Tensor& a, const Scalar& b) { return ge(a, detail::wrap_scalar(b, a.device())); }
Tensor logical_and(const Tensor& a, const Tensor& b) {
  return binary_raw(BinaryOp::LogicalAnd, "logical_and", cast_raw(a, kBool), cast_raw(b, kBool), kBool);
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  return binary_raw(BinaryOp::LogicalOr, "logical_or", cast_raw(a, kBool), cast_raw(b, kBool), kBool);
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  detail::check_defined(cond, "where", "condition");
  detail::check_defined(a, "where");
  detail::check_defined(b, "where");
  detail::check_same_device(cond, a, "where");
  detail::check_same_device(a, b, "where");
  TANGENT_CHECK(cond.dtype() == kBool, "where: the condition must be a bool tensor, got ", cond.dtype(), " (shape ",
                cond.shape(), ")");
  const DType t = detail::result_type(a, b);
  const Shape shape = broadcast_shapes(cond.shape(), broadcast_shapes(a.shape(), b.shape(), "where"), "where");
  Tensor out = detail::new_empty(shape, t, a.device());
  backend_for(a).where(expand_raw(cond, shape), expand_raw(cast_raw(a, t), shape), expand_raw(cast_raw(b, t), shape),
                       out);
  autograd::forward::rule("where", out, {a, b}, [&](const std::vector<Tensor>& t) {
    const Tensor zero = zeros({}, out.dtype());
    return autograd::forward::sum(t[0].defined() ? where(cond, t[0], zero) : Tensor(),
                                  t[1].defined() ? where(cond, zero, t[1]) : Tensor());
  });
  if (autograd::needs_grad(a, b)) {
    autograd::record("where", out, {a, b}, {cond}, [](const Tensor& g, autograd::Context& ctx) {
      const Tensor c = ctx.saved(0);
      const Tensor zero = zeros({}, g.dtype());
      return std::vector<Tensor>{ctx.needs_grad(0) ? where(c, g, zero) : Tensor(),
                                 ctx.needs_grad(1) ? where(c, zero, g) : Tensor()};
    });
  }
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Scalar& b) {
  return where(cond, a, detail::wrap_scalar(b, a.device()));
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, const Scalar& value) {
  TANGENT_CHECK(mask.dtype() == kBool, "masked_fill: the mask must be a bool tensor, got ", mask.dtype());
  Tensor v = detail::wrap_scalar(value, x.device());
  Tensor out = where(mask, cast_raw(v, x.dtype()), x);
  TANGENT_CHECK(out.shape() == x.shape(), "masked_fill: mask of shape ", mask.shape(),
                " does not broadcast to the input's shape ", x.shape());
  return out;
}

// ---- operators ----
Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor operator+(const Tensor& a, const Scalar& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Scalar& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Scalar& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Scalar& b) { return div(a, b); }
Tensor operator+(const Scalar& a, const Tensor& b) { return add(b, a); }
Tensor operator-(const Scalar& a, const Tensor& b) { return sub(detail::wrap_scalar(a, b.device()), b); }
Tensor operator*(const Scalar& a, const Tensor& b) { return mul(b, a); }
Tensor operator/(const Scalar& a, const Tensor& b) { return div(detail::wrap_scalar(a, b.device()), b); }
Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, const Tensor& b) { return ne(a, b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
Tensor& operator+=(Tensor& a, const Tensor& b) { return add_(a, b); }
Tensor& operator-=(Tensor& a, const Tensor& b) { return sub_(a, b); }
Tensor& operator*=(Tensor& a, const Tensor& b) { return mul_(a, b); }
Tensor& operator/=(Tensor& a, const Tensor& b) { return div_(a, b); }

}  // namespace tangent
