// Attention: input checks, the unfused reference (ordinary differentiable ops), and the fused path, which runs
// the backend's attention_forward/attention_backward primitives (ops/cpu/flash_attention.cpp on CPU) when the
// backend supports them for the dtype, and records one autograd node producing dq, dk and dv. Under create_graph that
// node's backward is composed from ordinary ops (attention_reference_backward below) so that double backward works.
#include "ops/attention.h"

#include <cmath>
#include <limits>
#include <vector>

#include "autograd/forward_ad.h"
#include "autograd/grad_mode.h"
#include "core/backend.h"
#include "core/error.h"
#include "ops/attention_internal.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/internal.h"
#include "ops/linalg.h"
#include "ops/moba.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace tangent {

const char* attention_kind_name(AttentionKind kind) {
  switch (kind) {
    case AttentionKind::Softmax:
      return "softmax";
    case AttentionKind::Sigmoid:
      return "sigmoid";
    case AttentionKind::MoBA:
      return "moba";
  }
  return "?";
}

AttentionKind parse_attention_kind(const std::string& name) {
  if (name == "softmax") return AttentionKind::Softmax;
  if (name == "sigmoid") return AttentionKind::Sigmoid;
  if (name == "moba") return AttentionKind::MoBA;
  TANGENT_FAIL("attention: unknown kind '", name, "' (expected softmax, sigmoid or moba)");
}

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

void check_inputs(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o, const char* op) {
  detail::check_defined(q, op, "q");
  detail::check_defined(k, op, "k");
  detail::check_defined(v, op, "v");
  TANGENT_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, op,
                ": expected 4-D q [B, H, Lq, D], k and v [B, Hkv, Lk, D], got shapes ", q.shape(), ", ", k.shape(),
                " and ", v.shape());
  TANGENT_CHECK(q.dtype() == k.dtype() && q.dtype() == v.dtype(), op, ": q, k and v must share a dtype, got ",
                q.dtype(), ", ", k.dtype(), " and ", v.dtype());
  TANGENT_CHECK(q.dtype() == DType::Float32 || q.dtype() == DType::Float64, op,
                ": expected float32 or float64 inputs, got dtype ", q.dtype());
  detail::check_same_device(q, k, op);
  detail::check_same_device(q, v, op);
  TANGENT_CHECK(k.shape() == v.shape(), op, ": k and v must have the same shape, got ", k.shape(), " and ", v.shape());
  TANGENT_CHECK(q.size(0) == k.size(0), op, ": q of shape ", q.shape(), " and k of shape ", k.shape(),
                " differ in batch size");
  TANGENT_CHECK(q.size(3) == k.size(3), op, ": q of shape ", q.shape(), " and k of shape ", k.shape(),
                " differ in head dim D");
  TANGENT_CHECK(k.size(1) > 0 && q.size(1) % k.size(1) == 0, op, ": the number of query heads (", q.size(1),
                ", q shape ", q.shape(), ") must be a multiple of the number of key/value heads (", k.size(1),
                ", k shape ", k.shape(), ")");
  if (o.key_padding_mask.defined()) {
    const Tensor& m = o.key_padding_mask;
    TANGENT_CHECK(m.dtype() == DType::Bool, op, ": key_padding_mask must be bool, got dtype ", m.dtype());
    TANGENT_CHECK(m.dim() == 2 && m.size(0) == k.size(0) && m.size(1) == k.size(2), op,
                  ": key_padding_mask must have shape [B, Lk] = [", k.size(0), ", ", k.size(2), "], got ", m.shape());
    detail::check_same_device(q, m, op);
  }
  TANGENT_CHECK(std::isnan(o.scale) || std::isfinite(o.scale), op, ": scale must be finite, got ", o.scale);
}

double scale_of(const Tensor& q, const AttentionOptions& o) {
  return std::isnan(o.scale) ? 1.0 / std::sqrt(static_cast<double>(q.size(3))) : o.scale;
}

double sigmoid_bias_of(const Tensor& k, const AttentionOptions& o) {
  if (!std::isnan(o.sigmoid_bias)) return o.sigmoid_bias;
  return -std::log(static_cast<double>(std::max<int64_t>(k.size(2), 1)));
}

