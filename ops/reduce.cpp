// Reductions (sum, mean, var, std, prod, amax/amin, max/min, argmax/argmin, logsumexp, norm), softmax and
// log_softmax, sum_to, and the boolean queries (allclose, equal, isnan, any, all), each forward beside its
// backward. Backward formulas use differentiable ops, so higher-order gradients work.
//
// Dims: an empty list means all dims; negative dims wrap; a repeated dim is an error; keepdim as in PyTorch.
#include "ops/reduce.h"

#include <cmath>
#include <limits>

#include "autograd/forward_ad.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/internal.h"
#include "ops/shape_ops.h"

namespace tangent {

namespace {

using detail::cast_raw;

// The reduced dims of x: wrapped, checked for repeats, sorted. Empty `dims` means all dims.
Shape reduce_dims(const Tensor& x, const Shape& dims, const char* op) {
  const int64_t nd = x.dim();
  Shape out;
  if (dims.empty()) {
    for (int64_t d = 0; d < nd; ++d) out.push_back(d);
    return out;
  }
  bool seen[Shape::kMaxDims] = {};
  for (int64_t d : dims) {
    const int64_t w = wrap_dim(d, nd, op);
    if (nd == 0) continue;  // a 0-dim tensor accepts dim 0 / -1 and has nothing to reduce
    TANGENT_CHECK(!seen[w], op, ": dim ", w, " appears more than once in dims ", dims, " (input shape ", x.shape(),
                  ")");
    seen[w] = true;
  }
  for (int64_t d = 0; d < nd; ++d)
    if (seen[d]) out.push_back(d);
  return out;
}

Shape keep_shape(const Shape& s, const Shape& rd) {
  Shape k = s;
  for (int64_t d : rd) k[static_cast<size_t>(d)] = 1;
  return k;
}

Shape drop_shape(const Shape& s, const Shape& rd) {
  Shape out;
  size_t j = 0;
  for (size_t d = 0; d < s.size(); ++d) {
    if (j < rd.size() && rd[j] == static_cast<int64_t>(d)) {
      ++j;
      continue;
    }
    out.push_back(s[d]);
  }
  return out;
}

int64_t reduced_count(const Shape& s, const Shape& rd) {
  int64_t n = 1;
  for (int64_t d : rd) n *= s[static_cast<size_t>(d)];
  return n;
}

// A fresh contiguous keepdim-layout result, viewed without its reduced dims when !keepdim.
Tensor finish_keepdim(const Tensor& out_keep, const Shape& rd, bool keepdim) {
  if (keepdim || rd.empty()) return out_keep;
  const Shape s = drop_shape(out_keep.shape(), rd);
  return alias_with(out_keep, s, contiguous_strides(s), out_keep.storage_offset());
}

void check_nonempty_reduction(const Tensor& x, const Shape& rd, const char* op) {
  TANGENT_CHECK(reduced_count(x.shape(), rd) > 0, op, ": cannot reduce over a zero-size dimension (input shape ",
                x.shape(), ", dims ", rd, "): the result of an empty reduction is undefined for ", op);
}

// Runs a backend reduction (no history).
Tensor reduce_raw(ReduceOp op, const Tensor& x, const Shape& rd, bool keepdim) {
  Tensor out = detail::new_empty(keep_shape(x.shape(), rd), x.dtype(), x.device());
  backend_for(x).reduce(op, x, rd, out);
  return finish_keepdim(out, rd, keepdim);
}

// out *= s in place (a fresh, history-free tensor).
void scale_raw(const Tensor& out, double s) {
  const Tensor k = scalar_tensor(s, TensorOptions(out.dtype()).device(out.device()));
  backend_for(out).binary(BinaryOp::Mul, out, detail::expand_raw(k, out.shape()), out);
}

bool is_half(const Tensor& x) { return x.dtype() == kFloat16 || x.dtype() == kBFloat16; }

// The gradient of an output in keepdim layout, as a tensor that broadcasts against x.
// (A 0-dim g is expanded: views.cpp cannot yet view a 0-dim tensor as [1, 1].)
Tensor grad_keep(const Tensor& g, const Shape& ks) {
  if (g.shape() == ks) return g;
  return g.dim() == 0 ? expand(g, ks) : reshape(g, ks);
}

Tensor sum_impl(const Tensor& x, const Shape& dims, bool keepdim, DType dtype) {
  TANGENT_CHECK(dtype != kBool, "sum: cannot sum into dtype bool (input shape ", x.shape(), ")");
  const Shape rd = reduce_dims(x, dims, "sum");
  Tensor out = reduce_raw(ReduceOp::Sum, cast_raw(x, dtype), rd, keepdim);
  if (is_floating_point(dtype))
    autograd::forward::rule("sum", out, {x},
                            [&](const std::vector<Tensor>& t) { return sum_impl(t[0], rd, keepdim, dtype); });
  if (autograd::needs_grad(x) && is_floating_point(dtype)) {
    const Shape ks = keep_shape(x.shape(), rd), xs = x.shape();
    autograd::record("sum", out, {x}, {}, [ks, xs](const Tensor& g, autograd::Context&) {
      return std::vector<Tensor>{expand(grad_keep(g, ks), xs)};
    });
  }
  return out;
}

// Max/Min over dims; the gradient is split evenly among the tied extremes.
Tensor extreme(ReduceOp op, const char* name, const Tensor& x, const Shape& dims, bool keepdim) {
  detail::check_defined(x, name);
  const Shape rd = reduce_dims(x, dims, name);
  check_nonempty_reduction(x, rd, name);
  Tensor out = reduce_raw(op, x, rd, keepdim);
  autograd::forward::rule(name, out, {x},
                          [&](const std::vector<Tensor>& t) {  // the mean of the tangent over the tied extremes
                            const Tensor mask = to_dtype(eq(x, grad_keep(out, keep_shape(x.shape(), rd))), out.dtype());
                            return div(sum(mul(t[0], mask), rd, keepdim), sum(mask, rd, keepdim));
                          });
  if (autograd::needs_grad(x)) {
    const Shape ks = keep_shape(x.shape(), rd);
    autograd::record(
        name, out, {x}, {x},
        [ks, rd](const Tensor& g, autograd::Context& ctx) {
          const Tensor xv = ctx.saved(0);
          const Tensor mask = to_dtype(eq(xv, grad_keep(ctx.output(), ks)), g.dtype());
          const Tensor count = sum(mask, rd, true);
          return std::vector<Tensor>{mul(grad_keep(g, ks), div(mask, count))};
        },
        /*save_output=*/true);
  }
  return out;
}

std::tuple<Tensor, Tensor> arg_extreme(ReduceOp op, const char* name, const Tensor& x, int64_t dim, bool keepdim,
                                       bool with_grad) {
  detail::check_defined(x, name);
  const int64_t d = wrap_dim(dim, x.dim(), name);
  const Shape rd = x.dim() == 0 ? Shape{} : Shape{d};
  check_nonempty_reduction(x, rd, name);
  const Shape ks = keep_shape(x.shape(), rd);
  Tensor values = detail::new_empty(ks, x.dtype(), x.device());
  Tensor indices = detail::new_empty(ks, kInt64, x.device());
  backend_for(x).arg_reduce(op, x, d, values, indices);
  values = finish_keepdim(values, rd, keepdim);
  indices = finish_keepdim(indices, rd, keepdim);
  if (with_grad)
    autograd::forward::rule(name, values, {x}, [&](const std::vector<Tensor>& t) {
      if (rd.empty()) return t[0];
      const Tensor mask = to_dtype(eq(x, grad_keep(values, ks)), values.dtype());
      return div(sum(mul(t[0], mask), rd, keepdim), sum(mask, rd, keepdim));
    });
  if (with_grad && autograd::needs_grad(x)) {
    autograd::record(
        name, values, {x}, {x},
        [ks, rd](const Tensor& g, autograd::Context& ctx) {
          const Tensor xv = ctx.saved(0);
          const Tensor mask = to_dtype(eq(xv, grad_keep(ctx.output(), ks)), g.dtype());
          const Tensor count = rd.empty() ? ones({}, g.dtype()) : sum(mask, rd, true);
          return std::vector<Tensor>{mul(grad_keep(g, ks), div(mask, count))};
        },
        /*save_output=*/true);
  }
  return {values, indices};
}

Tensor softmax_impl(const Tensor& x, int64_t dim, bool log) {
  const char* name = log ? "log_softmax" : "softmax";
  detail::check_defined(x, name);
  detail::check_floating(x, name);
  const int64_t d = wrap_dim(dim, x.dim(), name);
  Tensor out = detail::new_empty(x.shape(), x.dtype(), x.device());
  backend_for(x).softmax(x, d, log, out);
  autograd::forward::rule(name, out, {x}, [&](const std::vector<Tensor>& t) {
    if (log) return sub(t[0], sum(mul(exp(out), t[0]), {d}, true));
    return mul(out, sub(t[0], sum(mul(t[0], out), {d}, true)));
  });
  if (autograd::needs_grad(x)) {
    autograd::record(
        name, out, {x}, {},
        [d, log](const Tensor& g, autograd::Context& ctx) {
          const Tensor y = ctx.output();
          if (log) return std::vector<Tensor>{sub(g, mul(exp(y), sum(g, {d}, true)))};
          return std::vector<Tensor>{mul(y, sub(g, sum(mul(g, y), {d}, true)))};
        },
        /*save_output=*/true);
  }
  return out;
}

}  // namespace

// ---- sum, mean, var, std, prod ----

Tensor sum(const Tensor& x, const Shape& dims, bool keepdim) {
  detail::check_defined(x, "sum");
  return sum_impl(x, dims, keepdim, x.is_floating_point() ? x.dtype() : kInt64);
}

Tensor sum(const Tensor& x, const Shape& dims, bool keepdim, DType dtype) {
  detail::check_defined(x, "sum");
  return sum_impl(x, dims, keepdim, dtype);
}

Tensor mean(const Tensor& x, const Shape& dims, bool keepdim) {
  detail::check_defined(x, "mean");
  TANGENT_CHECK(x.is_floating_point(), "mean: expected a floating-point input, got dtype ", x.dtype(), " (shape ",
                x.shape(), "); convert it first, e.g. x.to(kFloat32)");
  if (is_half(x)) return to_dtype(mean(to_dtype(x, kFloat32), dims, keepdim), x.dtype());
  const Shape rd = reduce_dims(x, dims, "mean");
  const int64_t count = reduced_count(x.shape(), rd);
  Tensor out = reduce_raw(ReduceOp::Sum, x, rd, keepdim);
  scale_raw(out, 1.0 / static_cast<double>(count));  // an empty mean is 0 * inf = NaN, as in PyTorch
  autograd::forward::rule("mean", out, {x}, [&](const std::vector<Tensor>& t) { return mean(t[0], rd, keepdim); });
  if (autograd::needs_grad(x)) {
    const Shape ks = keep_shape(x.shape(), rd), xs = x.shape();
    autograd::record("mean", out, {x}, {}, [ks, xs, count](const Tensor& g, autograd::Context&) {
      return std::vector<Tensor>{div(expand(grad_keep(g, ks), xs), static_cast<double>(count))};
    });
  }
  return out;
}

Tensor var(const Tensor& x, const Shape& dims, int64_t correction, bool keepdim) {
  detail::check_defined(x, "var");
  TANGENT_CHECK(x.is_floating_point(), "var: expected a floating-point input, got dtype ", x.dtype(), " (shape ",
                x.shape(), ")");
  if (is_half(x)) return to_dtype(var(to_dtype(x, kFloat32), dims, correction, keepdim), x.dtype());
  const Shape rd = reduce_dims(x, dims, "var");
  // Divide by max(N - correction, 0), as PyTorch (a zero divisor gives inf or NaN).
  const double denom = static_cast<double>(std::max<int64_t>(reduced_count(x.shape(), rd) - correction, 0));
  Tensor out;
  {
    NoGradGuard no_grad;  // two passes: mean, then the sum of squared deviations
    const Tensor dev = sub(x, mean(x, rd, true));
    out = rd.empty() ? mul(dev, dev) : sum(mul(dev, dev), rd, keepdim);
    scale_raw(out, 1.0 / denom);
  }
  autograd::forward::rule("var", out, {x},
                          [&](const std::vector<Tensor>& t) {  // 2 / (N - correction) sum((x - mean) t)
                            if (rd.empty()) return zeros_like(out);
                            return mul(sum(mul(sub(x, mean(x, rd, true)), t[0]), rd, keepdim), 2.0 / denom);
                          });
  if (autograd::needs_grad(x)) {
    const Shape ks = keep_shape(x.shape(), rd);
    autograd::record("var", out, {x}, {x}, [ks, rd, denom](const Tensor& g, autograd::Context& ctx) {
      // d var / dx = 2 (x - mean) / (N - correction)
      const Tensor xv = ctx.saved(0);
      const Tensor dev = rd.empty() ? zeros_like(xv) : sub(xv, mean(xv, rd, true));
      return std::vector<Tensor>{mul(grad_keep(g, ks), mul(dev, 2.0 / denom))};
    });
  }
  return out;
}

Tensor std(const Tensor& x, const Shape& dims, int64_t correction, bool keepdim) {
  detail::check_defined(x, "std");
  TANGENT_CHECK(x.is_floating_point(), "std: expected a floating-point input, got dtype ", x.dtype(), " (shape ",
                x.shape(), ")");
  return sqrt(var(x, dims, correction, keepdim));
}

Tensor prod(const Tensor& x, const Shape& dims, bool keepdim) {
  detail::check_defined(x, "prod");
  const Tensor xc = x.is_floating_point() ? x : cast_raw(x, kInt64);
  const Shape rd = reduce_dims(x, dims, "prod");
  Tensor out = reduce_raw(ReduceOp::Prod, xc, rd, keepdim);
  autograd::forward::rule("prod", out, {x}, [&](const std::vector<Tensor>& t) {
    // d prod / d x_i = the product of the other entries of its slice: out / x_i where x_i != 0 (out is 0 when the
    // slice has a zero); at a zero, the product of the non-zero entries if it is its slice's only zero, else 0.
    const Tensor nonzero = ne(x, 0.0), safe = where(nonzero, x, 1.0);
    const Tensor at_zero = where(eq(sum(logical_not(nonzero), rd, true), 1), prod(safe, rd, true), 0.0);
    const Tensor d = where(nonzero, div(grad_keep(out, keep_shape(x.shape(), rd)), safe), at_zero);
    return sum(mul(t[0], d), rd, keepdim);
  });
  if (autograd::needs_grad(x)) {
    const Shape ks = keep_shape(x.shape(), rd);
    autograd::record(
        "prod", out, {x}, {x},
        [ks, rd](const Tensor& g, autograd::Context& ctx) {
          // d prod / d x_i = the product of the other elements of its slice. Without zeros that is out / x_i.
          // With zeros: out / x_i is still right at the non-zero entries (out is 0 there); a zero entry gets the
          // product of the non-zero entries if it is its slice's only zero, and 0 otherwise.
          const Tensor xv = ctx.saved(0);
          const Tensor y = grad_keep(ctx.output(), ks), gk = grad_keep(g, ks);
          const Tensor nonzero = ne(xv, 0.0);
          bool has_zero;
          {
            NoGradGuard no_grad;
            has_zero = !all(nonzero);
          }
          if (!has_zero) return std::vector<Tensor>{mul(gk, div(y, xv))};
          const Tensor safe_x = where(nonzero, xv, 1.0);
          const Tensor zeros_in_slice = sum(logical_not(nonzero), rd, true);
          const Tensor others = rd.empty() ? ones_like(xv) : prod(safe_x, rd, true);
          const Tensor at_zero = where(eq(zeros_in_slice, 1), others, 0.0);
          return std::vector<Tensor>{mul(gk, where(nonzero, div(y, safe_x), at_zero))};
        },
        /*save_output=*/true);
  }
  return out;
}

// ---- max, min, arg ----

Tensor amax(const Tensor& x, const Shape& dims, bool keepdim) {
  return extreme(ReduceOp::Max, "amax", x, dims, keepdim);
}
Tensor amin(const Tensor& x, const Shape& dims, bool keepdim) {
  return extreme(ReduceOp::Min, "amin", x, dims, keepdim);
}
Tensor max(const Tensor& x) { return extreme(ReduceOp::Max, "max", x, {}, false); }
Tensor min(const Tensor& x) { return extreme(ReduceOp::Min, "min", x, {}, false); }

std::tuple<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_extreme(ReduceOp::Max, "max", x, dim, keepdim, true);
}
std::tuple<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_extreme(ReduceOp::Min, "min", x, dim, keepdim, true);
}
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  return std::get<1>(arg_extreme(ReduceOp::Max, "argmax", x, dim, keepdim, false));
}
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) {
  return std::get<1>(arg_extreme(ReduceOp::Min, "argmin", x, dim, keepdim, false));
}
Tensor argmax(const Tensor& x) {
  detail::check_defined(x, "argmax");
  NoGradGuard no_grad;
  return std::get<1>(arg_extreme(ReduceOp::Max, "argmax", reshape(x, {x.numel()}), 0, false, false));
}

