#pragma once
// Module: the base of every layer and model. A module owns named parameters, buffers and submodules, registered
// in order, so names nest like PyTorch's ("layers.0.weight"), and state_dict() / load_state_dict() round-trip.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace tangent::nn {

// An ordered list of (name, tensor): what state_dict() returns and load_state_dict() takes.
using StateDict = std::vector<std::pair<std::string, Tensor>>;

// Finds `name` in a StateDict (nullptr when absent).
const Tensor* find(const StateDict& dict, const std::string& name);

class Module : public std::enable_shared_from_this<Module> {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The computation; containers without one raise an Error.
  virtual Tensor forward(const Tensor& input);
  // forward() wrapped in the forward hooks: call modules through this (containers do), so hooks see them.
  Tensor operator()(const Tensor& input);

  // ---- forward hooks (as PyTorch's register_forward_hook) ----
  // A hook runs after forward() with (module, input, output); a defined result replaces the output. Hooks run in
  // registration order; register returns a handle for remove_forward_hook (unknown handles are ignored).
  using ForwardHook = std::function<Tensor(Module&, const Tensor& input, const Tensor& output)>;
  int64_t register_forward_hook(ForwardHook hook);
  void remove_forward_hook(int64_t handle);

  // The class name shown in summaries ("Linear"), and its one-line configuration ("in=784, out=10").
  virtual std::string type_name() const = 0;
  virtual std::string extra_repr() const { return ""; }

  // ---- registration (call from constructors) ----
  // Returns a handle to the stored tensor; keep it as a member (handles share the tensor).
  Tensor register_parameter(const std::string& name, Tensor tensor, bool requires_grad = true);
  Tensor register_buffer(const std::string& name, Tensor tensor);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

  // ---- traversal ----
  std::vector<Tensor> parameters(bool recurse = true) const;
  StateDict named_parameters(bool recurse = true) const;
  StateDict named_buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const { return children_; }
  // Every module in the tree (this one first, as ""), depth first, with its dotted name. Works for modules not
  // held by a shared_ptr too (the root's pointer then does not own it).
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules();
  int64_t num_parameters(bool trainable_only = false) const;

  // ---- modes and placement ----
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Converts every parameter and buffer in place (handles held elsewhere see the new data); floating
  // tensors only change dtype, integer buffers keep theirs. Gradients are dropped.
  void to(Device device);
  void to(DType dtype);
  void to(Device device, DType dtype);
  void zero_grad();

  // ---- state ----
  // Parameters and buffers by dotted name, in registration order.
  StateDict state_dict() const;
  // Copies values in (shapes and dtypes must match). strict: missing and unexpected keys raise an Error
  // listing them; a shape mismatch always raises.
  void load_state_dict(const StateDict& dict, bool strict = true);

  // A printed tree with each module's configuration and parameter counts.
  std::string summary() const;

 protected:
  void add_child(const std::string& name, std::shared_ptr<Module> module);

 private:
  void collect(const std::string& prefix, bool recurse, bool params, StateDict* out) const;
  void summary_into(std::string* out, const std::string& name, int indent) const;
  StateDict params_;
  StateDict buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  std::vector<std::pair<int64_t, ForwardHook>> forward_hooks_;
  int64_t next_hook_ = 0;
  bool training_ = true;
};

// Replaces the contents of `target` (storage, shape, dtype) with those of `source`, keeping the handle and its
// requires_grad flag: how Module::to and load_state_dict update tensors that members hold.
void set_data(const Tensor& target, const Tensor& source);

}  // namespace tangent::nn
