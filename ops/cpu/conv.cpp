// CPU 2-D convolution (NCHW): forward, backward-data and backward-weights. float32 runs on oneDNN's convolution
// primitives with plain layouts (nchw / oihw, goihw for groups), cached per geometry; float16/bfloat16 are computed
// in float32; float64 uses the direct loops below (oneDNN has no f64 convolution; it is used for gradchecks).
// oneDNN's dilation is the "extra" dilation: ours minus one.
#include <algorithm>

#include "core/parallel.h"
#include "ops/cpu/cpu_backend.h"
#include "ops/cpu/dnnl_common.h"

namespace tangent::cpu {

namespace {

using namespace dnnl_util;
using dnnl::memory;

// The geometry of one convolution, read from x [N,C,H,W], weight [O,C/g,kH,kW] and y [N,O,Ho,Wo].
struct ConvGeom {
  int64_t N, C, H, W, O, kH, kW, Ho, Wo, G;
  Conv2dParams p;
};

ConvGeom geom_of(const Shape& x, const Shape& w, const Shape& y, const Conv2dParams& p, const char* op) {
  TANGENT_CHECK(x.size() == 4 && w.size() == 4 && y.size() == 4, op, ": expected 4-D input, weight and output, got ", x,
                ", ", w, " and ", y);
  ConvGeom g{x[0], x[1], x[2], x[3], w[0], w[2], w[3], y[2], y[3], p.groups, p};
  TANGENT_CHECK(g.G >= 1 && g.C == w[1] * g.G && g.O % g.G == 0 && y[0] == g.N && y[1] == g.O, op,
                ": inconsistent shapes: input ", x, ", weight ", w, ", output ", y, ", groups ", g.G);
  for (int d = 0; d < 2; ++d) {
    const int64_t in = x[2 + d], k = w[2 + d], out = y[2 + d];
    const int64_t expect = (in + 2 * p.padding[d] - p.dilation[d] * (k - 1) - 1) / p.stride[d] + 1;
    TANGENT_CHECK(out == expect, op, ": output size ", out, " does not match input ", x, " and weight ", w);
  }
  return g;
}

Key conv_key(OpKind kind, DType dt, const ConvGeom& g, bool bias) {
  Key k;
  k.add(kind).add(static_cast<int64_t>(dt)).add(get_num_threads());
  k.add(g.N).add(g.C).add(g.H).add(g.W).add(g.O).add(g.kH).add(g.kW).add(g.Ho).add(g.Wo).add(g.G);
  for (int d = 0; d < 2; ++d) k.add(g.p.stride[d]).add(g.p.padding[d]).add(g.p.dilation[d]);
  k.add(bias);
  return k;
}

struct ConvDescs {
  memory::desc x, w, b, y;
  memory::dims stride, dilate, pad_l, pad_r;
};

ConvDescs conv_descs(const ConvGeom& g, memory::data_type dt) {
  ConvDescs d;
  using tag = memory::format_tag;
  d.x = memory::desc({g.N, g.C, g.H, g.W}, dt, tag::nchw);
  d.y = memory::desc({g.N, g.O, g.Ho, g.Wo}, dt, tag::nchw);
  d.w = g.G == 1 ? memory::desc({g.O, g.C, g.kH, g.kW}, dt, tag::oihw)
                 : memory::desc({g.G, g.O / g.G, g.C / g.G, g.kH, g.kW}, dt, tag::goihw);
  d.b = memory::desc({g.O}, dt, tag::x);
  d.stride = {g.p.stride[0], g.p.stride[1]};
  d.dilate = {g.p.dilation[0] - 1, g.p.dilation[1] - 1};
  d.pad_l = {g.p.padding[0], g.p.padding[1]};
  d.pad_r = d.pad_l;  // oneDNN floors (H + pad_l + pad_r - extent) / stride like we do
  return d;
}

dnnl::convolution_forward::primitive_desc fwd_pd(const ConvDescs& d, bool bias) {
  using namespace dnnl;
  const auto desc = bias ? convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, d.x,
                                                     d.w, d.b, d.y, d.stride, d.dilate, d.pad_l, d.pad_r)
                         : convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, d.x,
                                                     d.w, d.y, d.stride, d.dilate, d.pad_l, d.pad_r);
  return convolution_forward::primitive_desc(desc, engine());
}

// A contiguous version of t (t itself when it already is).
Tensor dense(Backend& be, const Tensor& t) {
  if (t.is_contiguous()) return t;
  Tensor c = empty(t.shape(), TensorOptions(t.dtype()).device(t.device()));
  be.copy(t, c);
  return c;
}

