#include "nn/norm.h"

#include <sstream>

#include "autograd/grad_mode.h"
#include "nn/functional.h"
#include "nn/ntk/structured_rule.h"
#include "nn/onnx_emitter.h"
#include "ops/elementwise.h"
#include "ops/factory.h"

namespace tangent::nn {

namespace F = functional;

BatchNorm::BatchNorm(int64_t n, int64_t lo, int64_t hi, const char* name, double eps, double momentum, bool affine)
    : num_features(n), eps(eps), momentum(momentum), lo_(lo), hi_(hi), name_(name) {
  TANGENT_CHECK(n > 0, name, ": num_features must be positive, got ", n);
  if (affine) {
    weight = register_parameter("weight", ones({n}));
    bias = register_parameter("bias", zeros({n}));
  }
  running_mean = register_buffer("running_mean", zeros({n}));
  running_var = register_buffer("running_var", ones({n}));
  num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, kInt64));
}

Tensor BatchNorm::forward(const Tensor& x) {
  TANGENT_CHECK(x.dim() >= lo_ && x.dim() <= hi_ && x.size(1) == num_features, name_, ": expected input with ",
                lo_ == hi_ ? std::to_string(lo_) : std::to_string(lo_) + " or " + std::to_string(hi_), " dims and ",
                num_features, " channels at dim 1, got ", x.shape());
  Tensor y = F::batch_norm(x, running_mean, running_var, weight, bias, is_training(), momentum, eps);
  if (is_training()) {  // counted only once the batch was accepted
    NoGradGuard guard;
    num_batches_tracked.add_(ones({}, kInt64));
  }
  return y;
}

std::string BatchNorm::extra_repr() const {
  std::ostringstream os;
  os << num_features << ", eps=" << eps << ", momentum=" << momentum;
  return os.str();
}

LayerNorm::LayerNorm(const Shape& shape, double eps, bool affine) : normalized_shape(shape), eps(eps) {
  TANGENT_CHECK(!shape.empty(), "LayerNorm: normalized_shape must not be empty");
  if (affine) {
    weight = register_parameter("weight", ones(shape));
    bias = register_parameter("bias", zeros(shape));
  }
}

namespace {
// x must end with `shape` (checked even without affine parameters, which would otherwise catch it).
void check_trailing(const Tensor& x, const Shape& shape, const char* name) {
  const int64_t k = static_cast<int64_t>(shape.size());
  TANGENT_CHECK(x.dim() >= k && Shape(x.shape().begin() + (x.dim() - k), x.shape().end()) == shape, name,
                ": expected an input ending with the normalised shape ", shape, ", got ", x.shape());
}
}  // namespace

Tensor LayerNorm::forward(const Tensor& x) {
  check_trailing(x, normalized_shape, "LayerNorm");
  return F::layer_norm(x, static_cast<int64_t>(normalized_shape.size()), weight, bias, eps);
}

std::string LayerNorm::extra_repr() const {
  std::ostringstream os;
  os << normalized_shape << ", eps=" << eps;
  return os.str();
}

RMSNorm::RMSNorm(const Shape& shape, double eps, bool affine) : normalized_shape(shape), eps(eps) {
  TANGENT_CHECK(!shape.empty(), "RMSNorm: normalized_shape must not be empty");
  if (affine) weight = register_parameter("weight", ones(shape));
}

Tensor RMSNorm::forward(const Tensor& x) {
  check_trailing(x, normalized_shape, "RMSNorm");
  return F::rms_norm(x, static_cast<int64_t>(normalized_shape.size()), weight, eps);
}

std::string RMSNorm::extra_repr() const {
  std::ostringstream os;
  os << normalized_shape << ", eps=" << eps;
  return os.str();
}

