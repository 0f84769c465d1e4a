#include "nn/functional.h"

#include <cmath>
#include <vector>

#include "autograd/function.h"
#include "autograd/grad_mode.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace tangent::nn::functional {

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  TANGENT_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability must be in [0, 1], got ", p);
  if (!training || p == 0.0) return x;
  if (p == 1.0) return mul(x, 0.0);
  const Tensor keep = bernoulli(x.shape(), 1.0 - p, x.options(), gen);
  return mul(x, mul(keep, 1.0 / (1.0 - p)));
}

namespace {
// Shape [1, C, 1, ...] for per-channel parameters of an input of x's rank.
Shape channel_shape(const Tensor& x) {
  Shape s(static_cast<size_t>(x.dim()), 1);
  s[1] = x.size(1);
  return s;
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
  Tensor mean_, var_;
  if (training) {
    const int64_t n = x.numel() / c;
    TANGENT_CHECK(n > 1, "batch_norm: expected more than 1 value per channel in training, got input ", x.shape());
    mean_ = mean(x, dims, true);
    var_ = var(x, dims, 0, true);
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
  Tensor y = mul(sub(x, mean_), rsqrt(add(var_, eps)));
  if (weight.defined()) y = mul(y, reshape(weight, cs));
  if (bias.defined()) y = add(y, reshape(bias, cs));
  return y;
}

Tensor layer_norm(const Tensor& x, int64_t normalized_ndim, const Tensor& weight, const Tensor& bias, double eps) {
  TANGENT_CHECK(normalized_ndim >= 1 && normalized_ndim <= x.dim(), "layer_norm: cannot normalise the last ",
                normalized_ndim, " dims of an input of shape ", x.shape());
  Shape dims;
  for (int64_t d = x.dim() - normalized_ndim; d < x.dim(); ++d) dims.push_back(d);
  if (weight.defined()) {
    Shape tail(x.shape().begin() + (x.dim() - normalized_ndim), x.shape().end());
    TANGENT_CHECK(weight.shape() == tail, "layer_norm: weight of shape ", weight.shape(),
                  " does not match the normalised shape ", tail, " of input ", x.shape());
  }
  const Tensor mu = mean(x, dims, true);
  const Tensor centered = sub(x, mu);
  Tensor y = mul(centered, rsqrt(add(mean(mul(centered, centered), dims, true), eps)));
  if (weight.defined()) y = mul(y, weight);
  if (bias.defined()) y = add(y, bias);
  return y;
}

Tensor rms_norm(const Tensor& x, int64_t normalized_ndim, const Tensor& weight, double eps) {
  TANGENT_CHECK(normalized_ndim >= 1 && normalized_ndim <= x.dim(), "rms_norm: cannot normalise the last ",
                normalized_ndim, " dims of an input of shape ", x.shape());
  Shape dims;
  for (int64_t d = x.dim() - normalized_ndim; d < x.dim(); ++d) dims.push_back(d);
  Tensor y = mul(x, rsqrt(add(mean(mul(x, x), dims, true), eps)));
  if (weight.defined()) y = mul(y, weight);
  return y;
}

Tensor embedding(const Tensor& indices, const Tensor& weight) {
  TANGENT_CHECK(indices.dtype() == kInt64, "embedding: indices must be int64, got ", indices.dtype());
  TANGENT_CHECK(weight.dim() == 2, "embedding: weight must be 2-D [num_embeddings, dim], got ", weight.shape());
  Shape out_shape = indices.shape();
  out_shape.push_back(weight.size(1));
  return reshape(index_select(weight, 0, reshape(indices, {-1})), out_shape);
}

Reduction parse_reduction(const std::string& name) {
  if (name == "mean") return Reduction::Mean;
  if (name == "sum") return Reduction::Sum;
  if (name == "none") return Reduction::None;
  TANGENT_FAIL("loss: reduction must be mean, sum or none, got '", name, "'");
}

namespace {
Tensor reduce(const Tensor& loss, Reduction r) {
  switch (r) {
    case Reduction::None: return loss;
    case Reduction::Sum: return sum(loss);
    case Reduction::Mean: return mean(loss);
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
  TANGENT_CHECK(target.dim() == 1 && target.size(0) == log_probs.size(0), "nll_loss: target of shape ",
                target.shape(), " does not match input ", log_probs.shape());
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
  return reduce(picked, reduction);
}

namespace {

// Fused cross-entropy for the common case: logits [N, C] on the CPU in float32/float64, int64 class indices, no
// label smoothing. One log_softmax; the loss is read straight from it and recorded as ONE autograd node (the
// composed path records about eight and runs some twenty ops), whose backward is
//   d loss / d logits = (softmax(logits) - onehot(target)) * w * g,
// w = 1/count (mean; count = non-ignored targets, at least 1) or 1 (sum, none), and 0 on ignored rows.
// The plain backward is one pass over the saved log-probabilities; under create_graph it is written with
// differentiable ops (so double backward works), with the same formula.
bool fusable_cross_entropy(const Tensor& logits, const CrossEntropyOptions& o) {
  return logits.dim() == 2 && logits.device().is_cpu() &&
         (logits.dtype() == kFloat32 || logits.dtype() == kFloat64) && o.label_smoothing == 0.0;
}

template <typename T>
Tensor fused_cross_entropy_typed(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& o) {
  const int64_t n = logits.size(0), c = logits.size(1);
  Tensor lp;
  {
    NoGradGuard no_grad;
    lp = log_softmax(logits, 1);  // fresh and contiguous
  }
  const Tensor t = target.is_contiguous() ? target : contiguous(target);
  const int64_t* tp = t.data_ptr<int64_t>();
  // Safe targets (ignored rows -> class 0) and the per-row weights.
  Tensor safe = empty({n}, kInt64);
  Tensor w = empty({n, 1}, logits.dtype());
  int64_t* sp = safe.data_ptr<int64_t>();
  T* wp = w.data_ptr<T>();
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t v = tp[i];
    if (v == o.ignore_index) {
      sp[i] = 0;
      continue;
    }
    TANGENT_CHECK(v >= 0 && v < c, "cross_entropy: a target class is out of range [0, ", c, ") for input ",
                  logits.shape(), " (target ", i, " is ", v, ")");
    sp[i] = v;
    ++count;
  }
  const T scale = o.reduction == Reduction::Mean ? T(1) / static_cast<T>(count > 0 ? count : 1) : T(1);
  for (int64_t i = 0; i < n; ++i) wp[i] = tp[i] == o.ignore_index ? T(0) : scale;

  const T* L = lp.data_ptr<T>();
  Tensor out;
  if (o.reduction == Reduction::None) {
    out = empty({n}, logits.dtype());
    T* op = out.data_ptr<T>();
    for (int64_t i = 0; i < n; ++i) op[i] = tp[i] == o.ignore_index ? T(0) : -L[i * c + sp[i]];
  } else {
    double total = 0;
    for (int64_t i = 0; i < n; ++i)
      if (tp[i] != o.ignore_index) total -= static_cast<double>(L[i * c + sp[i]]);
    out = empty({}, logits.dtype());
    *out.data_ptr<T>() = static_cast<T>(total) * scale;
  }
  if (autograd::needs_grad(logits)) {
    const bool per_row = o.reduction == Reduction::None;
    autograd::record("cross_entropy", out, {logits}, {logits, safe, lp, w},
                     [per_row, c](const Tensor& g, autograd::Context& ctx) {
      const Tensor w = ctx.saved(3);
      const Tensor gw = per_row ? mul(reshape(g, {-1, 1}), w) : mul(w, g);  // [N, 1]
      if (GradMode::is_enabled()) {  // create_graph: the differentiable composition
        const Tensor p = exp(log_softmax(ctx.saved(0), 1));
        return std::vector<Tensor>{mul(sub(p, one_hot(ctx.saved(1), c).to(p.dtype())), gw)};
      }
      const Tensor lp = ctx.saved(2);
      const int64_t rows = lp.size(0);
      Tensor dx = empty(lp.shape(), lp.dtype());
      const T* L = lp.data_ptr<T>();
      const T* G = gw.data_ptr<T>();  // fresh and contiguous
      const int64_t* S = ctx.saved(1).data_ptr<int64_t>();
      T* D = dx.data_ptr<T>();
      for (int64_t i = 0; i < rows; ++i) {
        const T gi = G[i];
        T* d = D + i * c;
        const T* l = L + i * c;
        for (int64_t j = 0; j < c; ++j) d[j] = std::exp(l[j]) * gi;
        d[S[i]] = (std::exp(l[S[i]]) - T(1)) * gi;
      }
      return std::vector<Tensor>{dx};
    });
  }
  return out;
}

Tensor fused_cross_entropy(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& o) {
  return logits.dtype() == kFloat32 ? fused_cross_entropy_typed<float>(logits, target, o)
                                    : fused_cross_entropy_typed<double>(logits, target, o);
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
    return reduce(per, o.reduction);
  }
  TANGENT_CHECK(target.dtype() == kInt64, "cross_entropy: class-index targets must be int64, got ", target.dtype());
  Shape expect{logits.size(0)};
  for (int64_t d = 2; d < logits.dim(); ++d) expect.push_back(logits.size(d));
  TANGENT_CHECK(target.shape() == expect, "cross_entropy: target of shape ", target.shape(),
                " does not match logits ", logits.shape(), " (expected ", expect, ")");
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
  return reduce(nll, o.reduction);
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  TANGENT_CHECK(input.shape() == target.shape(), "mse_loss: input ", input.shape(), " and target ", target.shape(),
                " differ in shape");
  const Tensor d = sub(input, target);
  return reduce(mul(d, d), reduction);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  TANGENT_CHECK(input.shape() == target.shape(), "l1_loss: input ", input.shape(), " and target ", target.shape(),
                " differ in shape");
  return reduce(abs(sub(input, target)), reduction);
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
  return reduce(loss, reduction);
}

}  // namespace tangent::nn::functional
