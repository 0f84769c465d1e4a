#include "autograd/function.h"

#include "autograd/forward_ad.h"

namespace tangent::autograd {

SavedTensor::SavedTensor(const Tensor& t, bool is_output)
    : version_(t.defined() ? t.version() : 0), is_output_(is_output) {
  if (!t.defined()) return;
  // A saved output must not own its grad_fn (that node owns this SavedTensor): keep a history-free alias.
  data_ = is_output ? alias_with(t, t.shape(), t.strides(), t.storage_offset()) : t;
  // The alias is a new TensorImpl: it carries the output's tangent (forward-over-reverse reads it in backward).
  if (is_output && forward::any_level_open() && forward::active()) {
    const Tensor tangent = forward::tangent(t);
    if (tangent.defined()) forward::set_tangent(data_, tangent, "save_output");
  }
}

Tensor SavedTensor::unpack(const Node& owner, const char* op) const {
  if (!data_.defined()) return data_;
  TANGENT_CHECK(data_.version() == version_, op,
                ": a tensor saved for backward was modified by an in-place operation (saved at version ", version_,
                ", now at version ", data_.version(), "; shape ", data_.shape(), ", dtype ", data_.dtype(),
                "). Use an out-of-place op or clone() before modifying it.");
  if (!is_output_) return data_;
  // Give the output its history back, so that create_graph differentiates through it.
  Tensor t = alias_with(data_, data_.shape(), data_.strides(), data_.storage_offset());
  t.impl()->requires_grad = true;
  t.impl()->grad_fn = std::const_pointer_cast<Node>(owner.shared_from_this());
  if (forward::any_level_open() && forward::active()) {
    const Tensor tangent = forward::tangent(data_);
    if (tangent.defined()) forward::set_tangent(t, tangent, op);
  }
  return t;
}

Tensor Context::saved(size_t i) const {
  TANGENT_CHECK(!node_.released_, node_.name(),
                ": trying to backward through the graph a second time (its saved tensors were freed); pass "
                "retain_graph=true to the first backward if you need to");
  return node_.saved_.at(i).unpack(node_, node_.name());
}

Tensor Context::output() const {
  TANGENT_CHECK(!node_.released_, node_.name(),
                ": trying to backward through the graph a second time (its saved tensors were freed); pass "
                "retain_graph=true to the first backward if you need to");
  return node_.output_.unpack(node_, node_.name());
}

bool Context::needs_grad(size_t input) const { return input < node_.next.size() && node_.next[input] != nullptr; }

void FunctionNode::release_saved() {
  if (saved_.empty() && !output_.defined()) return;
  for (auto& s : saved_) s.reset();
  output_.reset();
  released_ = true;
}

std::vector<Tensor> FunctionNode::apply(const Tensor& grad_output) {
  Context ctx(*this);
  if (released_) (void)ctx.saved(0);  // raises the "backward a second time" error
  return run(grad_output, ctx);
}

bool needs_grad(const std::vector<Tensor>& ts) {
  if (!GradMode::is_enabled()) return false;
  for (const auto& t : ts)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

std::shared_ptr<Node> attach(const std::shared_ptr<FunctionNode>& node, const Tensor& out,
                             std::initializer_list<Tensor> inputs, std::initializer_list<Tensor> saved,
                             bool save_output) {
  if (forward::any_level_open() && forward::active())
    forward::check_rule(node->name(), out, std::vector<Tensor>(inputs));
  node->next.reserve(inputs.size());
  for (const auto& in : inputs) node->next.push_back(in.defined() ? gradient_edge(in) : nullptr);
  for (const auto& s : saved) node->saved_.emplace_back(s, false);
  node->output_shape = out.shape();
  node->output_dtype = out.dtype();
  node->output_device = out.device();
  TensorImpl* impl = out.impl();
  impl->requires_grad = true;
  impl->grad_fn = node;
  if (save_output) node->output_ = SavedTensor(out, true);
  return node;
}

namespace {
class VectorFunctionNode final : public FunctionNode {
 public:
  VectorFunctionNode(const char* name, std::function<std::vector<Tensor>(const Tensor&, Context&)> fn)
      : FunctionNode(name, 0), fn_(std::move(fn)) {}

 protected:
  std::vector<Tensor> run(const Tensor& grad_output, Context& ctx) override { return fn_(grad_output, ctx); }

 private:
  std::function<std::vector<Tensor>(const Tensor&, Context&)> fn_;
};
}  // namespace

std::shared_ptr<Node> record_n(const char* name, const Tensor& out, const std::vector<Tensor>& inputs,
                               std::function<std::vector<Tensor>(const Tensor&, Context&)> fn) {
  if (forward::any_level_open() && forward::active()) forward::check_rule(name, out, inputs);
  auto node = std::make_shared<VectorFunctionNode>(name, std::move(fn));
  auto r = attach(node, out, {}, {}, false);
  for (const auto& in : inputs) node->next.push_back(in.defined() ? gradient_edge(in) : nullptr);
  return r;
}

}  // namespace tangent::autograd
