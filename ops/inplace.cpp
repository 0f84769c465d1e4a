// In-place variants. Each bumps the version counter. With grad recording on, the new value is computed out of
// place from a clone (so saved tensors of earlier ops stay valid) and the tensor takes over the result's
// history; a leaf that requires grad, or a view of one, cannot be modified in place.
#include "autograd/forward_ad.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/internal.h"
#include "ops/shape_ops.h"

namespace tangent {

namespace {

void check_inplace_target(const Tensor& self, const char* name) {
  detail::check_defined(self, name);
  if (!GradMode::is_enabled() || !self.requires_grad()) return;
  TANGENT_CHECK(!self.is_leaf(), name, ": a leaf tensor that requires grad (shape ", self.shape(),
                ") cannot be modified in place; wrap the update in a NoGradGuard or use the out-of-place op");
}

// Writes an out-of-place result into self and, when it carries history, makes it self's history.
Tensor& commit(Tensor& self, const Tensor& result, const char* name) {
  TANGENT_CHECK(result.shape() == self.shape(), name, ": the result of shape ", result.shape(),
                " cannot be written in place into a tensor of shape ", self.shape());
  TANGENT_CHECK(self.is_floating_point() || !result.is_floating_point(), name, ": the result type ", result.dtype(),
                " cannot be written in place into a tensor of dtype ", self.dtype());
  if (result.requires_grad()) {
    TANGENT_CHECK(!self.impl()->is_view, name, ": in-place modification of a view (shape ", self.shape(),
                  ") inside a graph that requires grad is not supported; use the out-of-place op");
  }
  backend_for(self).copy(result.dtype() == self.dtype() ? result : detail::cast_raw(result, self.dtype()), self);
  self.bump_version();
  if (autograd::forward::any_level_open() &&
      autograd::forward::active()) {  // the out-of-place result's tangent becomes self's
    const Tensor tangent = autograd::forward::tangent(result);
    if (tangent.defined()) autograd::forward::set_tangent(self, tangent, name);
  }
  if (result.requires_grad()) {
    self.impl()->grad_fn = result.grad_fn();
    self.impl()->requires_grad = true;
  }
  return self;
}

template <typename F>
Tensor& inplace(Tensor& self, const Tensor* other, const char* name, const F& op) {
  check_inplace_target(self, name);
  const bool record = other ? autograd::needs_grad(self, *other) : autograd::needs_grad(self);
  if (!record) {
    NoGradGuard guard;
    return commit(self, op(self), name);
  }
  return commit(self, op(clone(self)), name);
}

// The allocation-free path for self op= other: self contiguous, same dtype as the result, no recording.
bool binary_fast_path(BinaryOp op, Tensor& self, const Tensor& other) {
  if (autograd::needs_grad(self, other) || !self.is_contiguous() || self.device() != other.device()) return false;
  if (autograd::forward::any_dual({self, other})) return false;
  if (detail::result_type(self, other) != self.dtype() || !self.is_floating_point()) return false;
  if (other.dim() > self.dim()) return false;
  for (int64_t i = 0; i < other.dim(); ++i) {
    const int64_t od = other.shape()[static_cast<size_t>(i)];
    const int64_t sd = self.shape()[static_cast<size_t>(self.dim() - other.dim() + i)];
    if (od != sd && od != 1) return false;
  }
  backend_for(self).binary(op, self, detail::expand_raw(detail::cast_raw(other, self.dtype()), self.shape()), self);
  self.bump_version();
  return true;
}

}  // namespace

Tensor& add_(Tensor& a, const Tensor& b, const Scalar& alpha) {
  check_inplace_target(a, "add_");
  if (alpha.to_double() == 1.0 && binary_fast_path(BinaryOp::Add, a, b)) return a;
  return inplace(a, &b, "add_", [&](const Tensor& s) { return add(s, b, alpha); });
}
Tensor& sub_(Tensor& a, const Tensor& b, const Scalar& alpha) {
  check_inplace_target(a, "sub_");
  if (alpha.to_double() == 1.0 && binary_fast_path(BinaryOp::Sub, a, b)) return a;
  return inplace(a, &b, "sub_", [&](const Tensor& s) { return sub(s, b, alpha); });
}
Tensor& mul_(Tensor& a, const Tensor& b) {
  check_inplace_target(a, "mul_");
  if (binary_fast_path(BinaryOp::Mul, a, b)) return a;
  return inplace(a, &b, "mul_", [&](const Tensor& s) { return mul(s, b); });
}
Tensor& div_(Tensor& a, const Tensor& b) {
  check_inplace_target(a, "div_");
  if (binary_fast_path(BinaryOp::Div, a, b)) return a;
  return inplace(a, &b, "div_", [&](const Tensor& s) { return div(s, b); });
}
Tensor& pow_(Tensor& a, const Scalar& e) {
  return inplace(a, nullptr, "pow_", [&](const Tensor& s) { return pow(s, e); });
}
Tensor& exp_(Tensor& x) {
  return inplace(x, nullptr, "exp_", [](const Tensor& s) { return exp(s); });
}
Tensor& relu_(Tensor& x) {
  return inplace(x, nullptr, "relu_", [](const Tensor& s) { return relu(s); });
}
Tensor& sigmoid_(Tensor& x) {
  return inplace(x, nullptr, "sigmoid_", [](const Tensor& s) { return sigmoid(s); });
}
Tensor& tanh_(Tensor& x) {
  return inplace(x, nullptr, "tanh_", [](const Tensor& s) { return tanh(s); });
}
Tensor& neg_(Tensor& x) {
  return inplace(x, nullptr, "neg_", [](const Tensor& s) { return neg(s); });
}
Tensor& clamp_(Tensor& x, std::optional<Scalar> min, std::optional<Scalar> max) {
  return inplace(x, nullptr, "clamp_", [&](const Tensor& s) { return clamp(s, min, max); });
}
Tensor& masked_fill_(Tensor& x, const Tensor& mask, const Scalar& value) {
  return inplace(x, nullptr, "masked_fill_", [&](const Tensor& s) { return masked_fill(s, mask, value); });
}

// ---- Tensor's in-place methods ----
Tensor& Tensor::add_(const Tensor& other, const Scalar& alpha) { return tangent::add_(*this, other, alpha); }
Tensor& Tensor::sub_(const Tensor& other, const Scalar& alpha) { return tangent::sub_(*this, other, alpha); }
Tensor& Tensor::mul_(const Tensor& other) { return tangent::mul_(*this, other); }
Tensor& Tensor::mul_(const Scalar& other) { return tangent::mul_(*this, detail::wrap_scalar(other, device())); }
Tensor& Tensor::div_(const Tensor& other) { return tangent::div_(*this, other); }
Tensor& Tensor::div_(const Scalar& other) { return tangent::div_(*this, detail::wrap_scalar(other, device())); }
Tensor& Tensor::fill_(const Scalar& value) {
  check_inplace_target(*this, "fill_");
  TANGENT_CHECK(!(GradMode::is_enabled() && requires_grad()),
                "fill_: cannot fill a tensor that is part of a graph "
                "(shape ",
                shape(), ")");
  backend_for(*this).fill(*this, value);
  bump_version();
  return *this;
}
Tensor& Tensor::zero_() { return fill_(0); }
void Tensor::copy_(const Tensor& src) const {
  detail::check_defined(src, "copy_", "source");
  TANGENT_CHECK(!(GradMode::is_enabled() && (requires_grad() || src.requires_grad())),
                "copy_: copying inside a graph that requires grad is not supported (target shape ", shape(),
                "); use NoGradGuard or an out-of-place op");
  const Tensor s =
      src.shape() == shape() ? src : detail::expand_raw(src, broadcast_shapes(src.shape(), shape(), "copy_"));
  TANGENT_CHECK(s.shape() == shape(), "copy_: source of shape ", src.shape(), " does not broadcast to ", shape());
  if (s.device() == device() || s.device().is_cpu()) {
    backend_for(*this).copy(s, *this);
  } else {
    backend_for(s).copy(s, *this);
  }
  bump_version();
}

}  // namespace tangent