// True where (query i, key j) is masked: [B or 1, 1, Lq, Lk] bool, or undefined when nothing is.
Tensor disallowed(const Tensor& q, const Tensor& k, const AttentionOptions& o) {
  const int64_t Lq = q.size(2), Lk = k.size(2);
  Tensor mask;
  if (o.causal) {
    const TensorOptions opt = TensorOptions(DType::Int64).device(q.device());
    mask = gt(reshape(arange(0, Lk, 1, opt), {1, 1, 1, Lk}), reshape(arange(0, Lq, 1, opt), {1, 1, Lq, 1}));
  }
  if (o.key_padding_mask.defined()) {
    const Tensor pad = reshape(o.key_padding_mask, {k.size(0), 1, 1, Lk});
    mask = mask.defined() ? logical_or(mask, pad) : pad;
  }
  return mask;
}

// The attention weights P [B, H, Lq, Lk] (masked entries exactly 0) and, for softmax, the masked scaled scores
// whose row logsumexp is the LSE; `all_masked` [.., Lq, 1] marks rows with no allowed key.
struct Weights {
  Tensor p, scores, all_masked;
};

Weights attention_weights(const Tensor& q, const Tensor& k, const AttentionOptions& o) {
  const Tensor ke = detail::expand_kv_heads(k, q.size(1));
  Tensor s = mul(matmul(q, transpose(ke, -2, -1)), scale_of(q, o));
  const Tensor mask = disallowed(q, k, o);
  Weights w;
  if (o.kind == AttentionKind::Sigmoid) {
    w.p = sigmoid(add(s, sigmoid_bias_of(k, o)));
    if (mask.defined()) w.p = masked_fill(w.p, mask, 0.0);
    return w;
  }
  if (mask.defined()) {
    // A row with every key masked would be softmax(-inf, ..., -inf) = NaN: leave its scores unmasked for the
    // softmax (finite, so no NaN reaches the gradient either), then zero its weights like every masked entry.
    const Tensor allowed = logical_not(mask);
    w.all_masked = logical_not(gt(sum(to_dtype(allowed, q.dtype()), {-1}, true), 0.0));
    s = masked_fill(s, logical_and(mask, logical_not(w.all_masked)), -kInf);
    w.p = masked_fill(softmax(s, -1), mask, 0.0);
  } else {
    w.p = softmax(s, -1);
  }
  w.scores = s;
  return w;
}

// dq, dk, dv of attention for output gradient g, composed from ordinary (differentiable) ops.
std::vector<Tensor> attention_reference_backward(const Tensor& g, const Tensor& q, const Tensor& k, const Tensor& v,
                                                 const AttentionOptions& o) {
  const int64_t H = q.size(1), Hkv = k.size(1);
  const double scale = scale_of(q, o);
  const Weights w = attention_weights(q, k, o);
  const Tensor ke = detail::expand_kv_heads(k, H), ve = detail::expand_kv_heads(v, H);
  const Tensor dv = detail::sum_kv_heads(matmul(transpose(w.p, -2, -1), g), Hkv);
  const Tensor dp = matmul(g, transpose(ve, -2, -1));
  Tensor ds;
  if (o.kind == AttentionKind::Sigmoid) {
    ds = mul(mul(w.p, neg(sub(w.p, 1.0))), dp);
  } else {
    ds = mul(w.p, sub(dp, sum(mul(dp, w.p), {-1}, true)));
  }
  ds = mul(ds, scale);
  const Tensor dq = matmul(ds, ke);
  const Tensor dk = detail::sum_kv_heads(matmul(transpose(ds, -2, -1), q), Hkv);
  return {dq, dk, dv};
}

AttentionParams params_of(const Tensor& q, const Tensor& k, const AttentionOptions& o) {
  AttentionParams p;
  p.causal = o.causal;
  p.sigmoid = o.kind == AttentionKind::Sigmoid;
  p.scale = scale_of(q, o);
  p.bias = p.sigmoid ? sigmoid_bias_of(k, o) : 0.0;
  return p;
}

