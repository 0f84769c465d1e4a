// CPU 2-D pooling (NCHW): max pooling with int64 indices (flat ih*W+iw within each plane, so that backward can
// scatter), average pooling (count_include_pad as PyTorch: the window clipped to the padded input), and average
// pooling's backward. Plain loops over planes in parallel; every floating dtype (accumulating in acc_t).
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "ops/cpu/cpu_backend.h"

namespace tangent::cpu {

namespace {

struct PoolGeom {
  int64_t planes, H, W, Ho, Wo;
  Pool2dParams p;
};

PoolGeom pool_geom(const Shape& in, const Shape& out, const Pool2dParams& p, const char* op) {
  TANGENT_CHECK(in.size() == 4 && out.size() == 4 && in[0] == out[0] && in[1] == out[1], op,
                ": expected input [N,C,H,W] and output [N,C,Ho,Wo], got ", in, " and ", out);
  PoolGeom g{in[0] * in[1], in[2], in[3], out[2], out[3], p};
  for (int d = 0; d < 2; ++d) {
    TANGENT_CHECK(p.kernel[d] >= 1 && p.stride[d] >= 1 && p.padding[d] >= 0, op, ": invalid kernel/stride/padding");
    const int64_t expect = (in[2 + d] + 2 * p.padding[d] - p.kernel[d]) / p.stride[d] + 1;
    TANGENT_CHECK(out[2 + d] == expect, op, ": output size ", out, " does not match input ", in);
  }
  return g;
}

// The window of output (oh, ow): [h0, h1) x [w0, w1) inside the input, and the average's divisor.
struct Window {
  int64_t h0, h1, w0, w1, divisor;
};

inline Window window(const PoolGeom& g, int64_t oh, int64_t ow) {
  const auto& p = g.p;
  int64_t h0 = oh * p.stride[0] - p.padding[0], w0 = ow * p.stride[1] - p.padding[1];
  int64_t h1 = std::min(h0 + p.kernel[0], g.H + p.padding[0]), w1 = std::min(w0 + p.kernel[1], g.W + p.padding[1]);
  const int64_t padded = (h1 - h0) * (w1 - w0);
  h0 = std::max<int64_t>(h0, 0);
  w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, g.H);
  w1 = std::min(w1, g.W);
  return {h0, h1, w0, w1, p.count_include_pad ? padded : (h1 - h0) * (w1 - w0)};
}

// Planes per parallel chunk: small problems stay on the calling thread.
inline int64_t grain(const PoolGeom& g) {
  return std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, g.Ho * g.Wo * g.p.kernel[0] * g.p.kernel[1]));
}

// The common 2x2 window with stride 2 and no padding (every window inside the input): four loads per output in the
// general loop's order and with its rules (the first largest wins; the first NaN wins and stops the search).
template <typename T>
void max_pool_2x2(const PoolGeom& g, const T* xp, T* yp, int64_t* ip) {
  using A = acc_t<T>;
  for (int64_t oh = 0; oh < g.Ho; ++oh) {
    const int64_t r0 = 2 * oh * g.W, r1 = r0 + g.W;
    for (int64_t ow = 0; ow < g.Wo; ++ow) {
      const int64_t cand[4] = {r0 + 2 * ow, r0 + 2 * ow + 1, r1 + 2 * ow, r1 + 2 * ow + 1};
      A best = static_cast<A>(xp[cand[0]]);
      int64_t arg = cand[0];
      for (int k = 1; k < 4 && !(best != best); ++k) {
        const A v = static_cast<A>(xp[cand[k]]);
        if (v > best || v != v) {
          best = v;
          arg = cand[k];
        }
      }
      yp[oh * g.Wo + ow] = T(best);
      if (ip) ip[oh * g.Wo + ow] = arg;
    }
  }
}

template <typename T>
void max_pool(const PoolGeom& g, const T* x, T* y, int64_t* idx) {
  using A = acc_t<T>;
  const auto& p = g.p;
  const bool two_by_two = p.kernel[0] == 2 && p.kernel[1] == 2 && p.stride[0] == 2 && p.stride[1] == 2 &&
                          p.padding[0] == 0 && p.padding[1] == 0;
  parallel_for(g.planes, grain(g), [&](int64_t p0, int64_t p1) {
    for (int64_t pl = p0; pl < p1; ++pl) {
      if (two_by_two) {
        max_pool_2x2(g, x + pl * g.H * g.W, y + pl * g.Ho * g.Wo, idx ? idx + pl * g.Ho * g.Wo : nullptr);
        continue;
      }
      const T* xp = x + pl * g.H * g.W;
      for (int64_t oh = 0; oh < g.Ho; ++oh)
        for (int64_t ow = 0; ow < g.Wo; ++ow) {
          const Window w = window(g, oh, ow);
          A best = A(0);
          int64_t arg = -1;
          for (int64_t ih = w.h0; ih < w.h1; ++ih)
            for (int64_t iw = w.w0; iw < w.w1; ++iw) {
              const A v = static_cast<A>(xp[ih * g.W + iw]);
              if (arg < 0 || v > best || std::isnan(v)) {
                best = v;
                arg = ih * g.W + iw;
                if (std::isnan(v)) ih = w.h1, iw = w.w1;  // NaN propagates
              }
            }
          const int64_t o = (pl * g.Ho + oh) * g.Wo + ow;
          y[o] = T(best);
          if (idx) idx[o] = arg < 0 ? 0 : arg;
        }
    }
  });
}

