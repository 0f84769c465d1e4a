#pragma once
// How a module maps itself to ONNX nodes. nn/onnx_export.cpp only walks the module tree: for each module it looks
// up the emitter registered for the module's exact type and calls it. Each layer (and each ready-made model)
// registers its emitter beside its own code, e.g. at the end of nn/linear.cpp:
//
//   [[maybe_unused]] const bool kOnnx = register_onnx_emitter<Linear>("Linear", [](Linear& l, OnnxContext& c,
//                                                                                const std::string& x) { ... });
//
// Registration runs when the library loads (a static initialiser in the layer's own object file, the one that
// also holds its constructor, so it is linked whenever the layer is); the registry is a function-local static, so
// the order in which object files initialise does not matter. A type with no emitter is an Error naming its path.
// ONNX headers stay out of this file: emitters build the graph through OnnxContext only.
#include <cstdint>
#include <functional>
#include <string>
#include <typeindex>
#include <typeinfo>
#include <utility>
#include <vector>

#include "nn/module.h"
#include "nn/onnx_export.h"

namespace tangent::nn {

namespace detail {
class OnnxExporter;  // nn/onnx_export.cpp
}

// One attribute of an ONNX node; the exporter writes them in the order given.
struct OnnxAttribute {
  enum class Kind { Int, Ints, Float };
  std::string name;
  Kind kind = Kind::Int;
  int64_t i = 0;
  std::vector<int64_t> ints;
  double f = 0;  // written as float32

  static OnnxAttribute integer(std::string name, int64_t v);
  static OnnxAttribute integers(std::string name, std::vector<int64_t> v);
  static OnnxAttribute real(std::string name, double v);
};

// What one emitter sees: its module's dotted path, a sample batch of the module's input (the real shape and dtype,
// e.g. Linear on [N, in] vs [N, ..., in]), and the graph under construction. Made by the exporter only.
class OnnxContext {
 public:
  OnnxContext(detail::OnnxExporter& exporter, Module& module, std::string path, Tensor* sample)
      : exporter_(exporter), module_(module), path_(std::move(path)), sample_(sample) {}
  // The context of `child`, the part `local` of this module, sharing this context's sample: for models that emit
  // their parts' nodes themselves (models/gpt_onnx.cpp) instead of through emit_child.
  OnnxContext child(Module& child, const std::string& local) const {
    return OnnxContext(exporter_, child, name(local), sample_);
  }

  const std::string& path() const { return path_; }  // "features.3"; empty for the root
  const Tensor& sample() const { return *sample_; }
  std::string sample_shape() const;     // "[2, 3, 28, 28]", for messages
  static std::string number(double v);  // as the exporter writes numbers in names and docs (9 digits)
  // The dotted name of `local` inside this module ("features.3.weight"; `local` alone at the root).
  std::string name(const std::string& local) const { return path_.empty() ? local : path_ + "." + local; }

  // Adds a node with one output; returns the output's name (also the node's name: "<path>/<op>", made unique).
  std::string node(const std::string& op, const std::vector<std::string>& inputs, const std::string& doc = "",
                   const std::vector<OnnxAttribute>& attributes = {});
  // A float32 initializer holding the values of `t` (any dtype or device) times `scale` (applied in float64, e.g.
  // an NTK parametrisation's factor folded into a weight), named name(local) made unique.
  std::string initializer(const std::string& local, const Tensor& t, const std::string& doc, double scale = 1.0);
  // A 1-d int64 initializer (shapes, axes), named name(local) made unique.
  std::string int_initializer(const std::string& local, const std::vector<int64_t>& values, const std::string& doc);
  // A 0-d int64 initializer (Range bounds, Gather indices that drop the axis).
  std::string int_scalar(const std::string& local, int64_t value, const std::string& doc);
  // A float32 scalar constant, shared by every layer that uses the same value.
  std::string constant(double v);
  // Raises the exporter's Error for this layer: "cannot export layer '<path>' (<type>): <why>".
  [[noreturn]] void unsupported(const std::string& why) const;

  // For containers (emitters registered with container = true): emits `child` as the part `local` of this module,
  // applied to the value `x`, and advances the sample through it. Returns the child's output value.
  std::string emit_child(Module& child, const std::string& local, const std::string& x);
  // For containers that reshape the value themselves (the sample follows).
  void set_sample(const Tensor& sample) { *sample_ = sample; }

  // Graph-level hooks, for models whose graph has more than one input or output or dynamic dims beyond the batch
  // (a language model's sequence length and its with-past graph). Dims are numbers ("64") or names of dynamic
  // dims ("batch", "sequence").
  const OnnxExportOptions& options() const;
  std::string batch_dim() const;  // "batch", or the fixed batch size
  // Adds a graph input (float32 or int64) called `name` and returns its name.
  std::string add_input(const std::string& name, DType dtype, const std::vector<std::string>& dims,
                        const std::string& doc);
  // Makes the value `value` a float32 graph output called `name`.
  void add_output(const std::string& value, const std::string& name, const std::vector<std::string>& dims,
                  const std::string& doc);
  // The dims of the main input and output, instead of the sample's with a dynamic batch.
  void set_main_dims(const std::vector<std::string>& input, const std::vector<std::string>& output);

 private:
  detail::OnnxExporter& exporter_;
  Module& module_;
  std::string path_;
  Tensor* sample_;
};

// Emits the module applied to the value named `x`; returns the name of the output value.
using OnnxEmitFn = std::function<std::string(Module& module, OnnxContext& context, const std::string& x)>;

// Registers the emitter of modules of exactly `type` (a later registration replaces an earlier one). `name` is
// listed in the error for a module with no emitter (an empty name is not listed). A layer's sample is advanced by
// the exporter (it runs the module's forward after the emitter); a container (container = true) advances it
// itself through emit_child.
void register_onnx_emitter(std::type_index type, const std::string& name, OnnxEmitFn emit, bool container = false);

template <typename M, typename F>
bool register_onnx_emitter(const std::string& name, F emit, bool container = false) {
  register_onnx_emitter(
      std::type_index(typeid(M)), name,
      [emit](Module& m, OnnxContext& c, const std::string& x) { return emit(static_cast<M&>(m), c, x); }, container);
  return true;
}

}  // namespace tangent::nn
