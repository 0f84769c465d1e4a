// MoBA attention: input checks, routing, the reference (dense causal softmax attention masked to the selected
// blocks, from ordinary differentiable ops) and the fused path, which runs the backend's moba_forward and
// moba_backward primitives (ops/cpu/moba_attention.cpp on CPU) and records one autograd node; under create_graph
// that node's backward is written with differentiable ops (the reference's probabilities and the softmax backward),
// so higher-order gradients work. Routing is computed once, without gradients, and shared by the forward and
// backward: by the backend's moba_route primitive when it has one, else composed from ordinary ops.
#include "ops/moba.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
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
  TANGENT_CHECK(q.dtype() == kFloat32 || q.dtype() == kFloat64, op, ": expected float32 or float64 q, got ", q.dtype());
  TANGENT_CHECK(k.dtype() == q.dtype() && (!v || v->dtype() == q.dtype()), op,
                ": q, k and v must share a dtype, got q ", q.dtype(), ", k ", k.dtype(),
                v ? std::string(", v ") + dtype_name(v->dtype()) : std::string());
  detail::check_same_device(q, k, op);
  if (v) detail::check_same_device(q, *v, op);
  MobaDims d;
  d.B = q.size(0);
  d.H = q.size(1);
  d.Hkv = k.size(1);
  d.L = q.size(2);
  d.D = q.size(3);
  d.Dv = v ? v->size(3) : d.D;
  TANGENT_CHECK(k.size(0) == d.B && k.size(3) == d.D, op, ": k of shape ", k.shape(), " does not match q of shape ",
                q.shape(), " (expected [B, Hkv, L, D] with q's B and D)");
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

bool has_fused(const Tensor& q) { return backend_for(q).supports(Primitive::Moba, q.dtype()); }

// Host-built int64 vector [n] on `device`: v[i] = f(i).
template <typename F>
Tensor index_vector(int64_t n, Device device, const F& f) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = f(i);
  return tensor(v, {n}).to(device);
}

// The routing's `selected` [B, H, L, past] from ordinary ops (for backends without moba_route): gates against the
// block means of the keys, candidates the blocks before the query's own, the past highest picked one at a time
// (argmax over the blocks in reverse order, so ties go to the later block), -1 when no candidate is left.
Tensor route_composite(const Tensor& q, const Tensor& k, const MobaDims& d, const MobaRouting& r) {
  const TensorOptions opt = TensorOptions(kInt64).device(q.device());
  if (r.past == 0) return empty({d.B, d.H, d.L, 0}, opt);
  const int64_t bs = r.block, nb = r.nblocks, padded = nb * bs;
  Tensor kp = k;
  if (padded > d.L) kp = cat({k, zeros({d.B, d.Hkv, padded - d.L, d.D}, k.options())}, 2);
  const Tensor lengths =
      to_dtype(index_vector(nb, q.device(), [&](int64_t n) { return std::min(bs, d.L - n * bs); }), q.dtype());
  const Tensor means = div(sum(reshape(kp, {d.B, d.Hkv, nb, bs, d.D}), {3}), reshape(lengths, {1, 1, nb, 1}));
  Tensor gates = matmul(q, transpose(detail::expand_kv_heads(means, d.H), -2, -1));  // [B, H, L, nb]
  const Tensor candidate =
      lt(reshape(arange(0, nb, 1, opt), {1, 1, 1, nb}),
         reshape(index_vector(d.L, q.device(), [&](int64_t t) { return t / bs; }), {1, 1, d.L, 1}));
  const double inf = std::numeric_limits<double>::infinity();
  Tensor g = index_select(masked_fill(gates, logical_not(candidate), -inf), 3,
                          index_vector(nb, q.device(), [&](int64_t n) { return nb - 1 - n; }));
  const Tensor positions = reshape(arange(0, nb, 1, opt), {1, 1, 1, nb});
  std::vector<Tensor> picks;
  for (int64_t s = 0; s < r.past; ++s) {
    const Tensor i = argmax(g, 3, true);  // [B, H, L, 1], in reversed block order
    const Tensor none = eq(gather(g, 3, i), -inf);
    picks.push_back(where(none, full(i.shape(), -1, opt), neg(sub(i, nb - 1))));
    g = masked_fill(g, eq(positions, i), -inf);
  }
  return cat(picks, 3);
}

