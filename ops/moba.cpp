// MoBA attention: input checks, routing, the reference (dense causal softmax attention masked to the selected
// blocks, from ordinary differentiable ops) and the fused CPU kernel (ops/cpu/moba_attention.cpp) with its
// autograd node. The node's backward runs the fused backward kernel; under create_graph it is written with
// differentiable ops instead (the reference's probabilities and the softmax backward), so higher-order gradients
// work. Routing is computed once, without gradients, and shared by the forward and backward.
#include "ops/moba.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "autograd/grad_mode.h"
#include "core/error.h"
#include "ops/attention_internal.h"
#include "ops/cpu/moba_attention.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/internal.h"
#include "ops/linalg.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace tangent {

namespace {

struct MobaDims {
  int64_t B = 0, H = 0, Hkv = 0, L = 0, D = 0, Dv = 0;
  double scale = 0;
};

// Validates q, k (and v when given) and the MoBA options; `op` names the caller in errors.
MobaDims check_inputs(const Tensor& q, const Tensor& k, const Tensor* v, const AttentionOptions& o, const char* op) {
  detail::check_defined(q, op, "q");
  detail::check_defined(k, op, "k");
  if (v) detail::check_defined(*v, op, "v");
  TANGENT_CHECK(q.dim() == 4, op, ": expected q of shape [B, H, L, D], got shape ", q.shape());
  TANGENT_CHECK(k.dim() == 4, op, ": expected k of shape [B, Hkv, L, D], got shape ", k.shape());
  TANGENT_CHECK(!v || v->dim() == 4, op, ": expected v of shape [B, Hkv, L, Dv], got shape ", v->shape());
  TANGENT_CHECK(q.dtype() == kFloat32 || q.dtype() == kFloat64, op, ": expected float32 or float64 q, got ",
                q.dtype());
  TANGENT_CHECK(k.dtype() == q.dtype() && (!v || v->dtype() == q.dtype()), op,
                ": q, k and v must share a dtype, got q ", q.dtype(), ", k ", k.dtype(),
                v ? std::string(", v ") + dtype_name(v->dtype()) : std::string());
  detail::check_same_device(q, k, op);
  if (v) detail::check_same_device(q, *v, op);
  TANGENT_CHECK(q.device().type == DeviceType::CPU, op, ": only CPU tensors are supported, got q on ", q.device());
  MobaDims d;
  d.B = q.size(0);
  d.H = q.size(1);
  d.Hkv = k.size(1);
  d.L = q.size(2);
  d.D = q.size(3);
  d.Dv = v ? v->size(3) : d.D;
  TANGENT_CHECK(k.size(0) == d.B && k.size(3) == d.D, op, ": k of shape ", k.shape(),
                " does not match q of shape ", q.shape(), " (expected [B, Hkv, L, D] with q's B and D)");
  TANGENT_CHECK(d.Hkv >= 1 && d.H % d.Hkv == 0, op, ": the query heads (", d.H, ", q shape ", q.shape(),
                ") must be a multiple of the key/value heads (", d.Hkv, ", k shape ", k.shape(), ")");
  TANGENT_CHECK(k.size(2) == d.L, op, ": MoBA is causal self-attention, so the query length (", d.L, ", q shape ",
                q.shape(), ") must equal the key length (", k.size(2), ", k shape ", k.shape(), ")");
  if (v)
    TANGENT_CHECK(v->size(0) == d.B && v->size(1) == d.Hkv && v->size(2) == d.L, op, ": v of shape ", v->shape(),
                  " does not match k of shape ", k.shape(), " (expected [B, Hkv, L, Dv])");
  TANGENT_CHECK(o.moba_block_size >= 1, op, ": moba_block_size must be positive, got ", o.moba_block_size);
  TANGENT_CHECK(o.moba_top_k >= 1, op, ": moba_top_k must be positive (it counts the query's own block), got ",
                o.moba_top_k);
  TANGENT_CHECK(!o.key_padding_mask.defined(), op,
                ": key_padding_mask is not supported (MoBA mean-pools keys by block; run padded sequences "
                "separately or pad at the end, where causal queries never see the padding)");
  TANGENT_CHECK(d.L <= std::numeric_limits<int32_t>::max(), op, ": sequence length ", d.L, " is too long");
  d.scale = std::isnan(o.scale) ? 1.0 / std::sqrt(static_cast<double>(d.D)) : o.scale;
  TANGENT_CHECK(std::isfinite(d.scale), op, ": scale must be finite, got ", o.scale);
  return d;
}

template <typename F>
void dispatch_floating(DType dtype, const F& f) {
  if (dtype == kFloat64)
    f(double{});
  else
    f(float{});
}

std::shared_ptr<const cpu::MobaRouting> route(const Tensor& q, const Tensor& k, const MobaDims& d,
                                              const AttentionOptions& o) {
  NoGradGuard no_grad;
  const Tensor qc = q.detach().contiguous(), kc = k.detach().contiguous();
  auto r = std::make_shared<cpu::MobaRouting>();
  // A block longer than the sequence is the same as one block covering it (and keeps index arithmetic small).
  const int64_t block = std::min(o.moba_block_size, std::max<int64_t>(d.L, 1));
  dispatch_floating(q.dtype(), [&](auto tag) {
    using T = decltype(tag);
    cpu::moba_route<T>(qc.data_ptr<T>(), kc.data_ptr<T>(), d.B, d.H, d.Hkv, d.L, d.D, block, o.moba_top_k, *r);
  });
  return r;
}

// [B, H, L, L] bool, true where query i may NOT see key j (j > i, or j's block not selected by i).
Tensor blocked_keys(const cpu::MobaRouting& r) {
  const int64_t BH = r.batch * r.heads, L = r.length, bs = r.block;
  Tensor mask = full({r.batch, r.heads, L, L}, true, TensorOptions(kBool));
  bool* m = mask.data_ptr<bool>();
  for (int64_t bh = 0; bh < BH; ++bh)
    for (int64_t t = 0; t < L; ++t) {
      bool* row = m + (bh * L + t) * L;
      for (int64_t j = (t / bs) * bs; j <= t; ++j) row[j] = false;
      for (int64_t s = 0; s < r.past; ++s) {
        const int64_t n = r.selected[(bh * L + t) * r.past + s];
        if (n < 0) continue;
        for (int64_t j = n * bs; j < std::min(L, (n + 1) * bs); ++j) row[j] = false;
      }
    }
  return mask;
}

// The scaled scores with blocked keys at -inf, [B, H, L, L] (differentiable in q and k).
Tensor masked_scores(const Tensor& q, const Tensor& k, const Tensor& blocked, double scale) {
  const Tensor s = mul(matmul(q, transpose(detail::expand_kv_heads(k, q.size(1)), -2, -1)), scale);
  return masked_fill(s, blocked, -std::numeric_limits<double>::infinity());
}

std::pair<Tensor, Tensor> reference(const Tensor& q, const Tensor& k, const Tensor& v, const MobaDims& d,
                                    const cpu::MobaRouting& r) {
  const Tensor s = masked_scores(q, k, blocked_keys(r), d.scale);
  const Tensor out = matmul(softmax(s, -1), detail::expand_kv_heads(v, d.H));
  Tensor lse;
  {
    NoGradGuard no_grad;
    lse = logsumexp(s.detach(), {-1});
  }
  return {out, lse};
}

// The backward from differentiable ops (used under create_graph): P from the reference, then
// dV = P^T dO, dP = dO V^T, dS = P (dP - rowsum(P dP)), dQ = scale dS K, dK = scale dS^T Q.
std::vector<Tensor> differentiable_backward(const Tensor& g, const Tensor& q, const Tensor& k, const Tensor& v,
                                            const MobaDims& d, const cpu::MobaRouting& r) {
  const Tensor p = softmax(masked_scores(q, k, blocked_keys(r), d.scale), -1);
  const Tensor dp = matmul(g, transpose(detail::expand_kv_heads(v, d.H), -2, -1));
  const Tensor ds = mul(p, sub(dp, sum(mul(dp, p), {-1}, true)));
  return {mul(matmul(ds, detail::expand_kv_heads(k, d.H)), d.scale),
          detail::sum_kv_heads(mul(matmul(transpose(ds, -2, -1), q), d.scale), d.Hkv),
          detail::sum_kv_heads(matmul(transpose(p, -2, -1), g), d.Hkv)};
}

std::vector<Tensor> fused_backward(const Tensor& g, const Tensor& q, const Tensor& k, const Tensor& v,
                                   const Tensor& out, const Tensor& lse, const MobaDims& d,
                                   const cpu::MobaRouting& r) {
  const DType dt = q.dtype();
  const Tensor qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous(), oc = out.contiguous(),
               gc = detail::cast_raw(g, dt).contiguous();
  Tensor dq = detail::new_empty(q.shape(), dt, q.device()), dk = detail::new_empty(k.shape(), dt, k.device()),
         dv = detail::new_empty(v.shape(), dt, v.device());
  dispatch_floating(dt, [&](auto tag) {
    using T = decltype(tag);
    cpu::moba_backward<T>(qc.data_ptr<T>(), kc.data_ptr<T>(), vc.data_ptr<T>(), oc.data_ptr<T>(), lse.data_ptr<T>(),
                          gc.data_ptr<T>(), dq.data_ptr<T>(), dk.data_ptr<T>(), dv.data_ptr<T>(), r, d.D, d.Dv,
                          static_cast<T>(d.scale));
  });
  return {dq, dk, dv};
}

std::pair<Tensor, Tensor> fused(const Tensor& q, const Tensor& k, const Tensor& v, const MobaDims& d,
                                std::shared_ptr<const cpu::MobaRouting> r) {
  const DType dt = q.dtype();
  Tensor out = detail::new_empty({d.B, d.H, d.L, d.Dv}, dt, q.device());
  Tensor lse = detail::new_empty({d.B, d.H, d.L}, dt, q.device());
  {
    NoGradGuard no_grad;
    const Tensor qc = q.detach().contiguous(), kc = k.detach().contiguous(), vc = v.detach().contiguous();
    dispatch_floating(dt, [&](auto tag) {
      using T = decltype(tag);
      cpu::moba_forward<T>(qc.data_ptr<T>(), kc.data_ptr<T>(), vc.data_ptr<T>(), out.data_ptr<T>(),
                           lse.data_ptr<T>(), *r, d.D, d.Dv, static_cast<T>(d.scale));
    });
  }
  if (autograd::needs_grad(q, k, v)) {
    autograd::record(
        "moba_attention", out, {q, k, v}, {q, k, v, lse},
        [d, r](const Tensor& g, autograd::Context& ctx) {
          const Tensor q = ctx.saved(0), k = ctx.saved(1), v = ctx.saved(2);
          if (GradMode::is_enabled()) return differentiable_backward(g, q, k, v, d, *r);
          NoGradGuard no_grad;
          return fused_backward(g, q, k, v, ctx.output(), ctx.saved(3), d, *r);
        },
        /*save_output=*/true);
  }
  return {out, lse};
}

}  // namespace