// ---- the norms in ONNX export and in the structured NTK (nn/onnx_emitter.h, nn/ntk/structured_rule.h) ----
namespace {

using A = OnnxAttribute;

// Inference: the running statistics. A non-affine norm gets scale 1 and shift 0.
std::string emit_batch_norm(BatchNorm& b, OnnxContext& c, const std::string& x) {
  const int64_t n = b.num_features;
  const std::string scale = b.weight.defined() ? c.initializer("weight", b.weight, "scale (gamma)")
                                               : c.initializer("weight", ones({n}), "scale (not affine: 1)");
  const std::string bias = b.bias.defined() ? c.initializer("bias", b.bias, "shift (beta)")
                                            : c.initializer("bias", zeros({n}), "shift (not affine: 0)");
  const std::string mean = c.initializer("running_mean", b.running_mean, "running mean");
  const std::string var = c.initializer("running_var", b.running_var, "running variance");
  return c.node("BatchNormalization", {x, scale, bias, mean, var},
                b.type_name() + " " + b.extra_repr() + " (inference: running statistics)",
                // ONNX weighs the running value, PyTorch the batch value
                {A::real("epsilon", b.eps), A::real("momentum", 1.0 - b.momentum)});
}

std::string emit_layer_norm(LayerNorm& l, OnnxContext& c, const std::string& x) {
  const int64_t k = static_cast<int64_t>(l.normalized_shape.size());
  const std::string scale = l.weight.defined() ? c.initializer("weight", l.weight, "scale")
                                               : c.initializer("weight", ones(l.normalized_shape), "scale 1");
  std::vector<std::string> in{x, scale};
  if (l.bias.defined()) in.push_back(c.initializer("bias", l.bias, "shift"));
  return c.node("LayerNormalization", in, "LayerNorm " + l.extra_repr(),
                {A::integer("axis", -k), A::real("epsilon", l.eps)});
}

// ONNX 17 has no RMSNormalization: x / sqrt(mean(x^2) + eps) * weight.
std::string emit_rms_norm(RMSNorm& r, OnnxContext& c, const std::string& x) {
  const int64_t k = static_cast<int64_t>(r.normalized_shape.size());
  std::vector<int64_t> axes;
  for (int64_t i = -k; i < 0; ++i) axes.push_back(i);
  const std::string doc = "RMSNorm " + r.extra_repr() + ": x / sqrt(mean(x^2) + eps) * weight";
  const std::string sq = c.node("Mul", {x, x}, doc);
  const std::string ms = c.node("ReduceMean", {sq}, "", {A::integers("axes", axes), A::integer("keepdims", 1)});
  const std::string rms = c.node("Sqrt", {c.node("Add", {ms, c.constant(r.eps)})});
  std::string y = c.node("Div", {x, rms});
  if (r.weight.defined()) y = c.node("Mul", {y, c.initializer("weight", r.weight, "scale")});
  return y;
}

// Per-channel scale (gamma) and shift (beta) of the normalised input, in eval mode: the running statistics.
void batch_norm_features(BatchNorm& b, ntk::LayerFeatures& f) {
  const Tensor& in = f.input();
  const int64_t n = f.examples(), O = f.outputs();
  const int64_t C = b.num_features, D = in.numel() / (n * C);
  const Tensor xhat = F::batch_norm(in, b.running_mean, b.running_var, Tensor(), Tensor(), false, b.momentum, b.eps)
                          .reshape({n, 1, C, D})
                          .transpose(2, 3);
  f.scale_shift(xhat, f.cotangents().reshape({n, O, C, D}).transpose(2, 3));
}

void layer_norm_features(LayerNorm& l, ntk::LayerFeatures& f) {
  const Tensor& in = f.input();
  const int64_t n = f.examples(), O = f.outputs();
  const int64_t nd = static_cast<int64_t>(l.normalized_shape.size()), S = l.normalized_shape.numel();
  const int64_t D = in.numel() / (n * S);
  const Tensor xhat = F::layer_norm(in, nd, Tensor(), Tensor(), l.eps).reshape({n, 1, D, S});
  f.scale_shift(xhat, f.cotangents().reshape({n, O, D, S}));
}

void rms_norm_features(RMSNorm& r, ntk::LayerFeatures& f) {
  const Tensor& in = f.input();
  const int64_t n = f.examples(), O = f.outputs();
  const int64_t nd = static_cast<int64_t>(r.normalized_shape.size()), S = r.normalized_shape.numel();
  const int64_t D = in.numel() / (n * S);
  const Tensor xhat = F::rms_norm(in, nd, Tensor(), r.eps).reshape({n, 1, D, S});
  f.scale_shift(xhat, f.cotangents().reshape({n, O, D, S}));
}

[[maybe_unused]] const bool kOnnx = register_onnx_emitter<BatchNorm>("BatchNorm", emit_batch_norm) &&
                                    register_onnx_emitter<BatchNorm1d>("BatchNorm1d", emit_batch_norm) &&
                                    register_onnx_emitter<BatchNorm2d>("BatchNorm2d", emit_batch_norm) &&
                                    register_onnx_emitter<LayerNorm>("LayerNorm", emit_layer_norm) &&
                                    register_onnx_emitter<RMSNorm>("RMSNorm", emit_rms_norm);
[[maybe_unused]] const bool kNtkRule = ntk::register_structured_rule<BatchNorm>(batch_norm_features) &&
                                       ntk::register_structured_rule<BatchNorm1d>(batch_norm_features) &&
                                       ntk::register_structured_rule<BatchNorm2d>(batch_norm_features) &&
                                       ntk::register_structured_rule<LayerNorm>(layer_norm_features) &&
                                       ntk::register_structured_rule<RMSNorm>(rms_norm_features);

}  // namespace

}  // namespace tangent::nn