template <typename T>
void avg_pool(const PoolGeom& g, const T* x, T* y) {
  using A = acc_t<T>;
  parallel_for(g.planes, grain(g), [&](int64_t p0, int64_t p1) {
    for (int64_t pl = p0; pl < p1; ++pl) {
      const T* xp = x + pl * g.H * g.W;
      for (int64_t oh = 0; oh < g.Ho; ++oh)
        for (int64_t ow = 0; ow < g.Wo; ++ow) {
          const Window w = window(g, oh, ow);
          A acc = A(0);
          for (int64_t ih = w.h0; ih < w.h1; ++ih)
            for (int64_t iw = w.w0; iw < w.w1; ++iw) acc += static_cast<A>(xp[ih * g.W + iw]);
          y[(pl * g.Ho + oh) * g.Wo + ow] = T(w.divisor > 0 ? acc / static_cast<A>(w.divisor) : A(0));
        }
    }
  });
}

template <typename T>
void avg_pool_backward(const PoolGeom& g, const T* gy, T* gx) {
  using A = acc_t<T>;
  parallel_for(g.planes, grain(g), [&](int64_t p0, int64_t p1) {
    std::vector<A> acc(static_cast<size_t>(g.H * g.W));
    for (int64_t pl = p0; pl < p1; ++pl) {
      std::fill(acc.begin(), acc.end(), A(0));
      for (int64_t oh = 0; oh < g.Ho; ++oh)
        for (int64_t ow = 0; ow < g.Wo; ++ow) {
          const Window w = window(g, oh, ow);
          if (w.divisor <= 0) continue;
          const A v = static_cast<A>(gy[(pl * g.Ho + oh) * g.Wo + ow]) / static_cast<A>(w.divisor);
          for (int64_t ih = w.h0; ih < w.h1; ++ih)
            for (int64_t iw = w.w0; iw < w.w1; ++iw) acc[static_cast<size_t>(ih * g.W + iw)] += v;
        }
      T* gp = gx + pl * g.H * g.W;
      for (int64_t i = 0; i < g.H * g.W; ++i) gp[i] = T(acc[static_cast<size_t>(i)]);
    }
  });
}

Tensor dense(Backend& be, const Tensor& t) {
  if (t.is_contiguous()) return t;
  Tensor c = empty(t.shape(), TensorOptions(t.dtype()).device(t.device()));
  be.copy(t, c);
  return c;
}

}  // namespace

void CpuBackend::pool2d(PoolKind kind, const Tensor& x, const Pool2dParams& p, const Tensor& out,
                        const Tensor* indices) {
  const char* op = kind == PoolKind::Max ? "max_pool2d" : "avg_pool2d";
  const PoolGeom g = pool_geom(x.shape(), out.shape(), p, op);
  TANGENT_CHECK(out.is_contiguous() && x.dtype() == out.dtype(), op, " (cpu): out must be contiguous with x's dtype");
  TANGENT_CHECK(!indices || (indices->dtype() == kInt64 && indices->shape() == out.shape() && indices->is_contiguous()),
                op, " (cpu): indices must be a contiguous int64 tensor of shape ", out.shape());
  if (out.numel() == 0) return;
  const Tensor xc = dense(*this, x);
  TANGENT_DISPATCH_FLOATING(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    if (kind == PoolKind::Max) {
      max_pool<T>(g, xc.data_ptr<T>(), out.data_ptr<T>(), indices ? indices->data_ptr<int64_t>() : nullptr);
    } else {
      avg_pool<T>(g, xc.data_ptr<T>(), out.data_ptr<T>());
    }
  });
}

void CpuBackend::avg_pool2d_backward(const Tensor& grad_out, const Pool2dParams& p, const Tensor& grad_in) {
  const PoolGeom g = pool_geom(grad_in.shape(), grad_out.shape(), p, "avg_pool2d_backward");
  TANGENT_CHECK(grad_in.is_contiguous() && grad_in.dtype() == grad_out.dtype(),
                "avg_pool2d_backward (cpu): grad_in must be contiguous with grad_out's dtype");
  if (grad_in.numel() == 0) return;
  const Tensor gyc = dense(*this, grad_out);
  TANGENT_DISPATCH_FLOATING(grad_in.dtype(), "avg_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    avg_pool_backward<T>(g, gyc.data_ptr<T>(), grad_in.data_ptr<T>());
  });
}

}  // namespace tangent::cpu
