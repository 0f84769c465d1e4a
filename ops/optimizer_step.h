#pragma once
// One optimizer update of one parameter, in place, and the norm reduction of gradient clipping: the backend's
// fused primitive (Primitive::OptimizerStep, Primitive::PowerSum) when it supports the dtype and the tensors are
// contiguous, the same maths with tensor ops otherwise. Formulas (PyTorch's torch.optim; d is the gradient after
// L2 weight decay, t the step count):
//   SGD      d = g + wd p;  b = d (first step) or mu b + (1 - dampening) d;  d = nesterov ? d + mu b : b;  p -= lr d
//   Adam     d = g + wd p;  m = b1 m + (1 - b1) d;  v = b2 v + (1 - b2) d^2;  (amsgrad: vmax = max(vmax, v), used as v)
//            p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
//   AdamW    p *= 1 - lr wd, then Adam with d = g
//   RMSprop  d = g + wd p;  s = a s + (1 - a) d^2;  avg = sqrt(s - ga^2) + eps with ga = a ga + (1 - a) d (centered),
//            else sqrt(s) + eps;  momentum: b = mu b + d / avg, p -= lr b;  else p -= lr d / avg
// Call under NoGradGuard. Buffers have p's shape, device and dtype; an unused one is undefined.
#include "core/backend.h"
#include "core/tensor.h"

namespace tangent {

void sgd_step(const Tensor& p, const Tensor& g, const Tensor& momentum_buffer, const SgdStep& s);
void adam_step(const Tensor& p, const Tensor& g, const Tensor& exp_avg, const Tensor& exp_avg_sq,
               const Tensor& max_exp_avg_sq, const AdamStep& s);
void rmsprop_step(const Tensor& p, const Tensor& g, const Tensor& square_avg, const Tensor& momentum_buffer,
                  const Tensor& grad_avg, const RmspropStep& s);

// sum |x|^p over x (0 < p < inf) or max |x| (p = inf; NaN wins), in double.
double power_sum(const Tensor& x, double p);

}  // namespace tangent
