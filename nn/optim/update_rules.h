#pragma once
// The update rule of each optimizer (internal): one function per optimizer that updates one parameter in place,
// through ops/optimizer_step.h (the backend's fused update when it has one for the dtype, tensor ops otherwise).
// Called under NoGradGuard.
#include "nn/optim/optimizer.h"

namespace tangent::optim::detail {

// SGD. buffers: [0] momentum_buffer.
void sgd_update(const Tensor& p, const Tensor& g, Optimizer::ParamState& st, const GroupOptions& o);
// Adam (decoupled = false: weight decay is L2 added to the gradient) and AdamW (decoupled = true).
// buffers: [0] exp_avg, [1] exp_avg_sq, [2] max_exp_avg_sq (amsgrad only).
void adam_update(const Tensor& p, const Tensor& g, Optimizer::ParamState& st, const GroupOptions& o, bool decoupled);
// RMSprop. buffers: [0] square_avg, [1] momentum_buffer (momentum > 0), [2] grad_avg (centered).
void rmsprop_update(const Tensor& p, const Tensor& g, Optimizer::ParamState& st, const GroupOptions& o);

}  // namespace tangent::optim::detail
