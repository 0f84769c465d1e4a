// Optimizer: parameter groups, zero_grad, the step loop over parameters, and state_dict / load_state_dict.
#include "nn/optim/optimizer.h"

#include <cmath>
#include <unordered_set>

#include "autograd/grad_mode.h"
#include "ops/shape_ops.h"

namespace tangent::optim {

const double* find_scalar(const std::vector<std::pair<std::string, double>>& scalars, const std::string& name) {
  for (const auto& kv : scalars)
    if (kv.first == name) return &kv.second;
  return nullptr;
}

Optimizer::Optimizer(std::vector<ParamGroup> groups, const GroupOptions& defaults)
    : groups_(std::move(groups)), defaults_(defaults) {}

void Optimizer::validate_groups() const {
  check_options(defaults_);
  std::unordered_set<const TensorImpl*> seen;
  for (const auto& group : groups_) {
    check_options(group.options);
    check_params(group.params);
    for (const auto& p : group.params) {
      TANGENT_CHECK(seen.insert(p.impl()).second, kind(), ": a parameter (shape ", p.shape(),
                    ") appears in more than one place in the parameter groups");
    }
  }
}

void Optimizer::check_params(const std::vector<Tensor>& params) const {
  for (const auto& p : params) {
    TANGENT_CHECK(p.defined(), kind(), ": a parameter is an undefined tensor");
    TANGENT_CHECK(p.is_floating_point(), kind(), ": can only optimize floating-point tensors, got dtype ", p.dtype(),
                  " (shape ", p.shape(), ")");
    TANGENT_CHECK(p.is_leaf(), kind(), ": can't optimize a non-leaf tensor (shape ", p.shape(),
                  "); pass the leaf parameters");
  }
}

void Optimizer::check_options(const GroupOptions& o) const {
  TANGENT_CHECK(o.lr >= 0.0, kind(), ": invalid learning rate ", o.lr, " (must be >= 0)");
  TANGENT_CHECK(o.weight_decay >= 0.0, kind(), ": invalid weight_decay ", o.weight_decay, " (must be >= 0)");
}

ParamGroup& Optimizer::add_param_group(std::vector<Tensor> params) {
  check_params(params);
  for (const auto& group : groups_)
    for (const auto& q : group.params)
      for (const auto& p : params)
        TANGENT_CHECK(!p.is_same(q), kind(), ": add_param_group: a parameter (shape ", p.shape(),
                      ") is already in another group");
  groups_.push_back(ParamGroup{std::move(params), defaults_});
  return groups_.back();
}

void Optimizer::step() {
  size_t total = 0;
  for (const auto& group : groups_) total += group.params.size();
  if (state_.size() < total) state_.resize(total);
  NoGradGuard no_grad;
  size_t index = 0;
  for (const auto& group : groups_) {
    for (const auto& p : group.params) {
      ParamState& st = state_[index++];
      Tensor g = p.grad();
      if (!g.defined()) continue;
      TANGENT_CHECK(g.shape() == p.shape() && g.device() == p.device(), kind(), ": gradient of shape ", g.shape(),
                    " on ", g.device(), " does not match its parameter of shape ", p.shape(), " on ", p.device());
      if (g.dtype() != p.dtype()) g = g.to(p.dtype());
      update(p, g, st, group.options);
    }
  }
  ++step_count_;
}

void Optimizer::zero_grad() {
  for (const auto& group : groups_)
    for (const auto& p : group.params)
      if (p.grad().defined()) p.set_grad(Tensor());
}

double Optimizer::lr() const { return groups_.empty() ? defaults_.lr : groups_.front().options.lr; }

void Optimizer::set_lr(double lr) {
  TANGENT_CHECK(lr >= 0.0, kind(), ": set_lr: invalid learning rate ", lr, " (must be >= 0)");
  for (auto& group : groups_) group.options.lr = lr;
}

// ---- state ----
namespace {

// The GroupOptions fields by name, for saving and restoring them generically.
template <typename F>
void for_each_option(GroupOptions& o, const F& f) {
  f("lr", o.lr);
  f("weight_decay", o.weight_decay);
  f("momentum", o.momentum);
  f("dampening", o.dampening);
  f("nesterov", o.nesterov);
  f("beta1", o.beta1);
  f("beta2", o.beta2);
  f("eps", o.eps);
  f("amsgrad", o.amsgrad);
  f("alpha", o.alpha);
  f("centered", o.centered);
}

}  // namespace

OptimizerState Optimizer::state_dict() const {
  OptimizerState out;
  out.kind = kind();
  const std::vector<std::string> names = buffer_names();
  out.scalars.emplace_back("step", static_cast<double>(step_count_));
  out.scalars.emplace_back("num_groups", static_cast<double>(groups_.size()));
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string prefix = "group." + std::to_string(g) + ".";
    out.scalars.emplace_back(prefix + "num_params", static_cast<double>(groups_[g].params.size()));
    GroupOptions o = groups_[g].options;
    for_each_option(
        o, [&](const char* name, auto& value) { out.scalars.emplace_back(prefix + name, static_cast<double>(value)); });
  }
  NoGradGuard no_grad;
  for (size_t i = 0; i < state_.size(); ++i) {
    const ParamState& st = state_[i];
    if (st.step > 0) out.scalars.emplace_back(std::to_string(i) + ".step", static_cast<double>(st.step));
    for (size_t b = 0; b < names.size() && b < st.buffers.size(); ++b)
      if (st.buffers[b].defined()) out.tensors.emplace_back(std::to_string(i) + "." + names[b], clone(st.buffers[b]));
  }
  return out;
}

