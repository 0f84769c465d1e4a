#include "models/mlp.h"

#include "nn/activation.h"
#include "nn/linear.h"
#include "nn/onnx_emitter.h"

namespace tangent::models {

nn::Config MLPOptions::to_config() const {
  nn::Config c;
  c.set("input_shape", input_shape.vec());
  c.set("hidden", hidden);
  c.set("out_features", out_features);
  c.set("activation", activation);
  c.set("dropout", dropout);
  c.set("ntk", ntk);
  c.set("sigma_w", sigma_w);
  c.set("sigma_b", sigma_b);
  return c;
}

MLPOptions MLPOptions::from_config(const nn::Config& c) {
  MLPOptions o;
  o.input_shape = Shape(c.get_ints("input_shape"));
  o.hidden = c.get_ints("hidden");
  o.out_features = c.get_int("out_features");
  o.activation = c.get_string("activation", "relu");
  o.dropout = c.get_double("dropout", 0.0);
  o.ntk = c.get_bool("ntk", false);
  o.sigma_w = c.get_double("sigma_w", 1.0);
  o.sigma_b = c.get_double("sigma_b", 0.0);
  return o;
}

MLP::MLP(const MLPOptions& o) : options(o) {
  TANGENT_CHECK(!o.input_shape.empty() && o.input_shape.numel() > 0, "MLP: input_shape must be non-empty, got ",
                o.input_shape);
  layers = register_module("layers", std::make_shared<nn::Sequential>());
  int64_t width = o.input_shape.numel();
  auto add_linear = [&](int64_t out) {
    nn::LinearOptions lo{width, out};
    lo.bias = true;
    if (o.ntk) {
      lo.parametrization = nn::Parametrization::NTK;
      lo.sigma_w = o.sigma_w;
      lo.sigma_b = o.sigma_b;
    }
    layers->push_back(std::make_shared<nn::Linear>(lo));
    width = out;
  };
  for (int64_t h : o.hidden) {
    add_linear(h);
    layers->push_back(nn::make_activation(o.activation));
    if (o.dropout > 0) layers->push_back(std::make_shared<nn::Dropout>(o.dropout));
  }
  add_linear(o.out_features);
}

Tensor MLP::forward(const Tensor& x) {
  // A batch [N, input_shape...], or already-flattened rows [N, prod(input_shape)].
  const int64_t n = options.input_shape.numel();
  const Shape per(x.shape().begin() + (x.dim() > 0 ? 1 : 0), x.shape().end());
  TANGENT_CHECK(x.dim() >= 1 && (per == options.input_shape || per == Shape{n}),
                "MLP: expected a batch of inputs of shape ", options.input_shape, " (or flat rows of ", n, "), got ",
                x.shape());
  return layers->forward(x.reshape({x.size(0), n}));
}

// ---- MLP in ONNX export (nn/onnx_emitter.h): Reshape each example flat, then the layers ----
namespace {

std::string emit_mlp(MLP& mlp, nn::OnnxContext& c, const std::string& x) {
  const int64_t n = mlp.options.input_shape.numel();
  const std::string shape = c.int_initializer("reshape_shape", {-1, n}, "MLP: flatten each example");
  const std::string y =
      c.node("Reshape", {x, shape}, "MLP flattens each example to [batch, " + std::to_string(n) + "]");
  c.set_sample(c.sample().reshape({-1, n}));
  return c.emit_child(*mlp.layers, "layers", y);
}

[[maybe_unused]] const bool kOnnx = nn::register_onnx_emitter<MLP>("MLP", emit_mlp, /*container=*/true);

}  // namespace

}  // namespace tangent::models
