// The autograd methods of Tensor.
#include "autograd/engine.h"
#include "autograd/node.h"
#include "ops/elementwise.h"
#include "ops/shape_ops.h"

namespace tangent {

using autograd::meta_of;

Tensor& Tensor::requires_grad_(bool requires_grad) {
  TANGENT_CHECK(!requires_grad || is_floating_point(),
                "requires_grad_: only floating-point tensors can require "
                "gradients, got dtype ",
                dtype(), " (shape ", shape(), ")");
  TANGENT_CHECK(requires_grad || !impl_->grad_fn,
                "requires_grad_(false): the tensor is not a leaf (it has a "
                "grad_fn); use detach() instead");
  impl_->requires_grad = requires_grad;
  return *this;
}

bool Tensor::is_leaf() const { return !impl_->grad_fn; }

Tensor Tensor::grad() const {
  if (!impl_->autograd) return Tensor();
  return impl_->autograd->grad;
}

void Tensor::set_grad(const Tensor& g) const {
  if (g.defined())
    TANGENT_CHECK(g.shape() == shape() && g.dtype() == dtype(), "set_grad: gradient of shape ", g.shape(),
                  " and dtype ", g.dtype(), " does not match the tensor's shape ", shape(), " and dtype ", dtype());
  meta_of(*this).grad = g;
}

std::shared_ptr<autograd::Node> Tensor::grad_fn() const { return impl_->grad_fn; }

void Tensor::backward(const Tensor& gradient, bool retain_graph, bool create_graph) const {
  autograd::backward({*this}, {gradient}, retain_graph || create_graph, create_graph);
}

Tensor Tensor::detach() const {
  Tensor t = alias_with(*this, shape(), strides(), storage_offset());
  t.impl()->is_view = impl_->is_view;
  return t;
}

void Tensor::retain_grad() const {
  TANGENT_CHECK(requires_grad(), "retain_grad: the tensor does not require grad (shape ", shape(), ")");
  if (is_leaf()) return;  // leaves keep .grad anyway
  auto& m = meta_of(*this);
  if (m.retains_grad) return;
  m.retains_grad = true;
  std::weak_ptr<TensorImpl> weak = impl_;
  impl_->grad_fn->pre_hooks.push_back([weak](const Tensor& g) {
    if (auto impl = weak.lock()) {
      Tensor self(impl);
      auto& meta = meta_of(self);
      meta.grad = meta.grad.defined() ? meta.grad + g.detach() : g.detach().clone();
    }
    return Tensor();
  });
}

void Tensor::register_hook(std::function<Tensor(const Tensor&)> hook) const {
  TANGENT_CHECK(requires_grad(),
                "register_hook: cannot register a hook on a tensor that does not require grad "
                "(shape ",
                shape(), ")");
  if (is_leaf()) {
    meta_of(*this).hooks.push_back(std::move(hook));
  } else {
    impl_->grad_fn->pre_hooks.push_back(std::move(hook));
  }
}

}  // namespace tangent
