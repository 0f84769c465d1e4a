// Convolution and pooling (NCHW) with their backward: conv2d, max_pool2d, avg_pool2d, adaptive_avg_pool2d.
// conv2d's two backward products (w.r.t. the input and the weight) are differentiable ops of their own, each
// linear in both arguments, so second derivatives work:
//   grad_input(gy, w)  = J_x(w)^T gy : <G, grad_input(gy, w)> = <conv2d(G, w), gy>
//       -> d/dgy = conv2d(G, w),         d/dw = grad_weight(gy, G)
//   grad_weight(gy, x) = J_w(x)^T gy : <G, grad_weight(gy, x)> = <conv2d(x, G), gy>
//       -> d/dgy = conv2d(x, G),         d/dx = grad_input(gy, G)
// Likewise avg_pool2d's backward is an op whose own backward is avg_pool2d, and max_pool2d's backward scatters the
// gradient to the saved argmax indices with scatter_add (whose backward, a gather, gives the double backward).
#include "ops/conv.h"

#include <vector>

#include "autograd/forward_ad.h"
#include "core/backend.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/internal.h"
#include "ops/linalg.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace tangent {

namespace {

// Output size of a sliding window along one dim (PyTorch's floor formula).
int64_t out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation) {
  return (in + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
}

Tensor conv2d_impl(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p);
Tensor conv2d_grad_input(const Tensor& gy, const Tensor& w, const Shape& x_shape, const Conv2dParams& p);
Tensor conv2d_grad_weight(const Tensor& gy, const Tensor& x, const Shape& w_shape, const Conv2dParams& p);

Tensor conv2d_impl(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p) {
  Shape os{x.size(0), w.size(0), out_size(x.size(2), w.size(2), p.stride[0], p.padding[0], p.dilation[0]),
           out_size(x.size(3), w.size(3), p.stride[1], p.padding[1], p.dilation[1])};
  Tensor out = detail::new_empty(os, x.dtype(), x.device());
  backend_for(x).conv2d(x, w, b.defined() ? &b : nullptr, p, out);
  autograd::forward::rule("conv2d", out, {x, w, b}, [&](const std::vector<Tensor>& t) {
    Tensor r = t[0].defined() ? conv2d_impl(t[0], w, Tensor(), p) : Tensor();
    if (t[1].defined()) r = autograd::forward::sum(r, conv2d_impl(x, t[1], Tensor(), p));
    return autograd::forward::sum(r, t[2].defined() ? reshape(t[2], {1, -1, 1, 1}) : Tensor());
  });
  if (autograd::needs_grad(x, w) || (b.defined() && autograd::needs_grad(b))) {
    autograd::record("conv2d", out, {x, w, b}, {x, w}, [p](const Tensor& g, autograd::Context& ctx) {
      const Tensor x = ctx.saved(0), w = ctx.saved(1);
      return std::vector<Tensor>{ctx.needs_grad(0) ? conv2d_grad_input(g, w, x.shape(), p) : Tensor(),
                                 ctx.needs_grad(1) ? conv2d_grad_weight(g, x, w.shape(), p) : Tensor(),
                                 ctx.needs_grad(2) ? sum(g, {0, 2, 3}) : Tensor()};
    });
  }
  return out;
}

Tensor conv2d_grad_input(const Tensor& gy, const Tensor& w, const Shape& x_shape, const Conv2dParams& p) {
  Tensor gx = detail::new_empty(x_shape, gy.dtype(), gy.device());
  backend_for(gy).conv2d_backward_input(gy, detail::cast_raw(w, gy.dtype()), p, gx);
  autograd::forward::rule(
      "conv2d_backward_input", gx, {gy, w}, [&](const std::vector<Tensor>& t) {  // bilinear in (gy, w)
        return autograd::forward::sum(t[0].defined() ? conv2d_grad_input(t[0], w, x_shape, p) : Tensor(),
                                      t[1].defined() ? conv2d_grad_input(gy, t[1], x_shape, p) : Tensor());
      });
  if (autograd::needs_grad(gy, w)) {
    autograd::record("conv2d_backward_input", gx, {gy, w}, {gy, w}, [p](const Tensor& G, autograd::Context& ctx) {
      const Tensor gy = ctx.saved(0), w = ctx.saved(1);
      return std::vector<Tensor>{ctx.needs_grad(0) ? conv2d_impl(G, w, Tensor(), p) : Tensor(),
                                 ctx.needs_grad(1) ? conv2d_grad_weight(gy, G, w.shape(), p) : Tensor()};
    });
  }
  return gx;
}

Tensor conv2d_grad_weight(const Tensor& gy, const Tensor& x, const Shape& w_shape, const Conv2dParams& p) {
  Tensor gw = detail::new_empty(w_shape, gy.dtype(), gy.device());
  backend_for(gy).conv2d_backward_weight(gy, detail::cast_raw(x, gy.dtype()), p, gw, nullptr);
  autograd::forward::rule(
      "conv2d_backward_weight", gw, {gy, x}, [&](const std::vector<Tensor>& t) {  // bilinear in (gy, x)
        return autograd::forward::sum(t[0].defined() ? conv2d_grad_weight(t[0], x, w_shape, p) : Tensor(),
                                      t[1].defined() ? conv2d_grad_weight(gy, t[1], w_shape, p) : Tensor());
      });
  if (autograd::needs_grad(gy, x)) {
    autograd::record("conv2d_backward_weight", gw, {gy, x}, {gy, x}, [p](const Tensor& G, autograd::Context& ctx) {
      const Tensor gy = ctx.saved(0), x = ctx.saved(1);
      return std::vector<Tensor>{ctx.needs_grad(0) ? conv2d_impl(x, G, Tensor(), p) : Tensor(),
                                 ctx.needs_grad(1) ? conv2d_grad_input(gy, G, x.shape(), p) : Tensor()};
    });
  }
  return gw;
}

// Runs fn on a batched (4-D) view of x: a 3-D [C, H, W] input is treated as a batch of one.
template <typename F>
Tensor with_batch(const Tensor& x, const F& fn) {
  if (x.dim() == 4) return fn(x);
  return squeeze(fn(unsqueeze(x, 0)), 0);
}

void check_input(const Tensor& x, const char* op) {
  detail::check_defined(x, op);
  detail::check_floating(x, op);
  TANGENT_CHECK(x.dim() == 3 || x.dim() == 4, op, ": expected a 3-D [C, H, W] or 4-D [N, C, H, W] input, got shape ",
                x.shape());
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Pair stride, Pair padding, Pair dilation,
              int64_t groups) {
  check_input(x, "conv2d");
  detail::check_defined(weight, "conv2d", "weight");
  detail::check_same_device(x, weight, "conv2d");
  TANGENT_CHECK(weight.dtype() == x.dtype() && (!bias.defined() || bias.dtype() == x.dtype()), "conv2d: input (",
                x.dtype(), "), weight (", weight.dtype(), ") and bias must share a dtype");
  TANGENT_CHECK(weight.dim() == 4, "conv2d: expected a 4-D weight [O, C/groups, kH, kW], got shape ", weight.shape());
  TANGENT_CHECK(groups >= 1, "conv2d: groups must be positive, got ", groups);
  const int64_t C = x.size(-3), O = weight.size(0);
  TANGENT_CHECK(C % groups == 0 && O % groups == 0, "conv2d: groups (", groups, ") must divide the input channels (", C,
                ", input shape ", x.shape(), ") and the output channels (", O, ", weight shape ", weight.shape(), ")");
  TANGENT_CHECK(weight.size(1) * groups == C, "conv2d: input of shape ", x.shape(), " has ", C,
                " channels, but weight of shape ", weight.shape(), " with groups=", groups, " expects ",
                weight.size(1) * groups);
  if (bias.defined()) {
    detail::check_same_device(x, bias, "conv2d");
    TANGENT_CHECK(bias.dim() == 1 && bias.size(0) == O, "conv2d: bias of shape ", bias.shape(), " does not match ", O,
                  " output channels (weight shape ", weight.shape(), ")");
  }
  Conv2dParams p;
  p.groups = groups;
  for (int d = 0; d < 2; ++d) {
    TANGENT_CHECK(stride[d] >= 1 && dilation[d] >= 1 && padding[d] >= 0, "conv2d: invalid stride ", stride[d],
                  ", padding ", padding[d], " or dilation ", dilation[d]);
    p.stride[d] = stride[d];
    p.padding[d] = padding[d];
    p.dilation[d] = dilation[d];
    const int64_t in = x.size(x.dim() - 2 + d) + 2 * padding[d], extent = dilation[d] * (weight.size(2 + d) - 1) + 1;
    TANGENT_CHECK(extent <= in, "conv2d: kernel of size ", weight.size(2), "x", weight.size(3), " (dilation ",
                  dilation[0], "x", dilation[1], ") is larger than the padded input (input shape ", x.shape(),
                  ", padding ", padding[0], "x", padding[1], ", weight shape ", weight.shape(), ")");
  }
  return with_batch(x, [&](const Tensor& x4) { return conv2d_impl(x4, weight, bias, p); });
}

Tensor conv2d_input_grad(const Tensor& grad_out, const Tensor& weight, Pair input_hw, Pair stride, Pair padding,
                         Pair dilation, int64_t groups) {
  detail::check_defined(grad_out, "conv2d_input_grad", "grad_out");
  detail::check_defined(weight, "conv2d_input_grad", "weight");
  detail::check_same_device(grad_out, weight, "conv2d_input_grad");
  TANGENT_CHECK(grad_out.dim() == 4 && weight.dim() == 4 && groups >= 1 && grad_out.size(1) == weight.size(0) &&
                    weight.size(0) % groups == 0 && grad_out.dtype() == weight.dtype() && grad_out.is_floating_point(),
                "conv2d_input_grad: grad_out ", grad_out.shape(), " ", grad_out.dtype(), " does not match weight ",
                weight.shape(), " ", weight.dtype(), " with groups=", groups);
  Conv2dParams p;
  p.groups = groups;
  for (int d = 0; d < 2; ++d) {
    TANGENT_CHECK(
        stride[d] >= 1 && dilation[d] >= 1 && padding[d] >= 0 && input_hw[d] >= 1 &&
            out_size(input_hw[d], weight.size(2 + d), stride[d], padding[d], dilation[d]) == grad_out.size(2 + d),
        "conv2d_input_grad: grad_out ", grad_out.shape(), " is not conv2d's output for inputs of size ", input_hw[0],
        "x", input_hw[1], " (weight ", weight.shape(), ", stride ", stride[d], ", padding ", padding[d], ", dilation ",
        dilation[d], ")");
    p.stride[d] = stride[d];
    p.padding[d] = padding[d];
    p.dilation[d] = dilation[d];
  }
  const Shape x_shape{grad_out.size(0), weight.size(1) * groups, input_hw[0], input_hw[1]};
  return conv2d_grad_input(grad_out.contiguous(), weight, x_shape, p);
}

// ---- pooling ----
namespace {

Pool2dParams pool_params(const Tensor& x, Pair kernel, Pair stride, Pair padding, const char* op) {
  Pool2dParams p;
  for (int d = 0; d < 2; ++d) {
    const int64_t s = stride[d] == 0 ? kernel[d] : stride[d];
    TANGENT_CHECK(kernel[d] >= 1 && s >= 1 && padding[d] >= 0, op, ": invalid kernel ", kernel[0], "x", kernel[1],
                  ", stride ", stride[0], "x", stride[1], " or padding ", padding[0], "x", padding[1]);
    TANGENT_CHECK(2 * padding[d] <= kernel[d], op, ": padding ", padding[0], "x", padding[1],
                  " must be at most half the kernel size ", kernel[0], "x", kernel[1]);
    TANGENT_CHECK(kernel[d] <= x.size(x.dim() - 2 + d) + 2 * padding[d], op, ": kernel ", kernel[0], "x", kernel[1],
                  " is larger than the padded input (input shape ", x.shape(), ", padding ", padding[0], "x",
                  padding[1], ")");
    p.kernel[d] = kernel[d];
    p.stride[d] = s;
    p.padding[d] = padding[d];
  }
  return p;
}

Shape pool_out_shape(const Tensor& x, const Pool2dParams& p) {
  return {x.size(0), x.size(1), out_size(x.size(2), p.kernel[0], p.stride[0], p.padding[0], 1),
          out_size(x.size(3), p.kernel[1], p.stride[1], p.padding[1], 1)};
}

// Sends each output gradient to its argmax: grad_in.flatten(2) scattered along the plane.
Tensor max_pool2d_backward(const Tensor& g, const Tensor& indices, const Shape& x_shape) {
  const int64_t planes = x_shape[0] * x_shape[1];
  const Tensor base = zeros({planes, x_shape[2] * x_shape[3]}, TensorOptions(g.dtype()).device(g.device()));
  if (!GradMode::is_enabled()) {
    // Nothing records and the indices come from the forward (in range): scatter straight into the fresh zeros
    // (the op would bounds-check the indices and copy the zeros first).
    backend_for(g).scatter_add(base, 1, reshape(indices, {planes, -1}), reshape(g, {planes, -1}));
    return reshape(base, x_shape);
  }
  const Tensor gi = scatter_add(base, 1, reshape(indices, {planes, -1}), reshape(g, {planes, -1}));
  return reshape(gi, x_shape);
}

Tensor avg_pool2d_impl(const Tensor& x, const Pool2dParams& p);

Tensor avg_pool2d_grad(const Tensor& gy, const Pool2dParams& p, const Shape& x_shape) {
  Tensor gx = detail::new_empty(x_shape, gy.dtype(), gy.device());
  backend_for(gy).avg_pool2d_backward(gy, p, gx);
  autograd::forward::rule("avg_pool2d_backward", gx, {gy},
                          [&](const std::vector<Tensor>& t) { return avg_pool2d_grad(t[0], p, x_shape); });
  if (autograd::needs_grad(gy)) {
    autograd::record("avg_pool2d_backward", gx, {gy}, {},
                     [p](const Tensor& G, autograd::Context&) { return std::vector<Tensor>{avg_pool2d_impl(G, p)}; });
  }
  return gx;
}

Tensor avg_pool2d_impl(const Tensor& x, const Pool2dParams& p) {
  Tensor out = detail::new_empty(pool_out_shape(x, p), x.dtype(), x.device());
  backend_for(x).pool2d(PoolKind::Avg, x, p, out, nullptr);
  autograd::forward::rule("avg_pool2d", out, {x},
                          [&](const std::vector<Tensor>& t) { return avg_pool2d_impl(t[0], p); });
  if (autograd::needs_grad(x)) {
    const Shape xs = x.shape();
    autograd::record("avg_pool2d", out, {x}, {}, [p, xs](const Tensor& g, autograd::Context&) {
      return std::vector<Tensor>{avg_pool2d_grad(g, p, xs)};
    });
  }
  return out;
}

}  // namespace

Tensor max_pool2d(const Tensor& x, Pair kernel, Pair stride, Pair padding) {
  check_input(x, "max_pool2d");
  const Pool2dParams p = pool_params(x, kernel, stride, padding, "max_pool2d");
  return with_batch(x, [&](const Tensor& x4) {
    const Shape os = pool_out_shape(x4, p);
    Tensor out = detail::new_empty(os, x4.dtype(), x4.device());
    Tensor indices = detail::new_empty(os, kInt64, x4.device());
    backend_for(x4).pool2d(PoolKind::Max, x4, p, out, &indices);
    autograd::forward::rule(
        "max_pool2d", out, {x4}, [&](const std::vector<Tensor>& t) {  // the tangent at each window's argmax
          const int64_t planes = os[0] * os[1];
          return reshape(gather(reshape(t[0], {planes, -1}), 1, reshape(indices, {planes, -1})), os);
        });
    if (autograd::needs_grad(x4)) {
      const Shape xs = x4.shape();
      autograd::record("max_pool2d", out, {x4}, {indices}, [xs](const Tensor& g, autograd::Context& ctx) {
        return std::vector<Tensor>{max_pool2d_backward(g, ctx.saved(0), xs)};
      });
    }
    return out;
  });
}

Tensor avg_pool2d(const Tensor& x, Pair kernel, Pair stride, Pair padding, bool count_include_pad) {
  check_input(x, "avg_pool2d");
  Pool2dParams p = pool_params(x, kernel, stride, padding, "avg_pool2d");
  p.count_include_pad = count_include_pad;
  return with_batch(x, [&](const Tensor& x4) { return avg_pool2d_impl(x4, p); });
}

namespace {
// The [out, in] matrix that averages the adaptive bins [floor(i*in/out), ceil((i+1)*in/out)) of a dim.
Tensor adaptive_matrix(int64_t in, int64_t out, DType dtype, Device device) {
  std::vector<double> m(static_cast<size_t>(out * in), 0.0);
  for (int64_t i = 0; i < out; ++i) {
    const int64_t s = (i * in) / out, e = ((i + 1) * in + out - 1) / out;
    for (int64_t j = s; j < e; ++j) m[static_cast<size_t>(i * in + j)] = 1.0 / static_cast<double>(e - s);
  }
  return tensor(m, {out, in}, TensorOptions(kFloat64)).to(dtype).to(device);
}
}  // namespace

Tensor adaptive_avg_pool2d(const Tensor& x, Pair output_size) {
  check_input(x, "adaptive_avg_pool2d");
  const int64_t H = x.size(-2), W = x.size(-1), oh = output_size[0], ow = output_size[1];
  TANGENT_CHECK(oh >= 1 && ow >= 1, "adaptive_avg_pool2d: output size must be positive, got ", oh, "x", ow,
                " (input shape ", x.shape(), ")");
  TANGENT_CHECK(H >= 1 && W >= 1, "adaptive_avg_pool2d: empty spatial input of shape ", x.shape());
  if (H % oh == 0 && W % ow == 0) return avg_pool2d(x, {H / oh, W / ow}, {H / oh, W / ow});
  // General bins: out = Ph @ x @ Pw^T with averaging matrices (a composition of differentiable products).
  const Tensor ph = adaptive_matrix(H, oh, x.dtype(), x.device());
  const Tensor pw = adaptive_matrix(W, ow, x.dtype(), x.device());
  return matmul(matmul(ph, x), transpose(pw, 0, 1));
}

}  // namespace tangent
