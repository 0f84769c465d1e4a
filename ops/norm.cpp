// Batch, layer and RMS normalisation. layer_norm and rms_norm check their inputs, then run the backend's fused
// norm_forward and record one node whose backward is norm_backward (or, under create_graph, the same gradients
// from differentiable ops), when the backend supports Primitive::Norm for the dtype; otherwise they are composed
// from reductions and elementwise ops, and autograd differentiates the composition. batch_norm in training mode
// does the same with Primitive::BatchNorm (batch_norm_forward / batch_norm_backward); in eval mode it is composed.
#include "ops/norm.h"

#include <algorithm>
#include <vector>

#include "autograd/forward_ad.h"
#include "core/backend.h"
#include "ops/elementwise.h"
#include "ops/internal.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace tangent {

namespace {
// Shape [1, C, 1, ...] for per-channel parameters of an input of x's rank.
Shape channel_shape(const Tensor& x) {
  Shape s(static_cast<size_t>(x.dim()), 1);
  s[1] = x.size(1);
  return s;
}

// The last `nd` dims of x, which layer and RMS norm normalise over; `op` names the caller in errors.
Shape normalized_dims(const Tensor& x, int64_t nd, const char* op) {
  TANGENT_CHECK(nd >= 1 && nd <= x.dim(), op, ": cannot normalise the last ", nd, " dims of an input of shape ",
                x.shape());
  Shape dims;
  for (int64_t d = x.dim() - nd; d < x.dim(); ++d) dims.push_back(d);
  return dims;
}

void check_affine(const Tensor& x, int64_t nd, const Tensor& t, const char* op, const char* what) {
  if (!t.defined()) return;
  const Shape tail(x.shape().begin() + (x.dim() - nd), x.shape().end());
  TANGENT_CHECK(t.shape() == tail, op, ": ", what, " of shape ", t.shape(), " does not match the normalised shape ",
                tail, " of input ", x.shape());
}

// The normalised input and its rstd from differentiable ops.
std::pair<Tensor, Tensor> normalize(const Tensor& x, const Shape& dims, bool rms, double eps) {
  const Tensor centered = rms ? x : sub(x, mean(x, dims, true));
  const Tensor rstd = rsqrt(add(mean(mul(centered, centered), dims, true), eps));
  return {mul(centered, rstd), rstd};
}

Tensor norm_composite(const Tensor& x, const Shape& dims, const Tensor& weight, const Tensor& bias, bool rms,
                      double eps) {
  Tensor y = normalize(x, dims, rms, eps).first;
  if (weight.defined()) y = mul(y, weight);
  if (bias.defined()) y = add(y, bias);
  return y;
}

// d/dx, d/dweight, d/dbias of the norm for output gradient g, from differentiable ops (create_graph):
// with xhat the normalised input and gy = g * weight,
//   layer norm  dx = rstd (gy - mean(gy) - xhat mean(gy xhat));  RMS norm  dx = rstd (gy - xhat mean(gy xhat));
//   dweight = g xhat, dbias = g (the engine sums them over the leading dims).
std::vector<Tensor> norm_backward_composite(const Tensor& g, const Tensor& x, const Shape& dims, const Tensor& weight,
                                            bool has_bias, bool rms, double eps) {
  const auto [xhat, rstd] = normalize(x, dims, rms, eps);
  const Tensor gy = weight.defined() ? mul(g, weight) : g;
  Tensor inner = sub(gy, mul(xhat, mean(mul(gy, xhat), dims, true)));
  if (!rms) inner = sub(inner, mean(gy, dims, true));
  return {mul(rstd, inner), weight.defined() ? mul(g, xhat) : Tensor(), has_bias ? g : Tensor()};
}

bool fusable_norm(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  if (autograd::forward::any_dual({x, weight, bias})) return false;  // jvp: the composite carries the tangents
  for (const Tensor* t : {&weight, &bias})
    if (t->defined() && (t->dtype() != x.dtype() || t->device() != x.device())) return false;
  return backend_for(x).supports(Primitive::Norm, x.dtype());
}

Tensor norm_fused(const Tensor& x, int64_t nd, const Tensor& weight, const Tensor& bias, bool rms, double eps,
                  const char* op) {
  const int64_t n = x.numel() == 0 ? 0 : [&] {
    int64_t p = 1;
    for (int64_t d = x.dim() - nd; d < x.dim(); ++d) p *= x.size(d);
    return p;
  }();
  const int64_t rows = n == 0 ? 0 : x.numel() / n;
  const Tensor xc = x.detach().contiguous().reshape({rows, n});
  const Tensor wc = weight.defined() ? weight.detach().contiguous().reshape({n}) : Tensor();
  const Tensor bc = bias.defined() ? bias.detach().contiguous().reshape({n}) : Tensor();
  Tensor out = detail::new_empty(x.shape(), x.dtype(), x.device());
  Tensor mu = rms ? Tensor() : detail::new_empty({rows}, x.dtype(), x.device());
  Tensor rstd = detail::new_empty({rows}, x.dtype(), x.device());
  backend_for(x).norm_forward(xc, wc.defined() ? &wc : nullptr, bc.defined() ? &bc : nullptr, rms, eps,
                              out.reshape({rows, n}), mu, rstd);
  if (autograd::needs_grad(x, weight, bias)) {
    const Shape dims = normalized_dims(x, nd, op);
    const bool has_bias = bias.defined();
    autograd::record(
        op, out, {x, weight, bias}, {x, wc, mu, rstd, weight},
        [dims, has_bias, rms, eps, rows, n](const Tensor& g, autograd::Context& ctx) {
          return detail::fused_unless_create_graph(
              [&] {
                const Tensor x = ctx.saved(0), wc = ctx.saved(1);
                const Tensor xc = x.contiguous().reshape({rows, n});
                const Shape& shape = x.shape();
                const Tensor gc = detail::cast_raw(g, xc.dtype()).contiguous().reshape({rows, n});
                Tensor dx = detail::new_empty(shape, xc.dtype(), xc.device());
                Tensor dw =
                    wc.defined() && ctx.needs_grad(1) ? detail::new_empty({n}, xc.dtype(), xc.device()) : Tensor();
                Tensor db = has_bias && ctx.needs_grad(2) ? detail::new_empty({n}, xc.dtype(), xc.device()) : Tensor();
                backend_for(xc).norm_backward(gc, xc, wc.defined() ? &wc : nullptr, ctx.saved(2), ctx.saved(3), rms,
                                              dx.reshape({rows, n}), dw.defined() ? &dw : nullptr,
                                              db.defined() ? &db : nullptr);
                const Tensor w = ctx.saved(4);
                return std::vector<Tensor>{dx, dw.defined() ? dw.reshape(w.shape()) : Tensor(),
                                           db.defined() ? db.reshape(w.shape()) : Tensor()};
              },
              [&] { return norm_backward_composite(g, ctx.saved(0), dims, ctx.saved(4), has_bias, rms, eps); });
        });
  }
  return out;
}

bool fusable_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  if (autograd::forward::any_dual({x, weight, bias})) return false;  // jvp: the composite carries the tangents
  for (const Tensor* t : {&weight, &bias})
    if (t->defined() && (t->dtype() != x.dtype() || t->device() != x.device())) return false;
  return backend_for(x).supports(Primitive::BatchNorm, x.dtype());
}

