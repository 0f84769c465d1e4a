#include "autograd/engine.h"

#include <queue>
#include <unordered_map>
#include <unordered_set>

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

// Runs the backward graph from `roots` seeded with `root_grads`. When `targets` is non-empty only the nodes that
// lead to a target run, and the gradient arriving at target i is stored in (*captured)[i] instead of being
// accumulated.
void execute(const std::vector<std::shared_ptr<Node>>& roots, const std::vector<Tensor>& root_grads,
             bool keep_graph, bool create_graph, const std::vector<std::shared_ptr<Node>>& targets,
             std::vector<Tensor>* captured) {
  const bool capture = !targets.empty();
  std::unordered_map<Node*, std::vector<size_t>> target_slots;
  for (size_t i = 0; i < targets.size(); ++i) target_slots[targets[i].get()].push_back(i);

  // Discover the graph (iterative DFS), then keep the nodes that lead to a target (all nodes without targets).
  std::vector<Node*> order;  // post-order: children before parents
  std::unordered_set<Node*> seen;
  std::vector<std::pair<Node*, size_t>> stack;
  for (const auto& r : roots)
    if (r && seen.insert(r.get()).second) stack.emplace_back(r.get(), 0);
  while (!stack.empty()) {
    auto& [node, child] = stack.back();
    if (child < node->next.size()) {
      Node* c = node->next[child++].get();
      if (c && seen.insert(c).second) stack.emplace_back(c, 0);
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }
  std::unordered_set<Node*> needed;
  for (Node* n : order) {  // children come first, so their status is known
    bool need = !capture || target_slots.count(n) > 0;
    for (const auto& c : n->next)
      if (c && needed.count(c.get())) need = true;
    if (need) needed.insert(n);
  }
  std::unordered_map<Node*, int> deps;
  for (Node* n : needed)
    for (const auto& c : n->next)
      if (c && needed.count(c.get())) ++deps[c.get()];

  AutoGradMode mode(create_graph);
  std::unordered_map<Node*, Tensor> buffers;
  auto add_to_buffer = [&](Node* n, const Tensor& g) {
    Tensor& b = buffers[n];
    b = b.defined() ? b + g : g;
  };
  for (size_t i = 0; i < roots.size(); ++i)
    if (roots[i] && needed.count(roots[i].get())) add_to_buffer(roots[i].get(), root_grads[i]);

  std::priority_queue<Node*, std::vector<Node*>, LaterFirst> ready;
  for (const auto& r : roots)
    if (r && needed.count(r.get()) && deps[r.get()] == 0) ready.push(r.get());
  std::unordered_set<Node*> queued;
  while (!ready.empty()) {
    Node* node = ready.top();
    ready.pop();
    if (!queued.insert(node).second) continue;
    Tensor grad;
    if (auto it = buffers.find(node); it != buffers.end()) {
      grad = std::move(it->second);
      buffers.erase(it);
    }
    if (grad.defined()) {
      grad = conform(*node, grad);  // root gradients; the others were conformed on arrival
      for (auto& hook : node->pre_hooks) {
        Tensor r = hook(grad);
        if (r.defined()) grad = r;
      }
    }
    if (capture) {
      if (auto it = target_slots.find(node); it != target_slots.end())
        for (size_t slot : it->second) (*captured)[slot] = grad;
    }
    std::vector<Tensor> input_grads;
    const bool is_accumulator = dynamic_cast<AccumulateGrad*>(node) != nullptr;
    if (grad.defined() && !(capture && is_accumulator)) {
      input_grads = node->apply(grad);
      TANGENT_CHECK(input_grads.size() == node->next.size() || node->next.empty(), node->name(),
                    ": backward returned ", input_grads.size(), " gradients for ", node->next.size(), " inputs");
    }
    if (!keep_graph) node->release_saved();
    for (size_t i = 0; i < node->next.size(); ++i) {
      Node* c = node->next[i].get();
      if (!c || !needed.count(c)) continue;
      if (i < input_grads.size() && input_grads[i].defined()) add_to_buffer(c, conform(*c, input_grads[i]));
      if (--deps[c] == 0) ready.push(c);
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
      TANGENT_CHECK(g.device() == out.device(), op, ": gradient ", i, " is on ", g.device(),
                    " but the output is on ", out.device());
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
                         const std::vector<Tensor>& grad_outputs, std::optional<bool> retain_graph,
                         bool create_graph, bool allow_unused) {
  std::vector<Tensor> seeds = seed_grads(outputs, grad_outputs, "grad");
  std::vector<std::shared_ptr<Node>> roots, targets;
  for (const auto& t : outputs) roots.push_back(gradient_edge(t));
  for (size_t i = 0; i < inputs.size(); ++i) {
    TANGENT_CHECK(inputs[i].defined() && inputs[i].requires_grad(), "grad: input ", i,
                  " does not require grad (shape ", inputs[i].defined() ? inputs[i].shape() : Shape{}, ")");
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
