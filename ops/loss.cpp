// The losses: cross-entropy (fused on backends that support it, composed otherwise), nll, mse, l1 and binary
// cross-entropy with logits, each with its backward from the ops it is written with or, for the fused
// cross-entropy, beside it.
#include "ops/loss.h"

#include <cmath>
#include <vector>

#include "autograd/forward_ad.h"
#include "core/backend.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/internal.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace tangent {

Reduction parse_reduction(const std::string& name) {
  if (name == "mean") return Reduction::Mean;
  if (name == "sum") return Reduction::Sum;
  if (name == "none") return Reduction::None;
  TANGENT_FAIL("loss: reduction must be mean, sum or none, got '", name, "'");
}

namespace {
Tensor reduce_loss(const Tensor& loss, Reduction r) {
  switch (r) {
    case Reduction::None:
      return loss;
    case Reduction::Sum:
      return sum(loss);
    case Reduction::Mean:
      return mean(loss);
  }
  return loss;
}

// Moves the class dim of [N, C, d...] to the end and flattens: [N * d..., C].
Tensor classes_last(const Tensor& x) {
  if (x.dim() == 2) return x;
  Shape perm{0};
  for (int64_t d = 2; d < x.dim(); ++d) perm.push_back(d);
  perm.push_back(1);
  return reshape(permute(x, perm), {-1, x.size(1)});
}
}  // namespace

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, Reduction reduction, int64_t ignore_index) {
  TANGENT_CHECK(log_probs.dim() == 2, "nll_loss: expected log-probabilities [N, C], got ", log_probs.shape());
  TANGENT_CHECK(target.dtype() == kInt64, "nll_loss: class-index targets must be int64, got ", target.dtype());
  TANGENT_CHECK(target.dim() == 1 && target.size(0) == log_probs.size(0), "nll_loss: target of shape ", target.shape(),
                " does not match input ", log_probs.shape());
  const int64_t c = log_probs.size(1);
  const Tensor valid = ne(target, ignore_index);
  const Tensor safe = where(valid, target, zeros({}, kInt64));
  {
    const Tensor bad = logical_and(valid, logical_or(lt(safe, 0), ge(safe, c)));
    TANGENT_CHECK(!any(bad), "nll_loss: a target class is out of range [0, ", c, ") for input ", log_probs.shape());
  }
  Tensor picked = neg(reshape(gather(log_probs, 1, reshape(safe, {-1, 1})), {-1}));
  picked = mul(picked, valid);
  if (reduction == Reduction::Mean) return div(sum(picked), clamp_min(sum(valid).to(picked.dtype()), 1.0));
  return reduce_loss(picked, reduction);
}

