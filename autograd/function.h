#pragma once
// How an op records its backward. In an op's forward (ops/*.cpp):
//
//   Tensor out = ...;  // computed by the backend
//   if (autograd::needs_grad(a, b))
//     autograd::record("mul", out, {a, b}, {a, b}, [](const Tensor& g, autograd::Context& ctx) {
//       return std::vector<Tensor>{g * ctx.saved(1), g * ctx.saved(0)};
//     });
//
// The backward lambda sees the gradient w.r.t. `out` and returns one gradient per input (undefined to skip).
// It is written with differentiable ops, so create_graph=true records it too (higher-order gradients).
// Gradients may keep the broadcast shape or a promoted dtype: the engine reduces them (sum_to) and casts them
// to each input's shape and dtype.
#include <initializer_list>
#include <utility>
#include <vector>

#include "autograd/node.h"

namespace tangent::autograd {

// A tensor saved for backward, with the version it had: unpacking after an in-place change raises an Error.
class SavedTensor {
 public:
  SavedTensor() = default;
  SavedTensor(const Tensor& t, bool is_output);
  // `owner` is the node that saved it (used to give a saved output its history back under create_graph).
  Tensor unpack(const Node& owner, const char* op) const;
  void reset() { data_ = Tensor(); }
  bool defined() const { return data_.defined(); }

 private:
  Tensor data_;
  uint64_t version_ = 0;
  bool is_output_ = false;
};

class FunctionNode;

class Context {
 public:
  explicit Context(FunctionNode& node) : node_(node) {}
  Tensor saved(size_t i) const;
  Tensor output() const;                // the op's output, when recorded with save_output
  bool needs_grad(size_t input) const;  // whether input `input` wants a gradient

 private:
  FunctionNode& node_;
};

class FunctionNode : public Node {
 public:
  const char* name() const override { return name_; }
  void release_saved() override;
  std::vector<Tensor> apply(const Tensor& grad_output) override;

 protected:
  FunctionNode(const char* name, size_t num_saved) : name_(name) { saved_.reserve(num_saved); }
  virtual std::vector<Tensor> run(const Tensor& grad_output, Context& ctx) = 0;

 private:
  friend class Context;
  friend std::shared_ptr<Node> attach(const std::shared_ptr<FunctionNode>&, const Tensor&,
                                      std::initializer_list<Tensor>, std::initializer_list<Tensor>, bool);
  const char* name_;
  std::vector<SavedTensor> saved_;
  SavedTensor output_;
  bool released_ = false;
};

template <typename F>
class LambdaNode final : public FunctionNode {
 public:
  LambdaNode(const char* name, size_t num_saved, F fn) : FunctionNode(name, num_saved), fn_(std::move(fn)) {}

 protected:
  std::vector<Tensor> run(const Tensor& grad_output, Context& ctx) override { return fn_(grad_output, ctx); }

 private:
  F fn_;
};

// True when grad mode is on and any of the tensors requires grad.
inline bool needs_grad(const Tensor& a) { return a.requires_grad() && GradMode::is_enabled(); }
template <typename... Ts>
bool needs_grad(const Tensor& a, const Ts&... rest) {
  return GradMode::is_enabled() && (a.requires_grad() || (rest.requires_grad() || ...));
}
bool needs_grad(const std::vector<Tensor>& ts);

// Wires `node` into the graph: edges to the inputs' gradient nodes, saved tensors, and out's history.
std::shared_ptr<Node> attach(const std::shared_ptr<FunctionNode>& node, const Tensor& out,
                             std::initializer_list<Tensor> inputs, std::initializer_list<Tensor> saved,
                             bool save_output);

template <typename F>
std::shared_ptr<Node> record(const char* name, const Tensor& out, std::initializer_list<Tensor> inputs,
                             std::initializer_list<Tensor> saved, F&& fn, bool save_output = false) {
  auto node = std::make_shared<LambdaNode<std::decay_t<F>>>(name, saved.size(), std::forward<F>(fn));
  return attach(node, out, inputs, saved, save_output);
}

// Same, for ops with a variable number of inputs (cat, stack).
std::shared_ptr<Node> record_n(const char* name, const Tensor& out, const std::vector<Tensor>& inputs,
                               std::function<std::vector<Tensor>(const Tensor&, Context&)> fn);

}  // namespace tangent::autograd
