// empirical_ntk: input checks, the parameter set, and the choice between the structured and the jacobian methods
// (nn/ntk/structured.cpp, nn/ntk/jacobian.cpp), which add their terms into one float64 accumulator.
#include "nn/ntk/ntk.h"

#include <chrono>
#include <set>

#include "autograd/grad_mode.h"
#include "core/error.h"
#include "nn/model.h"
#include "nn/ntk/ntk_internal.h"
#include "ops/elementwise.h"

namespace tangent::ntk {

Mode parse_mode(const std::string& name) {
  if (name == "full") return Mode::Full;
  if (name == "trace") return Mode::Trace;
  if (name == "diagonal" || name == "diag") return Mode::Diagonal;
  TANGENT_FAIL("ntk: unknown mode '", name, "' (expected full, trace or diagonal)");
}

Method parse_method(const std::string& name) {
  if (name == "auto") return Method::Auto;
  if (name == "jacobian") return Method::Jacobian;
  if (name == "structured") return Method::Structured;
  TANGENT_FAIL("ntk: unknown method '", name, "' (expected auto, jacobian or structured)");
}

const char* mode_name(Mode mode) {
  switch (mode) {
    case Mode::Full:
      return "full";
    case Mode::Trace:
      return "trace";
    case Mode::Diagonal:
      return "diagonal";
  }
  return "?";
}

const char* method_name(Method method) {
  switch (method) {
    case Method::Auto:
      return "auto";
    case Method::Jacobian:
      return "jacobian";
    case Method::Structured:
      return "structured";
  }
  return "?";
}

namespace {

void check_inputs(nn::Module& model, const Tensor& x1, const Tensor& x2, const NtkOptions& options) {
  TANGENT_CHECK(x1.defined() && x1.dim() >= 1 && x1.size(0) >= 1,
                "empirical_ntk: x1 must be a batch with at least one example (batch dim first), got ",
                x1.defined() ? x1.shape() : Shape{});
  const Shape per1(x1.shape().begin() + 1, x1.shape().end());
  if (x2.defined()) {
    TANGENT_CHECK(x2.dim() >= 1 && x2.size(0) >= 1, "empirical_ntk: x2 must be a batch with at least one example, got ",
                  x2.shape());
    const Shape per2(x2.shape().begin() + 1, x2.shape().end());
    TANGENT_CHECK(per1 == per2 && x1.dtype() == x2.dtype(), "empirical_ntk: x1 ", x1.shape(), " ", x1.dtype(),
                  " and x2 ", x2.shape(), " ", x2.dtype(), " must have the same example shape and dtype");
  }
  if (auto* m = dynamic_cast<nn::Model*>(&model)) {
    const Shape want = m->input_shape();
    TANGENT_CHECK(per1 == want || (per1.size() == 1 && per1[0] == want.numel()), "empirical_ntk: the ", m->kind(),
                  " model takes examples of shape ", want, " but x1 has shape ", x1.shape());
    const bool want_float = is_floating_point(m->input_dtype());
    TANGENT_CHECK(want_float ? x1.is_floating_point() : x1.dtype() == m->input_dtype(), "empirical_ntk: the ",
                  m->kind(), " model takes ", m->input_dtype(), " inputs but x1 is ", x1.dtype());
  }
  TANGENT_CHECK(options.tile >= 0, "empirical_ntk: tile must be >= 0 (0: from the memory budget), got ", options.tile);
  TANGENT_CHECK(options.max_memory_mb > 0, "empirical_ntk: max_memory_mb must be positive, got ",
                options.max_memory_mb);
  TANGENT_CHECK(is_floating_point(options.dtype), "empirical_ntk: the result dtype must be floating, got ",
                options.dtype);
}

}  // namespace

namespace detail {

int64_t outputs_per_example(const Tensor& f, int64_t batch) {
  TANGENT_CHECK(f.defined() && f.numel() >= 1 && f.is_floating_point(),
                "empirical_ntk: the model must return floating outputs, got ", f.defined() ? f.shape() : Shape{});
  TANGENT_CHECK(f.dim() >= 1 && f.size(0) == batch, "empirical_ntk: the model output ", f.shape(),
                " has no batch dim for a batch of ", batch);
  return f.numel() / batch;
}

}  // namespace detail

NtkResult empirical_ntk(nn::Module& model, const Tensor& x1, const Tensor& x2, const NtkOptions& given) {
  const auto start = std::chrono::steady_clock::now();
  check_inputs(model, x1, x2, given);
  NtkOptions options = given;
  const int64_t ranks = options.group ? options.group->size() : 1;
  if (ranks == 1) {
    options.group = nullptr;
  } else if (options.tile == 0) {
    const int64_t n = std::max(x1.size(0), x2.defined() ? x2.size(0) : 0);
    options.tile = std::max<int64_t>(1, (n + 2 * ranks - 1) / (2 * ranks));
  }
  const bool symmetric = !x2.defined();
  const Tensor& other = symmetric ? x1 : x2;

  // The trainable parameters, once each (a tensor shared by two modules keeps its first name).
  std::vector<std::pair<std::string, Tensor>> params;
  std::set<const void*> seen;
  for (auto& [name, p] : model.named_parameters())
    if (p.requires_grad() && seen.insert(p.impl()).second) params.emplace_back(name, p);
  TANGENT_CHECK(!params.empty(), "empirical_ntk: the model has no trainable parameters");

  detail::EvalModeGuard eval_mode(model);
  std::unique_ptr<detail::StructuredNtk> structured;
  int64_t outputs = 0;
  if (options.method != Method::Jacobian) {
    structured = detail::discover_structured(model, params, options, x1);
    outputs = structured->outputs();
    const auto& uncovered = structured->uncovered();
    if (options.method == Method::Structured && !uncovered.empty()) {
      std::string list;
      for (size_t i = 0; i < uncovered.size(); ++i)
        list += (i ? "; " : "") + uncovered[i] + " (" + structured->reasons()[i] + ")";
      TANGENT_FAIL("empirical_ntk: the structured method has no rule for ", list,
                   "; use method auto (falls back to the jacobian method for these) or jacobian");
    }
  } else {
    NoGradGuard no_grad;
    outputs = detail::outputs_per_example(model(detail::rows(x1, 0, 1)), 1);
  }

  std::vector<std::string> names;
  if (options.per_layer)
    for (const auto& kv : params) names.push_back(kv.first);
  detail::KernelAccumulator acc(options.mode, x1.size(0), other.size(0), outputs, symmetric, names);

  NtkResult result;
  std::vector<std::string> uncovered;
  int64_t peak = 0;
  if (structured) {
    uncovered = structured->uncovered();
    if (uncovered.size() < params.size()) peak = structured->run(x1, other, symmetric, acc, options.progress);
  }
  detail::JacobianPlan plan;
  plan.outputs = outputs;
  if (options.method == Method::Jacobian) {
    plan.params = params;
  } else {
    std::set<std::string> left(uncovered.begin(), uncovered.end());
    for (const auto& kv : params)
      if (left.count(kv.first)) plan.params.push_back(kv);
    for (const auto& kv : plan.params) result.fallback.push_back(kv.first);
  }
  peak = std::max(peak, detail::jacobian_ntk(model, x1, other, symmetric, plan, options, acc, options.progress));

  Tensor kernel = acc.kernel();
  std::vector<std::pair<std::string, Tensor>> terms = acc.per_layer();
  if (options.group) {  // each entry was computed by one rank; the others hold zeros there
    options.group->all_reduce(kernel);
    for (auto& kv : terms) options.group->all_reduce(kv.second);
  }
  if (options.trace_mean && options.mode == Mode::Trace) {
    kernel = div(kernel, static_cast<double>(outputs));
    for (auto& kv : terms) kv.second = div(kv.second, static_cast<double>(outputs));
  }
  result.kernel = kernel.to(options.dtype);
  for (auto& kv : terms) result.per_layer.emplace_back(kv.first, kv.second.to(options.dtype));
  result.method = options.method == Method::Jacobian    ? Method::Jacobian
                  : plan.params.empty()                 ? Method::Structured
                  : plan.params.size() == params.size() ? Method::Jacobian
                                                        : Method::Auto;
  result.peak_bytes = peak;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace tangent::ntk
