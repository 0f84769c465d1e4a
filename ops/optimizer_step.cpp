// The optimizer updates and power_sum: the backend's fused primitive when it has one for the dtype, the formulas
// of ops/optimizer_step.h with tensor ops otherwise.
#include "ops/optimizer_step.h"

#include <cmath>
#include <initializer_list>

#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace tangent {

namespace {

// Whether the fused primitive applies: supported for p's dtype, every tensor contiguous.
bool fusable(const Tensor& p, std::initializer_list<const Tensor*> buffers) {
  if (!p.is_contiguous() || !backend_for(p).supports(Primitive::OptimizerStep, p.dtype())) return false;
  for (const Tensor* b : buffers)
    if (b->defined() && !b->is_contiguous()) return false;
  return true;
}

// The gradient as a contiguous tensor of p's dtype (g itself in the common case).
Tensor dense(const Tensor& g, const Tensor& p) {
  Tensor out = g.dtype() == p.dtype() ? g : g.to(p.dtype());
  return out.is_contiguous() ? out : contiguous(out);
}

const Tensor* ptr_or_null(const Tensor& t) { return t.defined() ? &t : nullptr; }

}  // namespace

void sgd_step(const Tensor& p, const Tensor& g, const Tensor& momentum_buffer, const SgdStep& s) {
  if (fusable(p, {&momentum_buffer})) {
    backend_for(p).sgd_step(p, dense(g, p), ptr_or_null(momentum_buffer), s);
    p.bump_version();
    if (momentum_buffer.defined()) momentum_buffer.bump_version();
    return;
  }
  Tensor d = s.weight_decay != 0.0 ? add(g, p, s.weight_decay) : g;
  if (s.momentum != 0.0) {
    Tensor b = momentum_buffer;
    b.copy_(s.first_step ? d : add(mul(b, s.momentum), d, 1.0 - s.dampening));
    d = s.nesterov ? add(d, b, s.momentum) : b;
  }
  Tensor target = p;
  sub_(target, d, s.lr);
}

void adam_step(const Tensor& p, const Tensor& g, const Tensor& exp_avg, const Tensor& exp_avg_sq,
               const Tensor& max_exp_avg_sq, const AdamStep& s) {
  if (fusable(p, {&exp_avg, &exp_avg_sq, &max_exp_avg_sq})) {
    backend_for(p).adam_step(p, dense(g, p), exp_avg, exp_avg_sq, ptr_or_null(max_exp_avg_sq), s);
    for (const Tensor* t : {&p, &exp_avg, &exp_avg_sq, &max_exp_avg_sq})
      if (t->defined()) t->bump_version();
    return;
  }
  Tensor target = p, m = exp_avg, v = exp_avg_sq, vmax = max_exp_avg_sq;
  if (s.decoupled && s.weight_decay != 0.0) target.mul_(1.0 - s.lr * s.weight_decay);
  const Tensor d = !s.decoupled && s.weight_decay != 0.0 ? add(g, p, s.weight_decay) : g;
  m.copy_(add(mul(m, s.beta1), d, 1.0 - s.beta1));
  v.copy_(add(mul(v, s.beta2), mul(d, d), 1.0 - s.beta2));
  Tensor vv = v;
  if (s.amsgrad) {
    vmax.copy_(maximum(vmax, v));
    vv = vmax;
  }
  const Tensor denom = add(div(sqrt(vv), s.bc2_sqrt), s.eps);
  sub_(target, div(m, denom), s.step_size);
}

void rmsprop_step(const Tensor& p, const Tensor& g, const Tensor& square_avg, const Tensor& momentum_buffer,
                  const Tensor& grad_avg, const RmspropStep& s) {
  if (fusable(p, {&square_avg, &momentum_buffer, &grad_avg})) {
    backend_for(p).rmsprop_step(p, dense(g, p), square_avg, ptr_or_null(momentum_buffer), ptr_or_null(grad_avg), s);
    for (const Tensor* t : {&p, &square_avg, &momentum_buffer, &grad_avg})
      if (t->defined()) t->bump_version();
    return;
  }
  Tensor sq = square_avg, buf = momentum_buffer, ga = grad_avg, target = p;
  const Tensor d = s.weight_decay != 0.0 ? add(g, p, s.weight_decay) : g;
  sq.copy_(add(mul(sq, s.alpha), mul(d, d), 1.0 - s.alpha));
  Tensor avg;
  if (s.centered) {
    ga.copy_(add(mul(ga, s.alpha), d, 1.0 - s.alpha));
    avg = add(sqrt(sub(sq, mul(ga, ga))), s.eps);
  } else {
    avg = add(sqrt(sq), s.eps);
  }
  if (s.momentum > 0.0) {
    buf.copy_(add(mul(buf, s.momentum), div(d, avg)));
    sub_(target, buf, s.lr);
  } else {
    sub_(target, div(d, avg), s.lr);
  }
}

double power_sum(const Tensor& x, double p) {
  if (x.is_contiguous() && backend_for(x).supports(Primitive::PowerSum, x.dtype())) {
    Tensor out = empty({}, TensorOptions(kFloat64).device(x.device()));
    backend_for(x).power_sum(x, p, out);
    return out.item<double>();
  }
  const Tensor a = abs(to_dtype(x.detach(), kFloat64));
  if (std::isinf(p)) {
    if (a.numel() == 0) return 0.0;
    return any(isnan(a)) ? std::nan("") : max(a).item<double>();
  }
  if (p == 2.0) return sum(mul(a, a)).item<double>();
  if (p == 1.0) return sum(a).item<double>();
  return sum(pow(a, p)).item<double>();
}

}  // namespace tangent
