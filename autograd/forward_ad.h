#pragma once
// Forward-mode differentiation (jvp) with dual tensors.
//
// Inside a DualLevel a tensor may carry a tangent (make_dual). The tangents live in a per-thread table owned by
// the level, keyed by TensorImpl and dropped when the level closes; core's TensorImpl knows nothing of them.
// Every op that sees a dual input computes its output's tangent with a jvp rule written next to its backward:
//
//   Tensor out = ...;  // computed by the backend
//   autograd::forward::rule("mul", out, {a, b}, [&](const std::vector<Tensor>& t) {
//     return forward::sum(t[0].defined() ? mul(t[0], b) : Tensor(), t[1].defined() ? mul(a, t[1]) : Tensor());
//   });
//   if (autograd::needs_grad(a, b)) autograd::record(...);
//
// t[i] is input i's tangent (undefined where it has none). The rule runs with forward mode paused (one level:
// no tangents of tangents) and is written with differentiable ops, so reverse mode goes through it and the
// backward of an op run on dual tensors gets tangents too (forward-over-reverse: hvp). The rule's result is
// broadcast and cast to the output's shape and dtype. An op that records a backward on a dual input without
// having set its output's tangent raises an Error naming the op (autograd::attach checks; jvp() makes its
// primals require grad so that every differentiable op records).
#include <atomic>
#include <functional>
#include <initializer_list>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace tangent::autograd {

namespace forward {

// Opens the (single) forward-AD level of this thread for its scope; its tangents are dropped at the end.
class DualLevel {
 public:
  DualLevel();
  ~DualLevel();
  DualLevel(const DualLevel&) = delete;
  DualLevel& operator=(const DualLevel&) = delete;
};

// Pauses forward mode for its scope (jvp rules run under it).
class PauseGuard {
 public:
  PauseGuard();
  ~PauseGuard();
  PauseGuard(const PauseGuard&) = delete;
  PauseGuard& operator=(const PauseGuard&) = delete;

 private:
  bool prev_;
};

namespace detail {
// How many dual levels are open in the process: with none, ops skip forward mode with one relaxed load.
inline std::atomic<int> open_levels{0};
}  // namespace detail
inline bool any_level_open() { return detail::open_levels.load(std::memory_order_relaxed) != 0; }

bool active();                    // a level is open on this thread and not paused
Tensor tangent(const Tensor& t);  // t's tangent; undefined when none (or no active level)
bool is_dual(const Tensor& t);    // active() and t has a tangent
bool any_dual(std::initializer_list<Tensor> ts);
// Attaches `tangent` to t (broadcast to t's shape and cast to its dtype); `op` names the caller in errors.
void set_tangent(const Tensor& t, const Tensor& tangent, const char* op);
// A new handle on primal's values (with primal's history) carrying `tangent` (same shape as primal). Needs a level.
Tensor make_dual(const Tensor& primal, const Tensor& tangent);
// (primal, tangent) of a dual tensor; the tangent is undefined when it has none.
std::pair<Tensor, Tensor> unpack_dual(const Tensor& t);
// a + b where both are defined, else the defined one (tangent sums skip inputs without a tangent).
Tensor sum(const Tensor& a, const Tensor& b);

template <typename F>
void rule(const char* op, const Tensor& out, std::initializer_list<Tensor> inputs, F&& fn) {
  if (!any_level_open() || !active()) return;
  std::vector<Tensor> ts;
  ts.reserve(inputs.size());
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

// Same, for ops with a variable number of inputs.
void rule_n(const char* op, const Tensor& out, const std::vector<Tensor>& inputs,
            const std::function<Tensor(const std::vector<Tensor>&)>& fn);

// Raises the "no jvp rule" Error when forward mode is active, an input is dual and `out` has no tangent.
void check_rule(const char* op, const Tensor& out, const std::vector<Tensor>& inputs);

}  // namespace forward

using Function = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

// Forward mode: (f(primals), J_f(primals) . tangents), one tangent per primal (same shape; undefined holds that
// primal constant, e.g. integer indices). An output that does not depend on the primals gets a zero tangent. The
// outputs and
// their tangents carry history only where a primal or tangent required grad (reverse-over-forward).
std::pair<std::vector<Tensor>, std::vector<Tensor>> jvp(const Function& f, const std::vector<Tensor>& primals,
                                                        const std::vector<Tensor>& tangents);

// Hessian-vector product of a scalar function, forward-over-reverse: the jvp of grad f at x along v.
Tensor hvp(const std::function<Tensor(const Tensor&)>& f, const Tensor& x, const Tensor& v);

}  // namespace tangent::autograd