MobaRouting route(const Tensor& q, const Tensor& k, const MobaDims& d, const AttentionOptions& o) {
  NoGradGuard no_grad;
  MobaRouting r;
  // A block longer than the sequence is the same as one block covering it (and keeps index arithmetic small).
  r.block = std::min(o.moba_block_size, std::max<int64_t>(d.L, 1));
  r.nblocks = (d.L + r.block - 1) / r.block;
  r.past = std::max<int64_t>(0, std::min(o.moba_top_k - 1, r.nblocks - 1));
  const Tensor qc = q.detach().contiguous(), kc = k.detach().contiguous();
  if (!has_fused(q)) {
    r.selected = route_composite(qc, kc, d, r);
    return r;
  }
  const TensorOptions opt = TensorOptions(kInt64).device(q.device());
  r.selected = empty({d.B, d.H, d.L, r.past}, opt);
  r.col_offsets = empty({d.B, d.H, r.nblocks + 1}, opt);
  r.rows = empty({d.B, d.H, d.L * r.past}, opt);
  backend_for(q).moba_route(qc, kc, r);
  return r;
}

// [B, H, L, nblocks] bool: the past blocks each query selected.
Tensor selected_blocks(const MobaRouting& r, const MobaDims& d) {
  const TensorOptions opt = TensorOptions(kBool).device(r.selected.device());
  if (r.past == 0) return zeros({d.B, d.H, d.L, r.nblocks}, opt);
  // Block -1 (no selection) becomes class 0 of one_hot and is dropped.
  const Tensor hits = sum(one_hot(add(r.selected, 1), r.nblocks + 1), {3});  // [B, H, L, nblocks + 1]
  return gt(narrow(hits, 3, 1, r.nblocks), 0);
}

// [B, H, L, L] bool (or broadcastable to it), true where query t may NOT see key j (j > t, or j's block neither
// t's own nor selected by t).
Tensor blocked_keys(const MobaRouting& r, const MobaDims& d) {
  const Device dev = r.selected.device();
  const TensorOptions opt = TensorOptions(kInt64).device(dev);
  const Tensor block_of = index_vector(d.L, dev, [&](int64_t j) { return j / r.block; });
  const Tensor pos = arange(0, d.L, 1, opt);
  const Tensor own = logical_and(eq(reshape(block_of, {1, 1, 1, d.L}), reshape(block_of, {1, 1, d.L, 1})),
                                 le(reshape(pos, {1, 1, 1, d.L}), reshape(pos, {1, 1, d.L, 1})));
  if (r.past == 0) return logical_not(own);
  return logical_not(logical_or(own, index_select(selected_blocks(r, d), 3, block_of)));
}

// The scaled scores with blocked keys at -inf, [B, H, L, L] (differentiable in q and k).
Tensor masked_scores(const Tensor& q, const Tensor& k, const Tensor& blocked, double scale) {
  const Tensor s = mul(matmul(q, transpose(detail::expand_kv_heads(k, q.size(1)), -2, -1)), scale);
  return masked_fill(s, blocked, -std::numeric_limits<double>::infinity());
}

std::pair<Tensor, Tensor> reference(const Tensor& q, const Tensor& k, const Tensor& v, const MobaDims& d,
                                    const MobaRouting& r) {
  const Tensor s = masked_scores(q, k, blocked_keys(r, d), d.scale);
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
                                            const MobaDims& d, const MobaRouting& r) {
  const Tensor p = softmax(masked_scores(q, k, blocked_keys(r, d), d.scale), -1);
  const Tensor dp = matmul(g, transpose(detail::expand_kv_heads(v, d.H), -2, -1));
  const Tensor ds = mul(p, sub(dp, sum(mul(dp, p), {-1}, true)));
  return {mul(matmul(ds, detail::expand_kv_heads(k, d.H)), d.scale),
          detail::sum_kv_heads(mul(matmul(transpose(ds, -2, -1), q), d.scale), d.Hkv),
          detail::sum_kv_heads(matmul(transpose(p, -2, -1), g), d.Hkv)};
}