// Training-mode batch norm by the backend's fused kernels: writes the batch statistics ([C]) to mean and var and
// records one node, whose backward is batch_norm_backward (or, under create_graph, the norm's composite gradients
// over `dims` summed to [C] for weight and bias).
Tensor batch_norm_fused(const Tensor& x, const Tensor& weight, const Tensor& bias, const Shape& dims, double eps,
                        Tensor& mean, Tensor& var) {
  const int64_t n = x.size(0), c = x.size(1), s = x.numel() / std::max<int64_t>(n * c, 1);
  const Tensor xc = x.detach().contiguous().reshape({n, c, s});
  const Tensor wc = weight.defined() ? weight.detach().contiguous() : Tensor();
  const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor out = detail::new_empty(x.shape(), x.dtype(), x.device());
  mean = detail::new_empty({c}, x.dtype(), x.device());
  var = detail::new_empty({c}, x.dtype(), x.device());
  backend_for(x).batch_norm_forward(xc, wc.defined() ? &wc : nullptr, bc.defined() ? &bc : nullptr, eps,
                                    out.reshape({n, c, s}), mean, var);
  if (autograd::needs_grad(x, weight, bias)) {
    const bool has_bias = bias.defined();
    autograd::record(
        "batch_norm", out, {x, weight, bias}, {x, wc, mean, var, weight},
        [dims, has_bias, eps, n, c, s](const Tensor& g, autograd::Context& ctx) {
          return detail::fused_unless_create_graph(
              [&] {
                const Tensor x = ctx.saved(0), wc = ctx.saved(1);
                const Tensor xc = x.contiguous().reshape({n, c, s});
                const Tensor gc = detail::cast_raw(g, xc.dtype()).contiguous().reshape({n, c, s});
                Tensor dx = ctx.needs_grad(0) ? detail::new_empty(x.shape(), xc.dtype(), xc.device()) : Tensor();
                Tensor dw =
                    wc.defined() && ctx.needs_grad(1) ? detail::new_empty({c}, xc.dtype(), xc.device()) : Tensor();
                Tensor db = has_bias && ctx.needs_grad(2) ? detail::new_empty({c}, xc.dtype(), xc.device()) : Tensor();
                const Tensor dx3 = dx.defined() ? dx.reshape({n, c, s}) : Tensor();
                backend_for(xc).batch_norm_backward(gc, xc, wc.defined() ? &wc : nullptr, ctx.saved(2), ctx.saved(3),
                                                    eps, dx3.defined() ? &dx3 : nullptr, dw.defined() ? &dw : nullptr,
                                                    db.defined() ? &db : nullptr);
                return std::vector<Tensor>{dx, dw, db};
              },
              [&] {
                const Tensor x = ctx.saved(0), w = ctx.saved(4);  // w: not detached, for higher orders
                const Tensor wb = w.defined() ? reshape(w, channel_shape(x)) : Tensor();
                std::vector<Tensor> r = norm_backward_composite(g, x, dims, wb, has_bias, false, eps);
                if (r[1].defined()) r[1] = sum(r[1], dims, false);
                if (r[2].defined()) r[2] = sum(r[2], dims, false);
                return r;
              });
        });
  }
  return out;
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  TANGENT_CHECK(x.dim() >= 2, "batch_norm: expected an input with at least 2 dims [N, C, ...], got ", x.shape());
  const int64_t c = x.size(1);
  for (const Tensor* t : {&running_mean, &running_var, &weight, &bias})
    if (t->defined())
      TANGENT_CHECK(t->dim() == 1 && t->size(0) == c, "batch_norm: per-channel tensor of shape ", t->shape(),
                    " does not match ", c, " channels of input ", x.shape());
  Shape dims;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d != 1) dims.push_back(d);
  const Shape cs = channel_shape(x);
  Tensor mean_, var_, y;
  if (training) {
    const int64_t n = x.numel() / c;
    TANGENT_CHECK(n > 1, "batch_norm: expected more than 1 value per channel in training, got input ", x.shape());
    if (fusable_batch_norm(x, weight, bias)) {
      y = batch_norm_fused(x, weight, bias, dims, eps, mean_, var_);
    } else {
      mean_ = mean(x, dims, true);
      var_ = var(x, dims, 0, true);
    }
    if (running_mean.defined()) {
      NoGradGuard guard;
      Tensor rm = running_mean, rv = running_var;
      rm.mul_(1.0 - momentum);
      rm.add_(mul(reshape(mean_.detach(), {c}), momentum));
      rv.mul_(1.0 - momentum);
      rv.add_(mul(reshape(var_.detach(), {c}), momentum * static_cast<double>(n) / static_cast<double>(n - 1)));
    }
  } else {
    TANGENT_CHECK(running_mean.defined() && running_var.defined(),
                  "batch_norm: eval mode needs running statistics (input ", x.shape(), ")");
    mean_ = reshape(running_mean, cs);
    var_ = reshape(running_var, cs);
  }
  if (y.defined()) return y;
  y = mul(sub(x, mean_), rsqrt(add(var_, eps)));
  if (weight.defined()) y = mul(y, reshape(weight, cs));
  if (bias.defined()) y = add(y, reshape(bias, cs));
  return y;
}

Tensor layer_norm(const Tensor& x, int64_t normalized_ndim, const Tensor& weight, const Tensor& bias, double eps) {
  const Shape dims = normalized_dims(x, normalized_ndim, "layer_norm");
  check_affine(x, normalized_ndim, weight, "layer_norm", "weight");
  check_affine(x, normalized_ndim, bias, "layer_norm", "bias");
  if (fusable_norm(x, weight, bias)) return norm_fused(x, normalized_ndim, weight, bias, false, eps, "layer_norm");
  return norm_composite(x, dims, weight, bias, false, eps);
}

Tensor rms_norm(const Tensor& x, int64_t normalized_ndim, const Tensor& weight, double eps) {
  const Shape dims = normalized_dims(x, normalized_ndim, "rms_norm");
  check_affine(x, normalized_ndim, weight, "rms_norm", "weight");
  if (fusable_norm(x, weight, Tensor())) return norm_fused(x, normalized_ndim, weight, Tensor(), true, eps, "rms_norm");
  return norm_composite(x, dims, weight, Tensor(), true, eps);
}

}  // namespace tangent
