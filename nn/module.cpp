#include "nn/module.h"

#include <optional>
#include <sstream>

#include "autograd/grad_mode.h"
#include "ops/elementwise.h"
#include "ops/factory.h"

namespace tangent::nn {

const Tensor* find(const StateDict& dict, const std::string& name) {
  for (const auto& [k, v] : dict)
    if (k == name) return &v;
  return nullptr;
}

Tensor Module::forward(const Tensor&) { TANGENT_FAIL(type_name(), ": this module has no forward()"); }

Tensor Module::operator()(const Tensor& input) {
  Tensor out = forward(input);
  if (forward_hooks_.empty()) return out;
  const auto hooks = forward_hooks_;  // a hook may remove itself
  for (const auto& [handle, hook] : hooks) {
    Tensor r = hook(*this, input, out);
    if (r.defined()) out = r;
  }
  return out;
}

int64_t Module::register_forward_hook(ForwardHook hook) {
  TANGENT_CHECK(hook != nullptr, type_name(), ": register_forward_hook got an empty hook");
  forward_hooks_.emplace_back(next_hook_, std::move(hook));
  return next_hook_++;
}

void Module::remove_forward_hook(int64_t handle) {
  for (auto it = forward_hooks_.begin(); it != forward_hooks_.end(); ++it)
    if (it->first == handle) {
      forward_hooks_.erase(it);
      return;
    }
}

Tensor Module::register_parameter(const std::string& name, Tensor tensor, bool requires_grad) {
  TANGENT_CHECK(!name.empty() && name.find('.') == std::string::npos, type_name(), ": invalid parameter name '", name,
                "'");
  TANGENT_CHECK(!find(params_, name) && !find(buffers_, name), type_name(), ": '", name, "' is already registered");
  TANGENT_CHECK(tensor.defined(), type_name(), ": parameter '", name, "' is undefined");
  Tensor p = tensor.requires_grad() && tensor.is_leaf() ? tensor : tensor.detach();
  if (requires_grad) p.requires_grad_(true);
  params_.emplace_back(name, p);
  return p;
}

Tensor Module::register_buffer(const std::string& name, Tensor tensor) {
  TANGENT_CHECK(!name.empty() && name.find('.') == std::string::npos, type_name(), ": invalid buffer name '", name,
                "'");
  TANGENT_CHECK(!find(params_, name) && !find(buffers_, name), type_name(), ": '", name, "' is already registered");
  buffers_.emplace_back(name, tensor.detach());
  return buffers_.back().second;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  TANGENT_CHECK(module != nullptr, type_name(), ": submodule '", name, "' is null");
  for (const auto& c : children_)
    TANGENT_CHECK(c.first != name, type_name(), ": submodule '", name, "' is already registered");
  children_.emplace_back(name, std::move(module));
}

void Module::collect(const std::string& prefix, bool recurse, bool params, StateDict* out) const {
  for (const auto& [k, v] : params ? params_ : buffers_) out->emplace_back(prefix + k, v);
  if (!recurse) return;
  for (const auto& [k, m] : children_) m->collect(prefix + k + ".", true, params, out);
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& kv : named_parameters(recurse)) out.push_back(kv.second);
  return out;
}

StateDict Module::named_parameters(bool recurse) const {
  StateDict out;
  collect("", recurse, true, &out);
  return out;
}

StateDict Module::named_buffers(bool recurse) const {
  StateDict out;
  collect("", recurse, false, &out);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_modules() {
  // A module not owned by a shared_ptr (e.g. on the stack) is listed through a non-owning pointer.
  std::shared_ptr<Module> self = weak_from_this().lock();
  if (!self) self = std::shared_ptr<Module>(std::shared_ptr<Module>(), this);
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> out{{"", self}};
  for (const auto& [k, m] : children_)
    for (auto& [sub, mod] : m->named_modules()) out.emplace_back(sub.empty() ? k : k + "." + sub, mod);
  return out;
}

int64_t Module::num_parameters(bool trainable_only) const {
  int64_t n = 0;
  for (const auto& p : parameters())
    if (!trainable_only || p.requires_grad()) n += p.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& c : children_) c.second->train(on);
}

