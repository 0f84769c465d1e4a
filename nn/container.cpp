#include "nn/container.h"

#include "nn/onnx_emitter.h"

namespace tangent::nn {

Sequential::Sequential(std::initializer_list<std::shared_ptr<Module>> modules) {
  for (const auto& m : modules) push_back(m);
}

void Sequential::push_back(std::shared_ptr<Module> module) {
  register_module(std::to_string(modules_.size()), module);
  modules_.push_back(std::move(module));
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (auto& m : modules_) y = (*m)(y);  // through operator(), so forward hooks run
  return y;
}

ModuleList::ModuleList(std::initializer_list<std::shared_ptr<Module>> modules) {
  for (const auto& m : modules) push_back(m);
}

void ModuleList::push_back(std::shared_ptr<Module> module) {
  register_module(std::to_string(modules_.size()), module);
  modules_.push_back(std::move(module));
}

// ---- the containers in ONNX export (nn/onnx_emitter.h) ----
namespace {

// The children in order.
std::string emit_sequential(Sequential& s, OnnxContext& c, const std::string& x) {
  std::string y = x;
  for (auto& [name, child] : s.named_children()) y = c.emit_child(*child, name, y);
  return y;
}

[[maybe_unused]] const bool kOnnx =
    register_onnx_emitter<Sequential>("Sequential", emit_sequential, /*container=*/true) &&
    register_onnx_emitter<ModuleList>(
        "",  // not listed among the exporters
        [](ModuleList&, OnnxContext& c, const std::string&) -> std::string {
          c.unsupported("a ModuleList has no forward order to export");
        },
        /*container=*/true);

}  // namespace

}  // namespace tangent::nn
