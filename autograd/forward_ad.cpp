#include "autograd/forward_ad.h"

#include <memory>
#include <unordered_map>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "core/error.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/shape_ops.h"

namespace tangent::autograd {

namespace forward {

namespace {

struct Entry {
  std::weak_ptr<TensorImpl> owner;  // an entry of a dead tensor (its address may be reused) is ignored
  Tensor tangent;
};

struct State {
  bool open = false;
  bool paused = false;
  std::unordered_map<const TensorImpl*, Entry> table;
  size_t sweep_at = 1024;  // drop dead tensors' entries when the table grows past this
};

State& state() {
  thread_local State s;
  return s;
}

void sweep(State& s) {
  for (auto it = s.table.begin(); it != s.table.end();) it = it->second.owner.expired() ? s.table.erase(it) : ++it;
  s.sweep_at = std::max<size_t>(1024, 2 * s.table.size());
}

}  // namespace

DualLevel::DualLevel() {
  State& s = state();
  TANGENT_CHECK(!s.open, "forward AD: a dual level is already open on this thread (nested jvp is not supported)");
  s.open = true;
  s.paused = false;
  detail::open_levels.fetch_add(1, std::memory_order_relaxed);
}

DualLevel::~DualLevel() {
  detail::open_levels.fetch_sub(1, std::memory_order_relaxed);
  State& s = state();
  s.open = false;
  s.paused = false;
  s.table.clear();
  s.sweep_at = 1024;
}

PauseGuard::PauseGuard() : prev_(state().paused) { state().paused = true; }
PauseGuard::~PauseGuard() { state().paused = prev_; }

bool active() {
  if (!any_level_open()) return false;
  const State& s = state();
  return s.open && !s.paused;
}

Tensor tangent(const Tensor& t) {
  if (!any_level_open()) return Tensor();
  State& s = state();
  if (!s.open || s.paused || !t.defined() || s.table.empty()) return Tensor();
  auto it = s.table.find(t.impl());
  if (it == s.table.end()) return Tensor();
  if (it->second.owner.lock().get() != t.impl()) {
    s.table.erase(it);
    return Tensor();
  }
  return it->second.tangent;
}

bool is_dual(const Tensor& t) { return tangent(t).defined(); }

bool any_dual(std::initializer_list<Tensor> ts) {
  if (!any_level_open() || !active()) return false;
  for (const auto& t : ts)
    if (is_dual(t)) return true;
  return false;
}

void set_tangent(const Tensor& t, const Tensor& tangent, const char* op) {
  State& s = state();
  TANGENT_CHECK(s.open, op, ": forward AD needs an open dual level (autograd::forward::DualLevel or jvp)");
  TANGENT_CHECK(t.defined() && tangent.defined(), op, ": the primal and its tangent must be defined");
  TANGENT_CHECK(tangent.device() == t.device(), op, ": tangent is on ", tangent.device(), " but the primal is on ",
                t.device());
  Tensor v = tangent;
  {
    PauseGuard pause;
    if (v.shape() != t.shape()) {
      TANGENT_CHECK(broadcast_shapes(v.shape(), t.shape(), op) == t.shape(), op, ": tangent of shape ", v.shape(),
                    " does not fit the primal of shape ", t.shape());
      v = v.expand(t.shape());
    }
    if (v.dtype() != t.dtype()) {
      TANGENT_CHECK(is_floating_point(t.dtype()), op, ": a tangent needs a floating primal, got ", t.dtype(),
                    " of shape ", t.shape());
      v = to_dtype(v, t.dtype());
    }
  }
  if (s.table.size() >= s.sweep_at) sweep(s);
  s.table[t.impl()] = Entry{t.impl_ptr(), v};
}

Tensor make_dual(const Tensor& primal, const Tensor& tangent) {
  TANGENT_CHECK(primal.defined() && tangent.defined(), "make_dual: the primal and its tangent must be defined");
  TANGENT_CHECK(tangent.shape() == primal.shape(), "make_dual: tangent of shape ", tangent.shape(),
                " but primal of shape ", primal.shape());
  TANGENT_CHECK(is_floating_point(primal.dtype()), "make_dual: the primal must be floating, got ", primal.dtype(),
                " of shape ", primal.shape());
  Tensor d;
  {
    PauseGuard pause;
    d = primal.requires_grad() ? primal.view(primal.shape()) : primal.detach();
  }
  set_tangent(d, tangent, "make_dual");
  return d;
}

std::pair<Tensor, Tensor> unpack_dual(const Tensor& t) { return {t, tangent(t)}; }

Tensor sum(const Tensor& a, const Tensor& b) {
  if (!a.defined()) return b;
  if (!b.defined()) return a;
  return add(a, b);
}

void rule_n(const char* op, const Tensor& out, const std::vector<Tensor>& inputs,
            const std::function<Tensor(const std::vector<Tensor>&)>& fn) {
  if (!any_level_open() || !active()) return;
  std::vector<Tensor> ts;
  bool any = false;
  for (const auto& in : inputs) {
    ts.push_back(in.defined() ? tangent(in) : Tensor());
    any = any || ts.back().defined();
  }
  if (!any) return;
  Tensor t;
  {
    PauseGuard pause;
    t = fn(ts);
  }
  set_tangent(out, t, op);
}

void check_rule(const char* op, const Tensor& out, const std::vector<Tensor>& inputs) {
  if (!active() || is_dual(out)) return;
  for (size_t i = 0; i < inputs.size(); ++i)
    TANGENT_CHECK(!inputs[i].defined() || !is_dual(inputs[i]), op, ": no forward-mode (jvp) rule; input ", i,
                  " (shape ", inputs[i].shape(), ", dtype ", inputs[i].dtype(),
                  ") is a dual tensor. Forward mode (jvp, hvp) does not support this op yet");
}

}  // namespace forward

std::pair<std::vector<Tensor>, std::vector<Tensor>> jvp(const Function& f, const std::vector<Tensor>& primals,
                                                        const std::vector<Tensor>& tangents) {
  TANGENT_CHECK(primals.size() == tangents.size(), "jvp: got ", primals.size(), " primals but ", tangents.size(),
                " tangents");
  bool keep_history = false;
  for (size_t i = 0; i < primals.size(); ++i) {
    TANGENT_CHECK(primals[i].defined(), "jvp: primal ", i, " is undefined");
    keep_history = keep_history || primals[i].requires_grad();
    if (!tangents[i].defined()) continue;  // an input held constant (e.g. integer indices)
    TANGENT_CHECK(primals[i].shape() == tangents[i].shape(), "jvp: primal ", i, " has shape ", primals[i].shape(),
                  " but its tangent has shape ", tangents[i].shape());
    keep_history = keep_history || tangents[i].requires_grad();
  }
  forward::DualLevel level;
  AutoGradMode grad_mode(true);  // every differentiable op records, so an op without a jvp rule is caught
  std::vector<Tensor> duals;
  for (size_t i = 0; i < primals.size(); ++i) {
    Tensor p = primals[i];
    if (!tangents[i].defined()) {
      duals.push_back(p);
      continue;
    }
    if (!p.requires_grad() && is_floating_point(p.dtype())) p = p.detach().requires_grad_(true);
    duals.push_back(forward::make_dual(p, tangents[i]));
  }
  std::vector<Tensor> outs = f(duals);
  std::vector<Tensor> out_tangents;
  for (size_t i = 0; i < outs.size(); ++i) {
    TANGENT_CHECK(outs[i].defined(), "jvp: output ", i, " of the function is undefined");
    Tensor t = forward::tangent(outs[i]);
    if (!t.defined()) t = zeros_like(outs[i]);  // an output that does not depend on the primals
    if (!keep_history) {
      outs[i] = outs[i].detach();
      t = t.detach();
    }
    out_tangents.push_back(t);
  }
  return {outs, out_tangents};
}

Tensor hvp(const std::function<Tensor(const Tensor&)>& f, const Tensor& x, const Tensor& v) {
  TANGENT_CHECK(x.defined() && v.defined() && x.shape() == v.shape(), "hvp: x and v must be defined with one shape");
  forward::DualLevel level;
  AutoGradMode grad_mode(true);
  const Tensor leaf = x.detach().requires_grad_(true);
  const Tensor dual = forward::make_dual(leaf, v);
  const Tensor y = f(dual);
  TANGENT_CHECK(y.defined() && y.numel() == 1, "hvp: the function must return one element, got shape ",
                y.defined() ? y.shape() : Shape{});
  const Tensor g = grad({y}, {dual}, {}, std::nullopt, /*create_graph=*/true)[0];
  Tensor hv = forward::tangent(g);
  if (!hv.defined()) hv = zeros_like(x);
  return x.requires_grad() || v.requires_grad() ? hv : hv.detach();
}

}  // namespace tangent::autograd