void set_data(const Tensor& target, const Tensor& source) {
  TensorImpl* t = target.impl();
  const TensorImpl* s = source.impl();
  t->storage = s->storage;
  t->shape = s->shape;
  t->strides = s->strides;
  t->offset = s->offset;
  t->numel = s->numel;
  t->dtype = s->dtype;
  t->is_view = false;
  if (t->autograd) target.set_grad(Tensor());
}

namespace {
void convert_all(const StateDict& tensors, std::optional<Device> device, std::optional<DType> dtype) {
  NoGradGuard guard;
  for (const auto& [name, t] : tensors) {
    Tensor v = t;
    if (dtype && t.is_floating_point() && t.dtype() != *dtype) v = v.to(*dtype).contiguous();
    if (device && v.device() != *device) v = v.to(*device);
    if (!v.is_same(t)) set_data(t, v);
  }
}
}  // namespace

void Module::to(Device device) {
  convert_all(named_parameters(), device, std::nullopt);
  convert_all(named_buffers(), device, std::nullopt);
}

void Module::to(DType dtype) {
  convert_all(named_parameters(), std::nullopt, dtype);
  convert_all(named_buffers(), std::nullopt, dtype);
}

void Module::to(Device device, DType dtype) {
  convert_all(named_parameters(), device, dtype);
  convert_all(named_buffers(), device, dtype);
}

void Module::zero_grad() {
  for (auto& p : parameters()) p.set_grad(Tensor());
}

StateDict Module::state_dict() const {
  StateDict out;
  collect("", true, true, &out);
  collect("", true, false, &out);
  return out;
}

void Module::load_state_dict(const StateDict& dict, bool strict) {
  const StateDict own = state_dict();
  std::vector<std::string> missing, unexpected;
  for (const auto& [k, v] : own)
    if (!find(dict, k)) missing.push_back(k);
  for (const auto& [k, v] : dict)
    if (!find(own, k)) unexpected.push_back(k);
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  };
  if (strict) {
    TANGENT_CHECK(missing.empty() && unexpected.empty(), "load_state_dict (", type_name(),
                  "): ", missing.empty() ? "" : "missing keys: " + join(missing),
                  (!missing.empty() && !unexpected.empty()) ? "; " : "",
                  unexpected.empty() ? "" : "unexpected keys: " + join(unexpected));
  }
  // Every shape is checked before anything is copied, so a failed load leaves the module unchanged.
  for (const auto& [k, target] : own) {
    const Tensor* src = find(dict, k);
    TANGENT_CHECK(!src || src->shape() == target.shape(), "load_state_dict (", type_name(), "): '", k, "' has shape ",
                  src->shape(), " in the checkpoint but ", target.shape(), " in the model");
  }
  NoGradGuard guard;
  for (const auto& [k, target] : own) {
    const Tensor* src = find(dict, k);
    if (!src) continue;
    Tensor v = src->to(target.device()).to(target.dtype()).contiguous();
    set_data(target, v.is_same(*src) ? v.clone() : v);
  }
}

void Module::summary_into(std::string* out, const std::string& name, int indent) const {
  std::ostringstream os;
  const int64_t own = [&] {
    int64_t n = 0;
    for (const auto& kv : params_) n += kv.second.numel();
    return n;
  }();
  os << std::string(static_cast<size_t>(indent) * 2, ' ') << (name.empty() ? "" : "(" + name + "): ") << type_name()
     << "(" << extra_repr() << ")";
  if (children_.empty()) {
    if (own > 0) os << "  # " << own << " params";
  } else {
    os << "  # " << num_parameters() << " params";
  }
  *out += os.str() + "\n";
  for (const auto& [k, m] : children_) m->summary_into(out, k, indent + 1);
}

std::string Module::summary() const {
  std::string out;
  summary_into(&out, "", 0);
  out += "Total parameters: " + std::to_string(num_parameters()) + " (trainable " +
         std::to_string(num_parameters(true)) + ")\n";
  return out;
}

}  // namespace tangent::nn