// ---- direct loops (float64) ----
// The parallel_for grain for tasks of `work` multiply-adds each: small problems stay on the calling thread.
int64_t grain(int64_t work) { return std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(work, 1)); }

template <typename T>
void conv_fwd_loops(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  const int64_t cpg = g.C / g.G, opg = g.O / g.G;
  const auto& p = g.p;
  parallel_for(g.N * g.O, grain(g.Ho * g.Wo * cpg * g.kH * g.kW), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n = t / g.O, o = t % g.O, c0 = (o / opg) * cpg;
      for (int64_t oh = 0; oh < g.Ho; ++oh)
        for (int64_t ow = 0; ow < g.Wo; ++ow) {
          T acc = bias ? bias[o] : T(0);
          for (int64_t ci = 0; ci < cpg; ++ci)
            for (int64_t kh = 0; kh < g.kH; ++kh) {
              const int64_t ih = oh * p.stride[0] - p.padding[0] + kh * p.dilation[0];
              if (ih < 0 || ih >= g.H) continue;
              for (int64_t kw = 0; kw < g.kW; ++kw) {
                const int64_t iw = ow * p.stride[1] - p.padding[1] + kw * p.dilation[1];
                if (iw < 0 || iw >= g.W) continue;
                acc += x[((n * g.C + c0 + ci) * g.H + ih) * g.W + iw] * w[((o * cpg + ci) * g.kH + kh) * g.kW + kw];
              }
            }
          y[((n * g.O + o) * g.Ho + oh) * g.Wo + ow] = acc;
        }
    }
  });
}

template <typename T>
void conv_bwd_data_loops(const ConvGeom& g, const T* gy, const T* w, T* gx) {
  const int64_t cpg = g.C / g.G, opg = g.O / g.G;
  const auto& p = g.p;
  parallel_for(g.N * g.C, grain(g.H * g.W * opg * g.kH * g.kW), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n = t / g.C, c = t % g.C, ci = c % cpg, o0 = (c / cpg) * opg;
      for (int64_t ih = 0; ih < g.H; ++ih)
        for (int64_t iw = 0; iw < g.W; ++iw) {
          T acc = T(0);
          for (int64_t kh = 0; kh < g.kH; ++kh) {
            const int64_t th = ih + p.padding[0] - kh * p.dilation[0];
            if (th < 0 || th % p.stride[0] != 0 || th / p.stride[0] >= g.Ho) continue;
            const int64_t oh = th / p.stride[0];
            for (int64_t kw = 0; kw < g.kW; ++kw) {
              const int64_t tw = iw + p.padding[1] - kw * p.dilation[1];
              if (tw < 0 || tw % p.stride[1] != 0 || tw / p.stride[1] >= g.Wo) continue;
              const int64_t ow = tw / p.stride[1];
              for (int64_t o = o0; o < o0 + opg; ++o)
                acc += gy[((n * g.O + o) * g.Ho + oh) * g.Wo + ow] * w[((o * cpg + ci) * g.kH + kh) * g.kW + kw];
            }
          }
          gx[((n * g.C + c) * g.H + ih) * g.W + iw] = acc;
        }
    }
  });
}

template <typename T>
void conv_bwd_weight_loops(const ConvGeom& g, const T* gy, const T* x, T* gw, T* gb) {
  const int64_t cpg = g.C / g.G, opg = g.O / g.G;
  const auto& p = g.p;
  parallel_for(g.O * cpg, grain(g.N * g.Ho * g.Wo * g.kH * g.kW), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t o = t / cpg, ci = t % cpg, c = (o / opg) * cpg + ci;
      for (int64_t kh = 0; kh < g.kH; ++kh)
        for (int64_t kw = 0; kw < g.kW; ++kw) {
          T acc = T(0);
          for (int64_t n = 0; n < g.N; ++n)
            for (int64_t oh = 0; oh < g.Ho; ++oh) {
              const int64_t ih = oh * p.stride[0] - p.padding[0] + kh * p.dilation[0];
              if (ih < 0 || ih >= g.H) continue;
              for (int64_t ow = 0; ow < g.Wo; ++ow) {
                const int64_t iw = ow * p.stride[1] - p.padding[1] + kw * p.dilation[1];
                if (iw < 0 || iw >= g.W) continue;
                acc += gy[((n * g.O + o) * g.Ho + oh) * g.Wo + ow] * x[((n * g.C + c) * g.H + ih) * g.W + iw];
              }
            }
          gw[((o * cpg + ci) * g.kH + kh) * g.kW + kw] = acc;
        }
    }
  });
  if (!gb) return;
  for (int64_t o = 0; o < g.O; ++o) {
    T acc = T(0);
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t i = 0; i < g.Ho * g.Wo; ++i) acc += gy[(n * g.O + o) * g.Ho * g.Wo + i];
    gb[o] = acc;
  }
}