// ---- logsumexp, norm ----

Tensor logsumexp(const Tensor& x, const Shape& dims, bool keepdim) {
  detail::check_defined(x, "logsumexp");
  if (!x.is_floating_point()) return logsumexp(cast_raw(x, kFloat32), dims, keepdim);
  if (is_half(x)) return to_dtype(logsumexp(to_dtype(x, kFloat32), dims, keepdim), x.dtype());
  const Shape rd = reduce_dims(x, dims, "logsumexp");
  const Shape ks = keep_shape(x.shape(), rd);
  Tensor out;
  {
    NoGradGuard no_grad;
    if (reduced_count(x.shape(), rd) == 0) {
      out = full(ks, -std::numeric_limits<double>::infinity(), TensorOptions(x.dtype()).device(x.device()));
    } else {
      // Shift by the max (0 where it is infinite, so all -inf gives -inf and +inf gives +inf).
      const Tensor m = amax(x, rd, true);
      const Tensor shift = where(ne(abs(m), std::numeric_limits<double>::infinity()), m, 0.0);
      out = add(log(rd.empty() ? exp(sub(x, shift)) : sum(exp(sub(x, shift)), rd, true)), shift);
    }
    if (!keepdim) out = reshape(out, drop_shape(ks, rd));
  }
  autograd::forward::rule("logsumexp", out, {x}, [&](const std::vector<Tensor>& t) {  // sum(t softmax(x))
    const Tensor w = exp(sub(x, grad_keep(out, ks)));
    return rd.empty() ? mul(t[0], w) : sum(mul(t[0], w), rd, keepdim);
  });
  if (autograd::needs_grad(x)) {
    autograd::record(
        "logsumexp", out, {x}, {x},
        [ks](const Tensor& g, autograd::Context& ctx) {
          const Tensor xv = ctx.saved(0);
          return std::vector<Tensor>{mul(grad_keep(g, ks), exp(sub(xv, grad_keep(ctx.output(), ks))))};
        },
        /*save_output=*/true);
  }
  return out;
}