void Optimizer::load_state_dict(const OptimizerState& state) {
  const std::string op = kind() + ": load_state_dict";
  TANGENT_CHECK(state.kind == kind(), op, ": the state was saved by a '", state.kind, "' optimizer, not '", kind(),
                "'");
  auto scalar = [&](const std::string& name) {
    const double* v = find_scalar(state.scalars, name);
    TANGENT_CHECK(v != nullptr, op, ": the state has no scalar '", name, "'");
    return *v;
  };
  TANGENT_CHECK(scalar("num_groups") == static_cast<double>(groups_.size()), op, ": the state has ",
                scalar("num_groups"), " parameter groups but this optimizer has ", groups_.size());
  std::vector<const Tensor*> params;  // by global index
  std::vector<GroupOptions> options(groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string prefix = "group." + std::to_string(g) + ".";
    const double n = scalar(prefix + "num_params");
    TANGENT_CHECK(n == static_cast<double>(groups_[g].params.size()), op, ": parameter group ", g, " has ", n,
                  " parameters in the state but ", groups_[g].params.size(), " in this optimizer");
    for (const auto& p : groups_[g].params) params.push_back(&p);
    options[g] = groups_[g].options;
    for_each_option(options[g], [&](const char* name, auto& value) {
      if (const double* v = find_scalar(state.scalars, prefix + name)) {
        using V = std::decay_t<decltype(value)>;
        value = std::is_same_v<V, bool> ? V(*v != 0.0) : static_cast<V>(*v);
      }
    });
    check_options(options[g]);
  }

  // Parse everything before changing anything, so a failed load leaves the optimizer as it was.
  const std::vector<std::string> names = buffer_names();
  std::vector<ParamState> fresh(params.size());
  auto parse_index = [&](const std::string& key, size_t dot) {
    const std::string head = key.substr(0, dot);
    TANGENT_CHECK(!head.empty() && head.find_first_not_of("0123456789") == std::string::npos, op,
                  ": unexpected state entry '", key, "'");
    const size_t i = static_cast<size_t>(std::stoull(head));
    TANGENT_CHECK(i < params.size(), op, ": state entry '", key, "' refers to parameter ", i, " but the optimizer has ",
                  params.size(), " parameters");
    return i;
  };
  for (const auto& kv : state.scalars) {
    const size_t dot = kv.first.find('.');
    if (dot == std::string::npos || kv.first.compare(0, 6, "group.") == 0) continue;
    const size_t i = parse_index(kv.first, dot);
    TANGENT_CHECK(kv.first.substr(dot + 1) == "step", op, ": unexpected state entry '", kv.first, "'");
    TANGENT_CHECK(kv.second >= 0 && kv.second == std::floor(kv.second), op, ": invalid step count ", kv.second,
                  " for parameter ", i);
    fresh[i].step = static_cast<int64_t>(kv.second);
  }
  NoGradGuard no_grad;
  for (const auto& kv : state.tensors) {
    const size_t dot = kv.first.find('.');
    TANGENT_CHECK(dot != std::string::npos, op, ": unexpected state entry '", kv.first, "'");
    const size_t i = parse_index(kv.first, dot);
    const std::string name = kv.first.substr(dot + 1);
    size_t b = 0;
    while (b < names.size() && names[b] != name) ++b;
    TANGENT_CHECK(b < names.size(), op, ": unexpected state entry '", kv.first, "' (", kind(),
                  " keeps no buffer named '", name, "')");
    const Tensor& p = *params[i];
    const Tensor& t = kv.second;
    TANGENT_CHECK(t.defined(), op, ": state entry '", kv.first, "' is an undefined tensor");
    TANGENT_CHECK(t.shape() == p.shape(), op, ": state entry '", kv.first, "' has shape ", t.shape(), " but parameter ",
                  i, " has shape ", p.shape());
    TANGENT_CHECK(t.is_floating_point(), op, ": state entry '", kv.first, "' has dtype ", t.dtype(),
                  ", expected a floating-point tensor");
    Tensor copy = t.to(p.device());
    if (copy.dtype() != p.dtype()) copy = copy.to(p.dtype());
    fresh[i].buffers[b] = copy.is_same(t) ? clone(t) : contiguous(copy);
  }

  for (size_t g = 0; g < groups_.size(); ++g) groups_[g].options = options[g];
  state_ = std::move(fresh);
  step_count_ = static_cast<int64_t>(scalar("step"));
}

}  // namespace tangent::optim