bool is_half(DType t) { return t == kFloat16 || t == kBFloat16; }

Tensor empty_f32(const Tensor& like) { return empty(like.shape(), TensorOptions(kFloat32).device(like.device())); }

}  // namespace

void CpuBackend::conv2d(const Tensor& x, const Tensor& weight, const Tensor* bias, const Conv2dParams& p,
                        const Tensor& out) {
  const ConvGeom g = geom_of(x.shape(), weight.shape(), out.shape(), p, "conv2d");
  TANGENT_CHECK(out.is_contiguous(), "conv2d (cpu): out must be contiguous");
  if (out.numel() == 0) return;
  const DType dt = out.dtype();
  if (is_half(dt)) {
    Tensor out32 = empty_f32(out), b32 = bias ? to_float32(*bias) : Tensor();
    conv2d(to_float32(x), to_float32(weight), bias ? &b32 : nullptr, p, out32);
    copy(out32, out);
    return;
  }
  const Tensor xc = dense(*this, x), wc = dense(*this, weight);
  const Tensor bc = bias ? dense(*this, *bias) : Tensor();
  if (dt == kFloat64) {
    conv_fwd_loops<double>(g, xc.data_ptr<double>(), wc.data_ptr<double>(), bias ? bc.data_ptr<double>() : nullptr,
                           out.data_ptr<double>());
    return;
  }
  TANGENT_CHECK(dt == kFloat32, "conv2d (cpu): expected a floating dtype, got ", dt);
  Prim& prim = cache().get(conv_key(kConvFwd, dt, g, bias != nullptr), [&] {
    return guarded("conv2d", [&] {
      const ConvDescs d = conv_descs(g, memory::data_type::f32);
      Prim pr;
      pr.prim = dnnl::convolution_forward(fwd_pd(d, bias != nullptr));
      pr.add_arg(DNNL_ARG_SRC, d.x);
      pr.add_arg(DNNL_ARG_WEIGHTS, d.w);
      pr.add_arg(DNNL_ARG_DST, d.y);
      if (bias) pr.add_arg(DNNL_ARG_BIAS, d.b);
      return pr;
    });
  });
  guarded("conv2d", [&] {
    if (bias) {
      prim.run({{DNNL_ARG_SRC, xc.raw_data()},
                {DNNL_ARG_WEIGHTS, wc.raw_data()},
                {DNNL_ARG_DST, out.raw_data()},
                {DNNL_ARG_BIAS, bc.raw_data()}});
    } else {
      prim.run({{DNNL_ARG_SRC, xc.raw_data()}, {DNNL_ARG_WEIGHTS, wc.raw_data()}, {DNNL_ARG_DST, out.raw_data()}});
    }
  });
}

void CpuBackend::conv2d_backward_input(const Tensor& grad_out, const Tensor& weight, const Conv2dParams& p,
                                       const Tensor& grad_in) {
  const ConvGeom g = geom_of(grad_in.shape(), weight.shape(), grad_out.shape(), p, "conv2d_backward_input");
  TANGENT_CHECK(grad_in.is_contiguous(), "conv2d_backward_input (cpu): grad_in must be contiguous");
  if (grad_in.numel() == 0) return;
  if (grad_out.numel() == 0 || weight.numel() == 0) return fill(grad_in, 0);
  const DType dt = grad_in.dtype();
  if (is_half(dt)) {
    Tensor gi32 = empty_f32(grad_in);
    conv2d_backward_input(to_float32(grad_out), to_float32(weight), p, gi32);
    copy(gi32, grad_in);
    return;
  }
  const Tensor gyc = dense(*this, grad_out), wc = dense(*this, weight);
  if (dt == kFloat64) {
    conv_bwd_data_loops<double>(g, gyc.data_ptr<double>(), wc.data_ptr<double>(), grad_in.data_ptr<double>());
    return;
  }
  TANGENT_CHECK(dt == kFloat32, "conv2d_backward_input (cpu): expected a floating dtype, got ", dt);
  Prim& prim = cache().get(conv_key(kConvBwdData, dt, g, false), [&] {
    return guarded("conv2d_backward_input", [&] {
      const ConvDescs d = conv_descs(g, memory::data_type::f32);
      const dnnl::convolution_backward_data::desc desc(dnnl::algorithm::convolution_direct, d.x, d.w, d.y, d.stride,
                                                       d.dilate, d.pad_l, d.pad_r);
      Prim pr;
      pr.prim = dnnl::convolution_backward_data(
          dnnl::convolution_backward_data::primitive_desc(desc, engine(), fwd_pd(d, false)));
      pr.add_arg(DNNL_ARG_DIFF_DST, d.y);
      pr.add_arg(DNNL_ARG_WEIGHTS, d.w);
      pr.add_arg(DNNL_ARG_DIFF_SRC, d.x);
      return pr;
    });
  });
  guarded("conv2d_backward_input", [&] {
    prim.run({{DNNL_ARG_DIFF_DST, gyc.raw_data()},
              {DNNL_ARG_WEIGHTS, wc.raw_data()},
              {DNNL_ARG_DIFF_SRC, grad_in.raw_data()}});
  });
}