Tensor norm(const Tensor& x, double p, const Shape& dims, bool keepdim) {
  detail::check_defined(x, "norm");
  TANGENT_CHECK(x.is_floating_point(), "norm: expected a floating-point input, got dtype ", x.dtype(), " (shape ",
                x.shape(), ")");
  TANGENT_CHECK(!std::isnan(p), "norm: p must not be NaN");
  if (is_half(x)) return to_dtype(norm(to_dtype(x, kFloat32), p, dims, keepdim), x.dtype());
  const double inf = std::numeric_limits<double>::infinity();
  if (p == inf) return amax(abs(x), dims, keepdim);
  if (p == -inf) return amin(abs(x), dims, keepdim);
  if (p == 1.0) return sum(abs(x), dims, keepdim);
  if (p == 0.0) {
    NoGradGuard no_grad;  // the number of non-zeros: piecewise constant
    return sum(to_dtype(ne(x, 0.0), x.dtype()), dims, keepdim);
  }
  if (p != 2.0) return pow(sum(pow(abs(x), p), dims, keepdim), 1.0 / p);
  const Shape rd = reduce_dims(x, dims, "norm");
  Tensor out;
  {
    NoGradGuard no_grad;
    out = sqrt(rd.empty() ? mul(x, x) : sum(mul(x, x), rd, keepdim));
  }
  if (autograd::needs_grad(x)) {
    const Shape ks = keep_shape(x.shape(), rd);
    autograd::record(
        "norm", out, {x}, {x},
        [ks](const Tensor& g, autograd::Context& ctx) {
          // d |x| / dx = x / |x|, taken as 0 where |x| = 0 (x is all zeros there, so x / 1 = 0).
          const Tensor y = grad_keep(ctx.output(), ks);
          return std::vector<Tensor>{mul(grad_keep(g, ks), div(ctx.saved(0), where(ne(y, 0.0), y, 1.0)))};
        },
        /*save_output=*/true);
  }
  return out;
}