Tensor moba_select_blocks(const Tensor& q, const Tensor& k, const AttentionOptions& options) {
  const MobaDims d = check_inputs(q, k, nullptr, options, "moba_select_blocks");
  const auto r = route(q, k, d, options);
  Tensor mask = zeros({d.B, d.H, d.L, r->nblocks}, TensorOptions(kBool));
  bool* m = mask.data_ptr<bool>();
  for (int64_t bh = 0; bh < d.B * d.H; ++bh)
    for (int64_t t = 0; t < d.L; ++t) {
      bool* row = m + (bh * d.L + t) * r->nblocks;
      row[t / r->block] = true;
      for (int64_t s = 0; s < r->past; ++s) {
        const int32_t n = r->selected[(bh * d.L + t) * r->past + s];
        if (n >= 0) row[n] = true;
      }
    }
  return mask;
}

std::pair<Tensor, Tensor> moba_attention_with_lse(const Tensor& q, const Tensor& k, const Tensor& v,
                                                  const AttentionOptions& options) {
  const MobaDims d = check_inputs(q, k, &v, options, "moba_attention");
  auto r = route(q, k, d, options);
  if (!options.fused) return reference(q, k, v, d, *r);
  return fused(q, k, v, d, std::move(r));
}

Tensor moba_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& options) {
  return moba_attention_with_lse(q, k, v, options).first;
}

}  // namespace tangent
