// The update rule of each optimizer: state buffers and options mapped onto the ops of ops/optimizer_step.h,
// which hold the formulas and pick the backend's fused update or the tensor-op composition.
#include "nn/optim/update_rules.h"

#include <cmath>

#include "ops/factory.h"
#include "ops/optimizer_step.h"
#include "ops/shape_ops.h"

namespace tangent::optim::detail {

namespace {

// State buffer i of a parameter, matching p's shape, device and dtype, contiguous; zeros when new. A buffer left
// on another device or dtype (the module was moved after the optimizer was built) is converted.
Tensor& buffer(Optimizer::ParamState& st, size_t i, const Tensor& p, const char* op) {
  Tensor& b = st.buffers[i];
  if (!b.defined()) {
    b = zeros_like(p);
    return b;
  }
  TANGENT_CHECK(b.shape() == p.shape(), op, ": the optimizer state of a parameter has shape ", b.shape(),
                " but the parameter now has shape ", p.shape());
  if (b.device() != p.device()) b = b.to(p.device());
  if (b.dtype() != p.dtype()) b = b.to(p.dtype());
  if (!b.is_contiguous()) b = contiguous(b);
  return b;
}

}  // namespace

void sgd_update(const Tensor& p, const Tensor& g, Optimizer::ParamState& st, const GroupOptions& o) {
  SgdStep s;
  s.lr = o.lr;
  s.weight_decay = o.weight_decay;
  s.momentum = o.momentum;
  s.dampening = o.dampening;
  s.nesterov = o.nesterov;
  const bool has_mu = o.momentum != 0.0;
  s.first_step = has_mu && !st.buffers[0].defined();
  if (s.first_step) st.buffers[0] = empty_like(p);  // written by the step (b = d on the first step)
  const Tensor buf = has_mu ? buffer(st, 0, p, "SGD") : Tensor();
  sgd_step(p, g, buf, s);
  ++st.step;
}

void adam_update(const Tensor& p, const Tensor& g, Optimizer::ParamState& st, const GroupOptions& o, bool decoupled) {
  const char* op = decoupled ? "AdamW" : "Adam";
  ++st.step;
  AdamStep s;
  s.lr = o.lr;
  s.beta1 = o.beta1;
  s.beta2 = o.beta2;
  s.eps = o.eps;
  s.weight_decay = o.weight_decay;
  s.amsgrad = o.amsgrad;
  s.decoupled = decoupled;
  const double t = static_cast<double>(st.step);
  s.step_size = o.lr / (1.0 - std::pow(o.beta1, t));
  s.bc2_sqrt = std::sqrt(1.0 - std::pow(o.beta2, t));
  const Tensor m = buffer(st, 0, p, op);
  const Tensor v = buffer(st, 1, p, op);
  const Tensor vmax = o.amsgrad ? buffer(st, 2, p, op) : Tensor();
  adam_step(p, g, m, v, vmax, s);
}

void rmsprop_update(const Tensor& p, const Tensor& g, Optimizer::ParamState& st, const GroupOptions& o) {
  ++st.step;
  RmspropStep s;
  s.lr = o.lr;
  s.alpha = o.alpha;
  s.eps = o.eps;
  s.weight_decay = o.weight_decay;
  s.momentum = o.momentum;
  s.centered = o.centered;
  const Tensor sq = buffer(st, 0, p, "RMSprop");
  const Tensor buf = o.momentum > 0.0 ? buffer(st, 1, p, "RMSprop") : Tensor();
  const Tensor ga = o.centered ? buffer(st, 2, p, "RMSprop") : Tensor();
  rmsprop_step(p, g, sq, buf, ga, s);
}

}  // namespace tangent::optim::detail