void CpuBackend::conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Conv2dParams& p,
                                        const Tensor& grad_weight, const Tensor* grad_bias) {
  const ConvGeom g = geom_of(x.shape(), grad_weight.shape(), grad_out.shape(), p, "conv2d_backward_weight");
  TANGENT_CHECK(grad_weight.is_contiguous() && (!grad_bias || grad_bias->is_contiguous()),
                "conv2d_backward_weight (cpu): grad_weight and grad_bias must be contiguous");
  TANGENT_CHECK(!grad_bias || (grad_bias->dim() == 1 && grad_bias->size(0) == g.O),
                "conv2d_backward_weight (cpu): grad_bias of shape ", grad_bias ? grad_bias->shape() : Shape{},
                " does not match ", g.O, " output channels");
  if (grad_out.numel() == 0 || x.numel() == 0) {
    fill(grad_weight, 0);
    if (grad_bias) fill(*grad_bias, 0);
    return;
  }
  if (grad_weight.numel() == 0) return;
  const DType dt = grad_weight.dtype();
  if (is_half(dt)) {
    Tensor gw32 = empty_f32(grad_weight), gb32 = grad_bias ? empty_f32(*grad_bias) : Tensor();
    conv2d_backward_weight(to_float32(grad_out), to_float32(x), p, gw32, grad_bias ? &gb32 : nullptr);
    copy(gw32, grad_weight);
    if (grad_bias) copy(gb32, *grad_bias);
    return;
  }
  const Tensor gyc = dense(*this, grad_out), xc = dense(*this, x);
  if (dt == kFloat64) {
    conv_bwd_weight_loops<double>(g, gyc.data_ptr<double>(), xc.data_ptr<double>(), grad_weight.data_ptr<double>(),
                                  grad_bias ? grad_bias->data_ptr<double>() : nullptr);
    return;
  }
  TANGENT_CHECK(dt == kFloat32, "conv2d_backward_weight (cpu): expected a floating dtype, got ", dt);
  const bool has_bias = grad_bias != nullptr;
  Prim& prim = cache().get(conv_key(kConvBwdWeights, dt, g, has_bias), [&] {
    return guarded("conv2d_backward_weight", [&] {
      const ConvDescs d = conv_descs(g, memory::data_type::f32);
      using bw = dnnl::convolution_backward_weights;
      const auto desc =
          has_bias
              ? bw::desc(dnnl::algorithm::convolution_direct, d.x, d.w, d.b, d.y, d.stride, d.dilate, d.pad_l, d.pad_r)
              : bw::desc(dnnl::algorithm::convolution_direct, d.x, d.w, d.y, d.stride, d.dilate, d.pad_l, d.pad_r);
      Prim pr;
      pr.prim = bw(bw::primitive_desc(desc, engine(), fwd_pd(d, has_bias)));
      pr.add_arg(DNNL_ARG_SRC, d.x);
      pr.add_arg(DNNL_ARG_DIFF_DST, d.y);
      pr.add_arg(DNNL_ARG_DIFF_WEIGHTS, d.w);
      if (has_bias) pr.add_arg(DNNL_ARG_DIFF_BIAS, d.b);
      return pr;
    });
  });
  guarded("conv2d_backward_weight", [&] {
    if (has_bias) {
      prim.run({{DNNL_ARG_SRC, xc.raw_data()},
                {DNNL_ARG_DIFF_DST, gyc.raw_data()},
                {DNNL_ARG_DIFF_WEIGHTS, grad_weight.raw_data()},
                {DNNL_ARG_DIFF_BIAS, grad_bias->raw_data()}});
    } else {
      prim.run({{DNNL_ARG_SRC, xc.raw_data()},
                {DNNL_ARG_DIFF_DST, gyc.raw_data()},
                {DNNL_ARG_DIFF_WEIGHTS, grad_weight.raw_data()}});
    }
  });
}

}  // namespace tangent::cpu
