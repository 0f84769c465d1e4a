// unfold / fold: checks, the backend's primitive (or the index_select / index_add composition), and the backward,
// which for each is the other (both are linear).
#include "ops/unfold.h"

#include <vector>

#include "autograd/forward_ad.h"
#include "core/backend.h"
#include "ops/factory.h"
#include "ops/internal.h"
#include "ops/shape_ops.h"

namespace tangent {

namespace {

struct Geometry {
  int64_t N = 0, C = 0, H = 0, W = 0, Ho = 0, Wo = 0, K = 0;  // K = C * kH * kW
};

UnfoldParams params_of(const UnfoldOptions& o) {
  UnfoldParams p;
  for (int i = 0; i < 2; ++i) {
    p.kernel[i] = o.kernel_size[i];
    p.stride[i] = o.stride[i];
    p.padding[i] = o.padding[i];
    p.dilation[i] = o.dilation[i];
  }
  return p;
}

Geometry geometry(int64_t N, int64_t C, int64_t H, int64_t W, const UnfoldOptions& o, const char* op) {
  for (int i = 0; i < 2; ++i)
    TANGENT_CHECK(o.kernel_size[i] >= 1 && o.stride[i] >= 1 && o.dilation[i] >= 1 && o.padding[i] >= 0, op,
                  ": kernel_size, stride and dilation must be positive and padding non-negative, got kernel_size [",
                  o.kernel_size[0], ", ", o.kernel_size[1], "], stride [", o.stride[0], ", ", o.stride[1],
                  "], padding [", o.padding[0], ", ", o.padding[1], "], dilation [", o.dilation[0], ", ", o.dilation[1],
                  "]");
  Geometry g{N, C, H, W, 0, 0, C * o.kernel_size[0] * o.kernel_size[1]};
  g.Ho = (H + 2 * o.padding[0] - o.dilation[0] * (o.kernel_size[0] - 1) - 1) / o.stride[0] + 1;
  g.Wo = (W + 2 * o.padding[1] - o.dilation[1] * (o.kernel_size[1] - 1) - 1) / o.stride[1] + 1;
  TANGENT_CHECK(g.Ho >= 1 && g.Wo >= 1, op, ": the kernel [", o.kernel_size[0], ", ", o.kernel_size[1], "] (dilation [",
                o.dilation[0], ", ", o.dilation[1], "], padding [", o.padding[0], ", ", o.padding[1],
                "]) does not fit the ", H, "x", W, " input");
  return g;
}

// For the composition: the flat index into [C*H*W + 1] (the last entry a zero) of each entry of [K, L].
Tensor patch_index(const Geometry& g, const UnfoldOptions& o, Device device) {
  const int64_t kh = o.kernel_size[0], kw = o.kernel_size[1], L = g.Ho * g.Wo, zero = g.C * g.H * g.W;
  std::vector<int64_t> idx(static_cast<size_t>(g.K * L));
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t ky = 0; ky < kh; ++ky)
      for (int64_t kx = 0; kx < kw; ++kx)
        for (int64_t oy = 0; oy < g.Ho; ++oy)
          for (int64_t ox = 0; ox < g.Wo; ++ox) {
            const int64_t iy = oy * o.stride[0] - o.padding[0] + ky * o.dilation[0];
            const int64_t ix = ox * o.stride[1] - o.padding[1] + kx * o.dilation[1];
            const bool inside = iy >= 0 && iy < g.H && ix >= 0 && ix < g.W;
            idx[static_cast<size_t>(((c * kh + ky) * kw + kx) * L + oy * g.Wo + ox)] =
                inside ? (c * g.H + iy) * g.W + ix : zero;
          }
  return tensor(idx, {g.K * L}).to(device);
}

bool has_fused(const Tensor& t) { return backend_for(t).supports(Primitive::Unfold, t.dtype()); }

}  // namespace

Tensor unfold(const Tensor& x, const UnfoldOptions& o) {
  detail::check_defined(x, "unfold", "x");
  TANGENT_CHECK(x.dim() == 4, "unfold: expected x of shape [N, C, H, W], got ", x.shape());
  detail::check_floating(x, "unfold");
  const Geometry g = geometry(x.size(0), x.size(1), x.size(2), x.size(3), o, "unfold");
  const int64_t L = g.Ho * g.Wo;
  if (!has_fused(x)) {
    const Tensor flat = reshape(x, {g.N, g.C * g.H * g.W});
    const Tensor padded = cat({flat, zeros({g.N, 1}, x.options())}, 1);
    return reshape(index_select(padded, 1, patch_index(g, o, x.device())), {g.N, g.K, L});
  }
  Tensor out = detail::new_empty({g.N, g.K, L}, x.dtype(), x.device());
  backend_for(x).unfold(x.detach().contiguous(), params_of(o), out);
  autograd::forward::rule("unfold", out, {x}, [&](const std::vector<Tensor>& t) { return unfold(t[0], o); });
  if (autograd::needs_grad(x)) {
    const std::array<int64_t, 2> size{g.H, g.W};
    autograd::record("unfold", out, {x}, {}, [size, o](const Tensor& grad, autograd::Context&) {
      return std::vector<Tensor>{fold(grad, size, o)};
    });
  }
  return out;
}

Tensor fold(const Tensor& cols, std::array<int64_t, 2> output_size, const UnfoldOptions& o) {
  detail::check_defined(cols, "fold", "cols");
  TANGENT_CHECK(cols.dim() == 3, "fold: expected cols of shape [N, C*kH*kW, L], got ", cols.shape());
  detail::check_floating(cols, "fold");
  const int64_t kk = o.kernel_size[0] * o.kernel_size[1];
  TANGENT_CHECK(kk >= 1 && cols.size(1) % kk == 0, "fold: cols of shape ", cols.shape(),
                " do not have a multiple of kH*kW = ", kk, " rows");
  TANGENT_CHECK(output_size[0] >= 1 && output_size[1] >= 1, "fold: output_size must be positive, got [", output_size[0],
                ", ", output_size[1], "]");
  const Geometry g = geometry(cols.size(0), cols.size(1) / kk, output_size[0], output_size[1], o, "fold");
  TANGENT_CHECK(cols.size(2) == g.Ho * g.Wo, "fold: cols of shape ", cols.shape(), " hold ", cols.size(2),
                " patches but an output of ", g.H, "x", g.W, " has ", g.Ho * g.Wo, " (", g.Ho, "x", g.Wo, ")");
  if (!has_fused(cols)) {
    const Tensor acc = zeros({g.N, g.C * g.H * g.W + 1}, cols.options());
    const Tensor summed = index_add(acc, 1, patch_index(g, o, cols.device()), reshape(cols, {g.N, -1}));
    return reshape(narrow(summed, 1, 0, g.C * g.H * g.W), {g.N, g.C, g.H, g.W});
  }
  Tensor out = detail::new_empty({g.N, g.C, g.H, g.W}, cols.dtype(), cols.device());
  backend_for(cols).fold(cols.detach().contiguous(), params_of(o), out);
  autograd::forward::rule("fold", out, {cols},
                          [&](const std::vector<Tensor>& t) { return fold(t[0], output_size, o); });
  if (autograd::needs_grad(cols)) {
    autograd::record("fold", out, {cols}, {},
                     [o](const Tensor& grad, autograd::Context&) { return std::vector<Tensor>{unfold(grad, o)}; });
  }
  return out;
}

}  // namespace tangent