namespace {

// Fused cross-entropy for the common case: logits [N, C], int64 class indices, no label smoothing, on a backend
// with Primitive::CrossEntropy for the dtype. The backend's cross_entropy_forward computes the log-probabilities,
// the per-row weights and the loss; ONE autograd node is recorded (the composed path records about eight and runs
// some twenty ops), whose backward is
//   d loss / d logits = (softmax(logits) - onehot(target)) * w * g,
// w = 1/count (mean; count = non-ignored targets, at least 1) or 1 (sum, none), and 0 on ignored rows: the
// backend's cross_entropy_backward, or under create_graph the same formula from differentiable ops.
bool fusable_cross_entropy(const Tensor& logits, const CrossEntropyOptions& o) {
  if (autograd::forward::any_dual({logits})) return false;  // jvp: the composite carries the tangents
  return logits.dim() == 2 && o.label_smoothing == 0.0 &&
         backend_for(logits).supports(Primitive::CrossEntropy, logits.dtype());
}

Tensor fused_cross_entropy(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& o) {
  const int64_t n = logits.size(0), c = logits.size(1);
  const DType dt = logits.dtype();
  const bool per_row = o.reduction == Reduction::None;
  const Tensor x = logits.detach().contiguous(), t = target.contiguous();
  Tensor lp = detail::new_empty({n, c}, dt, logits.device());
  Tensor w = detail::new_empty({n}, dt, logits.device());
  Tensor out = detail::new_empty(per_row ? Shape{n} : Shape{}, dt, logits.device());
  backend_for(logits).cross_entropy_forward(x, t, o.ignore_index, o.reduction == Reduction::Mean, !per_row, lp, w, out);
  if (autograd::needs_grad(logits)) {
    const int64_t ignore = o.ignore_index;
    autograd::record("cross_entropy", out, {logits}, {logits, t, lp, w},
                     [per_row, c, ignore](const Tensor& g, autograd::Context& ctx) {
                       const Tensor w = reshape(ctx.saved(3), {-1, 1});
                       const Tensor gw = per_row ? mul(reshape(g, {-1, 1}), w) : mul(w, g);  // [N, 1]
                       const Tensor target = ctx.saved(1);
                       return detail::fused_unless_create_graph(
                           [&] {
                             const Tensor lp = ctx.saved(2);
                             Tensor dx = detail::new_empty(lp.shape(), lp.dtype(), lp.device());
                             backend_for(lp).cross_entropy_backward(
                                 lp, target, ignore, detail::cast_raw(reshape(gw, {-1}), lp.dtype()).contiguous(), dx);
                             return std::vector<Tensor>{dx};
                           },
                           [&] {
                             const Tensor p = exp(log_softmax(ctx.saved(0), 1));
                             const Tensor safe = where(ne(target, ignore), target,
                                                       zeros({}, TensorOptions(kInt64).device(target.device())));
                             return std::vector<Tensor>{mul(sub(p, one_hot(safe, c).to(p.dtype())), gw)};
                           });
                     });
  }
  return out;
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& o) {
  TANGENT_CHECK(logits.dim() >= 2, "cross_entropy: expected logits [N, C, ...], got ", logits.shape());
  TANGENT_CHECK(o.label_smoothing >= 0.0 && o.label_smoothing <= 1.0,
                "cross_entropy: label_smoothing must be in [0, 1], got ", o.label_smoothing);
  const Tensor x = classes_last(logits);  // [N * d..., C]
  const int64_t c = x.size(1);
  if (target.is_floating_point()) {  // probabilities
    const Tensor lp = log_softmax(x, 1);
    TANGENT_CHECK(target.shape() == logits.shape(), "cross_entropy: probability targets of shape ", target.shape(),
                  " must match the logits ", logits.shape());
    Tensor p = classes_last(target);
    if (o.label_smoothing > 0) p = add(mul(p, 1.0 - o.label_smoothing), o.label_smoothing / static_cast<double>(c));
    const Tensor per = neg(sum(mul(lp, p), {1}));
    if (o.reduction == Reduction::None && logits.dim() > 2) {  // [N, d...], like the index-target case
      Shape s{logits.size(0)};
      for (int64_t d = 2; d < logits.dim(); ++d) s.push_back(logits.size(d));
      return reshape(per, s);
    }
    return reduce_loss(per, o.reduction);
  }
  TANGENT_CHECK(target.dtype() == kInt64, "cross_entropy: class-index targets must be int64, got ", target.dtype());
  Shape expect{logits.size(0)};
  for (int64_t d = 2; d < logits.dim(); ++d) expect.push_back(logits.size(d));
  TANGENT_CHECK(target.shape() == expect, "cross_entropy: target of shape ", target.shape(), " does not match logits ",
                logits.shape(), " (expected ", expect, ")");
  const Tensor t = reshape(target, {-1});
  if (fusable_cross_entropy(x, o)) {
    const Tensor loss = fused_cross_entropy(x, t, o);
    if (o.reduction == Reduction::None && logits.dim() > 2) return reshape(loss, target.shape());
    return loss;
  }
  const Tensor lp = log_softmax(x, 1);
  Tensor nll = nll_loss(lp, t, Reduction::None, o.ignore_index);
  if (o.label_smoothing > 0) {
    const Tensor valid = ne(t, o.ignore_index);
    const Tensor smooth = mul(neg(mean(lp, {1})), valid);
    nll = add(mul(nll, 1.0 - o.label_smoothing), mul(smooth, o.label_smoothing));
  }
  if (o.reduction == Reduction::Mean) {
    const Tensor count = clamp_min(sum(ne(t, o.ignore_index)).to(nll.dtype()), 1.0);
    return div(sum(nll), count);
  }
  if (o.reduction == Reduction::None && logits.dim() > 2) return reshape(nll, target.shape());
  return reduce_loss(nll, o.reduction);
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  TANGENT_CHECK(input.shape() == target.shape(), "mse_loss: input ", input.shape(), " and target ", target.shape(),
                " differ in shape");
  const Tensor d = sub(input, target);
  return reduce_loss(mul(d, d), reduction);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  TANGENT_CHECK(input.shape() == target.shape(), "l1_loss: input ", input.shape(), " and target ", target.shape(),
                " differ in shape");
  return reduce_loss(abs(sub(input, target)), reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target, Reduction reduction,
                                        const Tensor& pos_weight) {
  TANGENT_CHECK(logits.shape() == target.shape(), "binary_cross_entropy_with_logits: logits ", logits.shape(),
                " and target ", target.shape(), " differ in shape");
  // loss = -(w_pos * y * log s(x) + (1 - y) log(1 - s(x))), with log s(x) = -softplus(-x), log(1 - s(x)) = -softplus(x)
  const Tensor log_sig = neg(softplus(neg(logits)));
  const Tensor log_one_minus = neg(softplus(logits));
  Tensor pos = mul(target, log_sig);
  if (pos_weight.defined()) pos = mul(pos, pos_weight);
  const Tensor loss = neg(add(pos, mul(sub(ones({}, target.dtype()), target), log_one_minus)));
  return reduce_loss(loss, reduction);
}

}  // namespace tangent
