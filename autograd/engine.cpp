// The backward engine: discovers the graph from the roots, counts dependencies, and runs nodes latest-first,
// accumulating the gradients that reach each node before it runs.
#include "autograd/engine.h"

#include <cstdint>
#include <queue>

#include "autograd/node.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace tangent::autograd {

namespace {

struct LaterFirst {
  bool operator()(const Node* a, const Node* b) const { return a->sequence_nr < b->sequence_nr; }
};

// Brings a gradient to the shape and dtype of the node's output (undoing broadcasting and promotion).
Tensor conform(const Node& node, Tensor g) {
  if (g.shape() != node.output_shape) g = sum_to(g, node.output_shape);
  if (g.dtype() != node.output_dtype) g = to_dtype(g, node.output_dtype);
  return g;
}

// Node* -> dense index of the node in this run (open addressing; cheaper than unordered_map's node allocations).
class NodeIndex {
 public:
  NodeIndex() { rehash(64); }
  // The index of n, or -1.
  int find(const Node* n) const {
    for (size_t i = slot(n);; i = (i + 1) & mask_) {
      if (keys_[i] == n) return vals_[i];
      if (!keys_[i]) return -1;
    }
  }
  // Inserts n with index `value` unless present; returns whether it was inserted.
  bool insert(const Node* n, int value) {
    if (2 * (size_ + 1) > keys_.size()) rehash(keys_.size() * 2);
    size_t i = slot(n);
    for (; keys_[i]; i = (i + 1) & mask_)
      if (keys_[i] == n) return false;
    keys_[i] = n;
    vals_[i] = value;
    ++size_;
    return true;
  }

 private:
  size_t slot(const Node* n) const {
    return static_cast<size_t>((reinterpret_cast<uintptr_t>(n) >> 4) * 0x9E3779B97F4A7C15ull >> 20) & mask_;
  }
  void rehash(size_t capacity) {
    std::vector<const Node*> keys = std::move(keys_);
    std::vector<int> vals = std::move(vals_);
    keys_.assign(capacity, nullptr);
    vals_.assign(capacity, -1);
    mask_ = capacity - 1;
    size_ = 0;
    for (size_t i = 0; i < keys.size(); ++i)
      if (keys[i]) insert(keys[i], vals[i]);
  }
  std::vector<const Node*> keys_;
  std::vector<int> vals_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

// Runs the backward graph from `roots` seeded with `root_grads`. When `targets` is non-empty only the nodes that
// lead to a target run, and the gradient arriving at target i is stored in (*captured)[i] instead of being
// accumulated. Per-node bookkeeping lives in vectors indexed by the node's discovery index.
void execute(const std::vector<std::shared_ptr<Node>>& roots, const std::vector<Tensor>& root_grads, bool keep_graph,
             bool create_graph, const std::vector<std::shared_ptr<Node>>& targets, std::vector<Tensor>* captured) {
  const bool capture = !targets.empty();

  // Discover the graph (iterative DFS), then keep the nodes that lead to a target (all nodes without targets).
  NodeIndex index;
  std::vector<Node*> nodes;  // by index
  std::vector<int> order;    // post-order: children before parents
  std::vector<std::pair<int, size_t>> stack;
  auto visit = [&](Node* n) {
    if (!index.insert(n, static_cast<int>(nodes.size()))) return;
    stack.emplace_back(static_cast<int>(nodes.size()), 0);
    nodes.push_back(n);
  };
  for (const auto& r : roots)
    if (r) visit(r.get());
  while (!stack.empty()) {
    auto& [id, child] = stack.back();
    Node* node = nodes[id];
    if (child < node->next.size()) {
      Node* c = node->next[child++].get();
      if (c) visit(c);  // may reallocate `stack`: the references above are not used after this
    } else {
      order.push_back(id);
      stack.pop_back();
    }
  }
  const size_t count = nodes.size();
  std::vector<std::vector<size_t>> target_slots(capture ? count : 0);
  for (size_t i = 0; i < targets.size(); ++i) {
    const int t = targets[i] ? index.find(targets[i].get()) : -1;
    if (t >= 0) target_slots[t].push_back(i);
  }
  auto id_of = [&](const Node* n) { return n ? index.find(n) : -1; };
  std::vector<char> needed(count, capture ? 0 : 1);
  if (capture) {
    for (int n : order) {  // children come first, so their status is known
      bool need = !target_slots[n].empty();
      for (const auto& c : nodes[n]->next)
        if (c && needed[id_of(c.get())]) need = true;
      needed[n] = need;
    }
  }
  std::vector<int> deps(count, 0);
  for (size_t n = 0; n < count; ++n) {
    if (!needed[n]) continue;
    for (const auto& c : nodes[n]->next) {
      const int ci = id_of(c.get());
      if (ci >= 0 && needed[ci]) ++deps[ci];
    }
  }

  AutoGradMode mode(create_graph);
  std::vector<Tensor> buffers(count);
  auto add_to_buffer = [&](int n, const Tensor& g) {
    Tensor& b = buffers[n];
    b = b.defined() ? b + g : g;
  };
  for (size_t i = 0; i < roots.size(); ++i) {
    const int r = id_of(roots[i].get());
    if (r >= 0 && needed[r]) add_to_buffer(r, root_grads[i]);
  }

  std::priority_queue<Node*, std::vector<Node*>, LaterFirst> ready;
  for (const auto& r : roots) {
    const int ri = id_of(r.get());
    if (ri >= 0 && needed[ri] && deps[ri] == 0) ready.push(r.get());
  }
  std::vector<char> queued(count, 0);
  while (!ready.empty()) {
    Node* node = ready.top();
    ready.pop();
    const int id = index.find(node);
    if (queued[id]) continue;
    queued[id] = 1;
    Tensor grad = std::move(buffers[id]);
    buffers[id] = Tensor();
    if (grad.defined()) {
      grad = conform(*node, grad);  // root gradients; the others were conformed on arrival
      for (auto& hook : node->pre_hooks) {
        Tensor r = hook(grad);
        if (r.defined()) grad = r;
      }
    }
    if (capture)
      for (size_t slot : target_slots[id]) (*captured)[slot] = grad;
    std::vector<Tensor> input_grads;
    if (grad.defined() && !(capture && dynamic_cast<AccumulateGrad*>(node) != nullptr)) {
      input_grads = node->apply(grad);
      TANGENT_CHECK(input_grads.size() == node->next.size() || node->next.empty(), node->name(), ": backward returned ",
                    input_grads.size(), " gradients for ", node->next.size(), " inputs");
    }
    if (!keep_graph) node->release_saved();
    for (size_t i = 0; i < node->next.size(); ++i) {
      Node* c = node->next[i].get();
      const int ci = id_of(c);
      if (ci < 0 || !needed[ci]) continue;
      if (i < input_grads.size() && input_grads[i].defined()) add_to_buffer(ci, conform(*c, input_grads[i]));
      if (--deps[ci] == 0) ready.push(c);
    }
  }
}

std::vector<Tensor> seed_grads(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
                               const char* op) {
  TANGENT_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(), op, ": got ", outputs.size(),
                " outputs but ", grad_outputs.size(), " gradients");
  std::vector<Tensor> seeds;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& out = outputs[i];
    TANGENT_CHECK(out.defined(), op, ": output ", i, " is undefined");
    TANGENT_CHECK(out.requires_grad(), op, ": element ", i,
                  " of the outputs does not require grad and has no grad_fn (shape ", out.shape(), ")");
    if (i < grad_outputs.size() && grad_outputs[i].defined()) {
      const Tensor& g = grad_outputs[i];
      TANGENT_CHECK(g.shape() == out.shape(), op, ": gradient ", i, " has shape ", g.shape(),
                    " but the output has shape ", out.shape());
      TANGENT_CHECK(g.device() == out.device(), op, ": gradient ", i, " is on ", g.device(), " but the output is on ",
                    out.device());
      seeds.push_back(g);
    } else {
      TANGENT_CHECK(out.numel() == 1, op,
                    ": a gradient can be created implicitly only for outputs with one element; output ", i,
                    " has shape ", out.shape());
      seeds.push_back(ones_like(out));
    }
  }
  return seeds;
}

}  // namespace

