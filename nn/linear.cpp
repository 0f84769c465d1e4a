#include "nn/linear.h"

#include <cmath>

#include "nn/init.h"
#include "nn/ntk/structured_rule.h"
#include "nn/onnx_emitter.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/linalg.h"

namespace tangent::nn {

Linear::Linear(int64_t in_features, int64_t out_features, bool bias)
    : Linear(LinearOptions{in_features, out_features, bias}) {}

Linear::Linear(const LinearOptions& o) : options(o) {
  TANGENT_CHECK(o.in_features > 0 && o.out_features > 0, "Linear: features must be positive, got in=", o.in_features,
                " out=", o.out_features);
  Tensor w = empty({o.out_features, o.in_features});
  Tensor b = o.bias ? empty({o.out_features}) : Tensor();
  if (o.parametrization == Parametrization::NTK) {
    init::normal_(w);
    if (b.defined()) init::normal_(b);
  } else {
    const double bound = 1.0 / std::sqrt(static_cast<double>(o.in_features));
    init::uniform_(w, -bound, bound);
    if (b.defined()) init::uniform_(b, -bound, bound);
  }
  weight = register_parameter("weight", w);
  if (b.defined()) bias = register_parameter("bias", b);
}

double Linear::weight_scale() const {
  return options.parametrization == Parametrization::NTK
             ? options.sigma_w / std::sqrt(static_cast<double>(options.in_features))
             : 1.0;
}
double Linear::bias_scale() const { return options.parametrization == Parametrization::NTK ? options.sigma_b : 1.0; }

Tensor Linear::forward(const Tensor& x) {
  TANGENT_CHECK(x.dim() >= 1 && x.size(-1) == options.in_features, "Linear: expected input [..., ", options.in_features,
                "], got ", x.shape());
  if (options.parametrization == Parametrization::Standard) return linear(x, weight, bias);
  Tensor y = mul(linear(x, weight), weight_scale());
  return bias.defined() ? add(y, mul(bias, bias_scale())) : y;
}

std::string Linear::extra_repr() const {
  std::string s = "in_features=" + std::to_string(options.in_features) +
                  ", out_features=" + std::to_string(options.out_features) +
                  ", bias=" + (options.bias ? "true" : "false");
  if (options.parametrization == Parametrization::NTK) s += ", parametrization=ntk";
  return s;
}

// ---- Linear in ONNX export and in the structured NTK (nn/onnx_emitter.h, nn/ntk/structured_rule.h) ----
namespace {

// Gemm on [N, in]; MatMul (+ Add) on [N, ..., in]. An NTK parametrisation's scales are folded into the weights.
std::string emit_linear(Linear& l, OnnxContext& c, const std::string& x) {
  const Tensor& s = c.sample();
  const bool ntk = l.options.parametrization == Parametrization::NTK;
  const double ws = l.weight_scale(), bs = l.bias_scale();
  const std::string fold = ntk ? " (NTK: scaled by " + OnnxContext::number(ws) + ")" : "";
  if (s.dim() < 2) c.unsupported("expects an input of at least 2 dims, got " + c.sample_shape());
  if (s.dim() == 2) {
    std::vector<std::string> in{x, c.initializer("weight", l.weight, "weight [out, in]" + fold, ws)};
    if (l.bias.defined())
      in.push_back(
          c.initializer("bias", l.bias, ntk ? "bias (NTK: scaled by " + OnnxContext::number(bs) + ")" : "bias", bs));
    return c.node("Gemm", in, "Linear " + l.extra_repr() + ": y = x W^T + b", {OnnxAttribute::integer("transB", 1)});
  }
  const std::string wt = c.initializer("weight_t", l.weight.t(), "weight transposed to [in, out]" + fold, ws);
  std::string y = c.node("MatMul", {x, wt}, "Linear " + l.extra_repr() + " on " + c.sample_shape());
  if (l.bias.defined()) y = c.node("Add", {y, c.initializer("bias", l.bias, "bias", bs)});
  return y;
}

// y = c_w x W^T + c_b b on [n, D, K]: D = 1, or the tokens of a [B, T, C] input sharing W.
void linear_features(Linear& l, ntk::LayerFeatures& f) {
  const int64_t n = f.examples(), O = f.outputs();
  const int64_t K = l.options.in_features, C = l.options.out_features, D = f.input().numel() / (n * K);
  f.dense(f.input().reshape({n, D, K}), f.cotangents().reshape({n, O, D, C}), l.weight_scale(), l.bias_scale());
}

[[maybe_unused]] const bool kOnnx = register_onnx_emitter<Linear>("Linear", emit_linear);
// d f / d x = c_w g W for all outputs at once: g [n, O, ..., C] -> [n, O, ..., K], one GEMM of n * O * D rows.
Tensor linear_input_cotangents(Linear& l, const Tensor&, const Tensor& g) {
  const Tensor gx = linear(g, l.weight.t());
  const double cw = l.weight_scale();
  return cw == 1.0 ? gx : mul(gx, cw);
}

[[maybe_unused]] const bool kNtkRule =
    ntk::register_structured_rule<Linear>(linear_features, {}, linear_input_cotangents);

}  // namespace

}  // namespace tangent::nn