// The fused forward without recording: out and (softmax) lse.
std::pair<Tensor, Tensor> fused_forward(const Tensor& qc, const Tensor& kc, const Tensor& vc, const Tensor& mask,
                                        const AttentionParams& p) {
  Tensor out = detail::new_empty(qc.shape(), qc.dtype(), qc.device());
  Tensor lse;
  if (!p.sigmoid) lse = detail::new_empty({qc.size(0), qc.size(1), qc.size(2)}, qc.dtype(), qc.device());
  backend_for(qc).attention_forward(qc, kc, vc, mask.defined() ? &mask : nullptr, p, out, lse);
  return {out, lse};
}

// The fused kernels when asked for and the tensors' backend has them for this dtype; the reference otherwise.
bool use_fused(const Tensor& q, const AttentionOptions& o) {
  if (autograd::forward::any_level_open() && autograd::forward::active())
    return false;  // jvp: the composite reference carries the tangents
  return o.fused && backend_for(q).supports(Primitive::Attention, q.dtype());
}

Tensor fused_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
  const AttentionParams p = params_of(q, k, o);
  const Tensor mask = o.key_padding_mask.defined() ? o.key_padding_mask.contiguous() : Tensor();
  const Tensor qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous();
  auto [out, lse] = fused_forward(qc, kc, vc, mask, p);
  if (autograd::needs_grad(q, k, v)) {
    AttentionOptions opts = o;
    opts.key_padding_mask = mask;
    autograd::record(
        "scaled_dot_product_attention", out, {q, k, v}, {qc, kc, vc},
        [opts, p, lse = lse, mask](const Tensor& g, autograd::Context& ctx) {
          const Tensor q = ctx.saved(0), k = ctx.saved(1), v = ctx.saved(2);
          return detail::fused_unless_create_graph(
              [&] {
                Tensor dq = detail::new_empty(q.shape(), q.dtype(), q.device());
                Tensor dk = detail::new_empty(k.shape(), k.dtype(), k.device());
                Tensor dv = detail::new_empty(v.shape(), v.dtype(), v.device());
                backend_for(q).attention_backward(g.contiguous(), q, k, v, ctx.output(), lse,
                                                  mask.defined() ? &mask : nullptr, p, dq, dk, dv);
                return std::vector<Tensor>{dq, dk, dv};
              },
              [&] { return attention_reference_backward(g, q, k, v, opts); });
        },
        /*save_output=*/true);
  }
  return out;
}

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& options) {
  // MoBA checks its own inputs (it allows a different value dim and rejects padding masks).
  if (options.kind == AttentionKind::MoBA) return moba_attention(q, k, v, options);
  check_inputs(q, k, v, options, "scaled_dot_product_attention");
  if (use_fused(q, options)) return fused_attention(q, k, v, options);
  return attention_reference(q, k, v, options);
}

Tensor attention_reference(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& options) {
  check_inputs(q, k, v, options, "attention_reference");
  TANGENT_CHECK(options.kind != AttentionKind::MoBA,
                "attention_reference: kind moba has its own reference (moba_attention with fused = false)");
  const Weights w = attention_weights(q, k, options);
  return matmul(w.p, detail::expand_kv_heads(v, q.size(1)));
}

std::pair<Tensor, Tensor> attention_with_lse(const Tensor& q, const Tensor& k, const Tensor& v,
                                             const AttentionOptions& options) {
  check_inputs(q, k, v, options, "attention_with_lse");
  TANGENT_CHECK(options.kind == AttentionKind::Softmax, "attention_with_lse: only kind softmax has an LSE, got ",
                attention_kind_name(options.kind));
  NoGradGuard no_grad;
  if (use_fused(q, options)) {
    const Tensor mask = options.key_padding_mask.defined() ? options.key_padding_mask.contiguous() : Tensor();
    return fused_forward(q.contiguous(), k.contiguous(), v.contiguous(), mask, params_of(q, k, options));
  }
  const Weights w = attention_weights(q, k, options);
  Tensor lse = logsumexp(w.scores, {-1}, false);
  if (w.all_masked.defined()) lse = masked_fill(lse, squeeze(w.all_masked, -1), kInf);
  return {matmul(w.p, detail::expand_kv_heads(v, q.size(1))), lse};
}

}  // namespace tangent