std::vector<Tensor> fused_backward(const Tensor& g, const Tensor& q, const Tensor& k, const Tensor& v,
                                   const Tensor& out, const Tensor& lse, const MobaDims& d, const MobaRouting& r) {
  const DType dt = q.dtype();
  const Tensor qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous(), oc = out.contiguous(),
               gc = detail::cast_raw(g, dt).contiguous();
  Tensor dq = detail::new_empty(q.shape(), dt, q.device()), dk = detail::new_empty(k.shape(), dt, k.device()),
         dv = detail::new_empty(v.shape(), dt, v.device());
  backend_for(q).moba_backward(gc, qc, kc, vc, oc, lse, r, d.scale, dq, dk, dv);
  return {dq, dk, dv};
}

std::pair<Tensor, Tensor> fused(const Tensor& q, const Tensor& k, const Tensor& v, const MobaDims& d,
                                std::shared_ptr<const MobaRouting> r) {
  const DType dt = q.dtype();
  Tensor out = detail::new_empty({d.B, d.H, d.L, d.Dv}, dt, q.device());
  Tensor lse = detail::new_empty({d.B, d.H, d.L}, dt, q.device());
  {
    NoGradGuard no_grad;
    const Tensor qc = q.detach().contiguous(), kc = k.detach().contiguous(), vc = v.detach().contiguous();
    backend_for(q).moba_forward(qc, kc, vc, *r, d.scale, out, lse);
  }
  if (autograd::needs_grad(q, k, v)) {
    autograd::record(
        "moba_attention", out, {q, k, v}, {q, k, v, lse},
        [d, r](const Tensor& g, autograd::Context& ctx) {
          const Tensor q = ctx.saved(0), k = ctx.saved(1), v = ctx.saved(2);
          return detail::fused_unless_create_graph(
              [&] { return fused_backward(g, q, k, v, ctx.output(), ctx.saved(3), d, *r); },
              [&] { return differentiable_backward(g, q, k, v, d, *r); });
        },
        /*save_output=*/true);
  }
  return {out, lse};
}

}  // namespace

Tensor moba_select_blocks(const Tensor& q, const Tensor& k, const AttentionOptions& options) {
  const MobaDims d = check_inputs(q, k, nullptr, options, "moba_select_blocks");
  NoGradGuard no_grad;
  const MobaRouting r = route(q, k, d, options);
  if (r.nblocks == 0) return zeros({d.B, d.H, d.L, 0}, TensorOptions(kBool).device(q.device()));
  const Tensor own = one_hot(index_vector(d.L, q.device(), [&](int64_t t) { return t / r.block; }), r.nblocks);
  return logical_or(expand(gt(reshape(own, {1, 1, d.L, r.nblocks}), 0), {d.B, d.H, d.L, r.nblocks}),
                    selected_blocks(r, d));
}

std::pair<Tensor, Tensor> moba_attention_with_lse(const Tensor& q, const Tensor& k, const Tensor& v,
                                                  const AttentionOptions& options) {
  const MobaDims d = check_inputs(q, k, &v, options, "moba_attention");
  MobaRouting r = route(q, k, d, options);
  // Under forward mode the reference (ordinary differentiable ops) carries the tangents.
  if (!options.fused || !has_fused(q) || autograd::forward::any_dual({q, k, v})) return reference(q, k, v, d, r);
  return fused(q, k, v, d, std::make_shared<const MobaRouting>(std::move(r)));
}

Tensor moba_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& options) {
  return moba_attention_with_lse(q, k, v, options).first;
}

}  // namespace tangent
