#pragma once
// Optimizer: the base of SGD, Adam, AdamW and RMSprop. It holds parameter groups (each with its own typed
// hyperparameters), per-parameter state (a step count and up to three buffers), zero_grad(), and a complete,
// serialisable state (OptimizerState) from which training resumes bit-identically.
#include <array>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "nn/module.h"

namespace tangent::optim {

// Every hyperparameter any optimizer reads; each optimizer ignores the fields it does not use.
struct GroupOptions {
  double lr = 1e-3;           // all
  double weight_decay = 0.0;  // SGD, Adam, RMSprop: L2 added to the gradient; AdamW: decoupled, p *= 1 - lr * wd
  double momentum = 0.0;      // SGD, RMSprop
  double dampening = 0.0;     // SGD
  bool nesterov = false;      // SGD (needs momentum > 0 and dampening == 0)
  double beta1 = 0.9;         // Adam, AdamW
  double beta2 = 0.999;       // Adam, AdamW
  double eps = 1e-8;          // Adam, AdamW, RMSprop
  bool amsgrad = false;       // Adam, AdamW
  double alpha = 0.99;        // RMSprop (smoothing constant of the squared-gradient average)
  bool centered = false;      // RMSprop
};

// A set of parameters sharing hyperparameters.
struct ParamGroup {
  std::vector<Tensor> params;
  GroupOptions options;
};

// Everything needed to resume an optimizer exactly (what checkpoints store).
//   kind     "SGD", "Adam", "AdamW" or "RMSprop"
//   scalars  "step" (number of step() calls), "num_groups", and per group g: "group.g.num_params",
//            "group.g.<option>" for every GroupOptions field (bools as 0/1); per parameter i (its index counted
//            across all groups in order) that has taken steps: "i.step"
//   tensors  per-parameter buffers "i.<name>", e.g. "3.momentum_buffer", "3.exp_avg" (copies, not aliases)
struct OptimizerState {
  std::string kind;
  std::vector<std::pair<std::string, double>> scalars;
  nn::StateDict tensors;
};

// The value of `name` in `scalars` (nullptr when absent).
const double* find_scalar(const std::vector<std::pair<std::string, double>>& scalars, const std::string& name);

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient (parameters whose .grad is undefined are skipped).
  void step();
  // Sets every parameter's .grad to undefined (PyTorch's set_to_none=True).
  void zero_grad();

  // Subclass constructors take (params, options): the params form group 0 (no group when empty); further groups
  // are added with add_param_group. The optimizer holds handles to the parameters, so it keeps working when a
  // module converts them in place (its state follows a parameter's device and dtype).
  // Adds a group with this optimizer's default options and returns it, so options can be changed:
  //   opt.add_param_group(head.parameters()).options.lr = 1e-2;
  ParamGroup& add_param_group(std::vector<Tensor> params);
  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  const GroupOptions& defaults() const { return defaults_; }

  virtual std::string kind() const = 0;
  // The learning rate of the first group; set_lr sets it in every group (schedulers set groups one by one).
  double lr() const;
  void set_lr(double lr);
  // Number of step() calls so far.
  int64_t step_count() const { return step_count_; }

  OptimizerState state_dict() const;
  // Restores state saved by state_dict() of an optimizer of the same kind over parameters of the same shapes,
  // grouped the same way; raises an Error naming the mismatch otherwise. Group options are restored too.
  void load_state_dict(const OptimizerState& state);

  // Per-parameter state, indexed by the parameter's position across all groups.
  struct ParamState {
    int64_t step = 0;
    std::array<Tensor, 3> buffers;  // meaning given by buffer_names()
  };

 protected:
  Optimizer(std::vector<ParamGroup> groups, const GroupOptions& defaults);
  // Updates parameter p (with gradient g, same shape and dtype) in place.
  virtual void update(const Tensor& p, const Tensor& g, ParamState& state, const GroupOptions& options) = 0;
  // The names of the buffers this optimizer keeps, in ParamState::buffers order (at most 3).
  virtual std::vector<std::string> buffer_names() const = 0;
  // Raises an Error when `options` are invalid for this optimizer (negative lr, betas outside [0, 1), ...).
  virtual void check_options(const GroupOptions& options) const;
  // Constructors of subclasses call this once their virtual functions are usable.
  void validate_groups() const;

 private:
  void check_params(const std::vector<Tensor>& params) const;
  std::vector<ParamGroup> groups_;
  GroupOptions defaults_;
  std::vector<ParamState> state_;
  int64_t step_count_ = 0;
};

}  // namespace tangent::optim
