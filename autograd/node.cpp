#include "autograd/node.h"

#include <atomic>
#include <vector>

#include "ops/elementwise.h"
#include "ops/shape_ops.h"

namespace tangent {

namespace {
thread_local bool grad_mode_enabled = true;
std::atomic<uint64_t> next_sequence_nr{0};
}  // namespace

bool GradMode::is_enabled() { return grad_mode_enabled; }
void GradMode::set_enabled(bool enabled) { grad_mode_enabled = enabled; }

namespace autograd {

Node::Node() : sequence_nr(next_sequence_nr.fetch_add(1, std::memory_order_relaxed)) {}

Node::~Node() {
  // Derived members (saved tensors) are gone by now, so a child referenced only by this node's edges is about to
  // be destroyed: queue it instead of recursing, and let the outermost destructor drain the queue.
  thread_local std::vector<std::shared_ptr<Node>> pending;
  thread_local bool draining = false;
  for (auto& n : next)
    if (n && n.use_count() == 1) pending.push_back(std::move(n));
  if (draining) return;
  draining = true;
  while (!pending.empty()) {
    std::shared_ptr<Node> n = std::move(pending.back());
    pending.pop_back();
    n.reset();  // its destructor queues its own children
  }
  draining = false;
}

AutogradMeta& meta_of(const Tensor& t) {
  auto& m = t.impl()->autograd;
  if (!m) m = std::make_shared<AutogradMeta>();
  return *m;
}

AccumulateGrad::AccumulateGrad(const Tensor& leaf) : leaf_(leaf.impl_ptr()) {
  output_shape = leaf.shape();
  output_dtype = leaf.dtype();
  output_device = leaf.device();
}

std::vector<Tensor> AccumulateGrad::apply(const Tensor& grad_output) {
  auto impl = leaf_.lock();
  if (!impl) return {};
  Tensor leaf(impl);
  Tensor g = grad_output;
  if (impl->autograd) {
    for (auto& hook : impl->autograd->hooks) {
      Tensor r = hook(g);
      if (r.defined()) g = r;
    }
  }
  accumulate_grad(leaf, g);
  return {};
}

void accumulate_grad(const Tensor& t, const Tensor& g) {
  AutogradMeta& m = meta_of(t);
  if (m.grad.defined()) {
    m.grad = m.grad + g;  // out of place: a .grad handed out earlier keeps its value
    return;
  }
  // Keep g itself only when no other tensor can see its storage: an expanded or shared gradient must not become
  // .grad, which optimizers update in place. Under create_graph g keeps its history, as in PyTorch.
  const bool exclusive =
      g.storage().use_count() == 1 && g.is_contiguous() && g.storage_offset() == 0 &&
      g.numel() * static_cast<int64_t>(element_size(g.dtype())) == static_cast<int64_t>(g.storage()->nbytes()) &&
      !g.impl()->is_view;
  m.grad = exclusive ? g : clone(g);
}

std::shared_ptr<Node> gradient_edge(const Tensor& t) {
  if (!t.requires_grad()) return nullptr;
  TensorImpl* impl = t.impl();
  if (impl->grad_fn) return impl->grad_fn;
  AutogradMeta& m = meta_of(t);
  if (auto acc = m.grad_accumulator.lock()) return acc;
  auto acc = std::make_shared<AccumulateGrad>(t);
  m.grad_accumulator = acc;
  return acc;
}

}  // namespace autograd
}  // namespace tangent