// ---- softmax ----

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, true); }

// ---- sum_to ----

Tensor sum_to(const Tensor& x, const Shape& shape) {
  detail::check_defined(x, "sum_to");
  if (x.shape() == shape) return x;
  const size_t n = x.shape().size(), k = shape.size();
  bool ok = k <= n;
  Shape rd;
  if (ok) {
    for (size_t i = 0; i < n - k; ++i) rd.push_back(static_cast<int64_t>(i));
    for (size_t i = 0; i < k && ok; ++i) {
      const int64_t xd = x.shape()[n - k + i];
      if (shape[i] == xd) continue;
      if (shape[i] == 1)
        rd.push_back(static_cast<int64_t>(n - k + i));
      else
        ok = false;
    }
  }
  TANGENT_CHECK(ok, "sum_to: cannot sum a tensor of shape ", x.shape(), " to shape ", shape,
                " (the target shape must broadcast to the input's shape)");
  const Tensor s = rd.empty() ? x : sum(x, rd, true);
  return reshape(s, shape);
}

// ---- boolean queries ----

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol, bool equal_nan) {
  detail::check_defined(a, "allclose");
  detail::check_defined(b, "allclose");
  detail::check_same_device(a, b, "allclose");
  broadcast_shapes(a.shape(), b.shape(), "allclose");
  NoGradGuard no_grad;
  const Tensor x = cast_raw(a, kFloat64), y = cast_raw(b, kFloat64);
  // Exactly equal (so equal infinities), or a finite |x - y| <= atol + rtol |y|.
  const Tensor err = abs(sub(x, y));
  Tensor close = logical_or(
      eq(x, y), logical_and(ne(err, std::numeric_limits<double>::infinity()), le(err, add(mul(abs(y), rtol), atol))));
  if (equal_nan) close = logical_or(close, logical_and(isnan(x), isnan(y)));
  return all(close);
}