void backward(const std::vector<Tensor>& tensors, const std::vector<Tensor>& grad_tensors,
              std::optional<bool> retain_graph, bool create_graph) {
  std::vector<Tensor> seeds = seed_grads(tensors, grad_tensors, "backward");
  std::vector<std::shared_ptr<Node>> roots;
  for (const auto& t : tensors) roots.push_back(gradient_edge(t));
  execute(roots, seeds, retain_graph.value_or(create_graph), create_graph, {}, nullptr);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, std::optional<bool> retain_graph, bool create_graph,
                         bool allow_unused) {
  std::vector<Tensor> seeds = seed_grads(outputs, grad_outputs, "grad");
  std::vector<std::shared_ptr<Node>> roots, targets;
  for (const auto& t : outputs) roots.push_back(gradient_edge(t));
  for (size_t i = 0; i < inputs.size(); ++i) {
    TANGENT_CHECK(inputs[i].defined() && inputs[i].requires_grad(), "grad: input ", i, " does not require grad (shape ",
                  inputs[i].defined() ? inputs[i].shape() : Shape{}, ")");
    targets.push_back(gradient_edge(inputs[i]));
  }
  std::vector<Tensor> result(inputs.size());
  if (inputs.empty()) return result;
  execute(roots, seeds, retain_graph.value_or(create_graph), create_graph, targets, &result);
  for (size_t i = 0; i < result.size(); ++i) {
    TANGENT_CHECK(result[i].defined() || allow_unused, "grad: input ", i, " (shape ", inputs[i].shape(),
                  ") was not used to compute the outputs; pass allow_unused=true to get an undefined gradient");
  }
  return result;
}

}  // namespace tangent::autograd
