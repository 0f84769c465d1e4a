#pragma once
// The backward graph: one Node per recorded op output. A Node maps the gradient w.r.t. its output to gradients
// w.r.t. its inputs, and points at the nodes that produced those inputs (`next`; null where an input needs no
// gradient). Leaves that require grad end in an AccumulateGrad node, which adds into their .grad.
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "autograd/grad_mode.h"
#include "core/tensor.h"

namespace tangent::autograd {

using Hook = std::function<Tensor(const Tensor&)>;

class Node : public std::enable_shared_from_this<Node> {
 public:
  Node();
  // Releases the graph behind this node iteratively, so dropping a very deep graph cannot overflow the stack.
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  virtual const char* name() const = 0;
  // Gradient w.r.t. the output -> one gradient per input (undefined where none flows).
  virtual std::vector<Tensor> apply(const Tensor& grad_output) = 0;
  // Frees saved tensors once backward has used them (unless the graph is retained).
  virtual void release_saved() {}

  std::vector<std::shared_ptr<Node>> next;
  uint64_t sequence_nr;  // creation order: the engine runs later nodes first
  // Hooks registered on the output tensor of this node (Tensor::register_hook, retain_grad).
  std::vector<Hook> pre_hooks;
  // Metadata of the output, to check and shape incoming gradients.
  Shape output_shape;
  DType output_dtype = DType::Float32;
  Device output_device;
};

// Autograd state that only some tensors carry: accumulated .grad, hooks of a leaf, its AccumulateGrad node.
struct AutogradMeta {
  Tensor grad;
  std::weak_ptr<Node> grad_accumulator;
  std::vector<Hook> hooks;  // leaf hooks (non-leaf hooks live on the grad_fn)
  bool retains_grad = false;
};

AutogradMeta& meta_of(const Tensor& t);  // creates it on first use

// The terminal node of a leaf: runs the leaf's hooks and accumulates into its .grad.
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(const Tensor& leaf);
  const char* name() const override { return "AccumulateGrad"; }
  std::vector<Tensor> apply(const Tensor& grad_output) override;
  std::shared_ptr<TensorImpl> leaf() const { return leaf_.lock(); }

 private:
  std::weak_ptr<TensorImpl> leaf_;
};

// The node a tensor's gradient flows into: its grad_fn, or its leaf accumulator; null when it needs no grad.
std::shared_ptr<Node> gradient_edge(const Tensor& t);

// Adds `g` into `t`'s .grad (a fresh tensor, never aliasing g's storage when g may be reused).
void accumulate_grad(const Tensor& t, const Tensor& g);

}  // namespace tangent::autograd