bool equal(const Tensor& a, const Tensor& b) {
  detail::check_defined(a, "equal");
  detail::check_defined(b, "equal");
  detail::check_same_device(a, b, "equal");
  if (a.shape() != b.shape()) return false;
  NoGradGuard no_grad;
  return all(eq(a, b));
}

Tensor isnan(const Tensor& x) {
  detail::check_defined(x, "isnan");
  NoGradGuard no_grad;
  if (!x.is_floating_point()) return zeros(x.shape(), TensorOptions(kBool).device(x.device()));
  return ne(x, x);
}

bool any(const Tensor& x) {
  detail::check_defined(x, "any");
  if (x.numel() == 0) return false;
  NoGradGuard no_grad;
  const Tensor b = x.dtype() == kBool ? x : ne(x, 0);
  return reduce_raw(ReduceOp::Max, b, reduce_dims(b, {}, "any"), false).item<bool>();
}

bool all(const Tensor& x) {
  detail::check_defined(x, "all");
  if (x.numel() == 0) return true;
  NoGradGuard no_grad;
  const Tensor b = x.dtype() == kBool ? x : ne(x, 0);
  return reduce_raw(ReduceOp::Min, b, reduce_dims(b, {}, "all"), false).item<bool>();
}

}  // namespace tangent
