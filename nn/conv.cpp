#include "nn/conv.h"

#include <cmath>

#include "nn/init.h"
#include "nn/ntk/structured_rule.h"
#include "nn/onnx_emitter.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/shape_ops.h"
#include "ops/unfold.h"

namespace tangent::nn {

namespace {
std::string pair_str(Pair p) { return "(" + std::to_string(p[0]) + ", " + std::to_string(p[1]) + ")"; }
}  // namespace

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride, int64_t padding)
    : Conv2d(
          Conv2dOptions{in_channels, out_channels, {kernel_size, kernel_size}, {stride, stride}, {padding, padding}}) {}

Conv2d::Conv2d(const Conv2dOptions& o) : options(o) {
  TANGENT_CHECK(o.in_channels > 0 && o.out_channels > 0 && o.groups > 0 && o.in_channels % o.groups == 0 &&
                    o.out_channels % o.groups == 0,
                "Conv2d: channels (in=", o.in_channels, ", out=", o.out_channels,
                ") must be positive and divisible by groups=", o.groups);
  Tensor w = empty({o.out_channels, o.in_channels / o.groups, o.kernel_size[0], o.kernel_size[1]});
  Tensor b = o.bias ? empty({o.out_channels}) : Tensor();
  if (o.parametrization == Parametrization::NTK) {
    init::normal_(w);
    if (b.defined()) init::normal_(b);
  } else {
    const double bound = 1.0 / std::sqrt(static_cast<double>(init::fans(w).first));
    init::uniform_(w, -bound, bound);
    if (b.defined()) init::uniform_(b, -bound, bound);
  }
  weight = register_parameter("weight", w);
  if (b.defined()) bias = register_parameter("bias", b);
}

double Conv2d::weight_scale() const {
  if (options.parametrization != Parametrization::NTK) return 1.0;
  const double fan_in =
      static_cast<double>(options.in_channels / options.groups * options.kernel_size[0] * options.kernel_size[1]);
  return options.sigma_w / std::sqrt(fan_in);
}
double Conv2d::bias_scale() const { return options.parametrization == Parametrization::NTK ? options.sigma_b : 1.0; }

Tensor Conv2d::forward(const Tensor& x) {
  TANGENT_CHECK(x.dim() == 4 && x.size(1) == options.in_channels, "Conv2d: expected input [N, ", options.in_channels,
                ", H, W], got ", x.shape());
  const auto& o = options;
  if (o.parametrization == Parametrization::Standard)
    return conv2d(x, weight, bias, o.stride, o.padding, o.dilation, o.groups);
  Tensor y = mul(conv2d(x, weight, Tensor(), o.stride, o.padding, o.dilation, o.groups), weight_scale());
  return bias.defined() ? add(y, reshape(mul(bias, bias_scale()), {1, o.out_channels, 1, 1})) : y;
}

std::string Conv2d::extra_repr() const {
  const auto& o = options;
  std::string s = std::to_string(o.in_channels) + ", " + std::to_string(o.out_channels) +
                  ", kernel_size=" + pair_str(o.kernel_size) + ", stride=" + pair_str(o.stride);
  if (o.padding[0] || o.padding[1]) s += ", padding=" + pair_str(o.padding);
  if (o.dilation[0] != 1 || o.dilation[1] != 1) s += ", dilation=" + pair_str(o.dilation);
  if (o.groups != 1) s += ", groups=" + std::to_string(o.groups);
  if (!o.bias) s += ", bias=false";
  if (o.parametrization == Parametrization::NTK) s += ", parametrization=ntk";
  return s;
}

std::string MaxPool2d::extra_repr() const {
  return "kernel_size=" + pair_str(kernel) + ", stride=" + pair_str(stride[0] ? stride : kernel);
}
std::string AvgPool2d::extra_repr() const {
  return "kernel_size=" + pair_str(kernel) + ", stride=" + pair_str(stride[0] ? stride : kernel);
}
std::string AdaptiveAvgPool2d::extra_repr() const { return "output_size=" + pair_str(output_size); }
std::string Flatten::extra_repr() const {
  return "start_dim=" + std::to_string(start_dim) + ", end_dim=" + std::to_string(end_dim);
}

// ---- convolution, pooling and Flatten in ONNX export, Conv2d in the structured NTK (nn/onnx_emitter.h,
// nn/ntk/structured_rule.h) ----
namespace {

using A = OnnxAttribute;

std::string emit_conv2d(Conv2d& conv, OnnxContext& c, const std::string& x) {
  if (c.sample().dim() != 4) c.unsupported("expects an NCHW input, got " + c.sample_shape());
  const Conv2dOptions& o = conv.options;
  const bool ntk = o.parametrization == Parametrization::NTK;
  std::vector<std::string> in{
      x, c.initializer("weight", conv.weight, ntk ? "weight (NTK: scale folded in)" : "weight", conv.weight_scale())};
  if (conv.bias.defined()) in.push_back(c.initializer("bias", conv.bias, "bias", conv.bias_scale()));
  return c.node("Conv", in, "Conv2d " + conv.extra_repr(),
                {A::integers("kernel_shape", {conv.weight.size(2), conv.weight.size(3)}),
                 A::integers("strides", {o.stride[0], o.stride[1]}),
                 A::integers("pads", {o.padding[0], o.padding[1], o.padding[0], o.padding[1]}),
                 A::integers("dilations", {o.dilation[0], o.dilation[1]}), A::integer("group", o.groups)});
}

std::string emit_pool(OnnxContext& c, const std::string& x, const char* op, Pair k, Pair st, Pair pad,
                      const std::string& doc, std::vector<OnnxAttribute> extra = {}) {
  if (c.sample().dim() != 4) c.unsupported("expects an NCHW input, got " + c.sample_shape());
  if (st[0] == 0 && st[1] == 0) st = k;
  std::vector<OnnxAttribute> attributes{A::integers("kernel_shape", {k[0], k[1]}),
                                        A::integers("strides", {st[0], st[1]}),
                                        A::integers("pads", {pad[0], pad[1], pad[0], pad[1]})};
  attributes.insert(attributes.end(), extra.begin(), extra.end());
  return c.node(op, {x}, doc, attributes);
}

std::string emit_max_pool(MaxPool2d& p, OnnxContext& c, const std::string& x) {
  return emit_pool(c, x, "MaxPool", p.kernel, p.stride, p.padding, "MaxPool2d " + p.extra_repr());
}

std::string emit_avg_pool(AvgPool2d& p, OnnxContext& c, const std::string& x) {
  // AvgPool2d averages over the padded window, as PyTorch's default.
  return emit_pool(c, x, "AveragePool", p.kernel, p.stride, p.padding, "AvgPool2d " + p.extra_repr(),
                   {A::integer("count_include_pad", 1)});
}

std::string emit_adaptive_avg_pool(AdaptiveAvgPool2d& p, OnnxContext& c, const std::string& x) {
  const Tensor& s = c.sample();
  if (s.dim() != 4) c.unsupported("expects an NCHW input, got " + c.sample_shape());
  const int64_t h = s.size(2), w = s.size(3), oh = p.output_size[0], ow = p.output_size[1];
  if (oh == 1 && ow == 1) return c.node("GlobalAveragePool", {x}, "AdaptiveAvgPool2d to 1x1");
  if (oh <= 0 || ow <= 0 || h % oh != 0 || w % ow != 0)
    c.unsupported("output size " + std::to_string(oh) + "x" + std::to_string(ow) + " does not divide the input size " +
                  std::to_string(h) + "x" + std::to_string(w) +
                  " (only 1x1 or evenly dividing sizes map to ONNX pooling)");
  return emit_pool(c, x, "AveragePool", {h / oh, w / ow}, {h / oh, w / ow}, {0, 0},
                   "AdaptiveAvgPool2d " + p.extra_repr() + " on " + std::to_string(h) + "x" + std::to_string(w));
}

std::string emit_flatten(Flatten& f, OnnxContext& c, const std::string& x) {
  const Tensor& s = c.sample();
  const int64_t r = s.dim();
  const int64_t start = wrap_dim(f.start_dim, r, "Flatten"), end = wrap_dim(f.end_dim, r, "Flatten");
  if (start == 1 && end == r - 1) return c.node("Flatten", {x}, "Flatten " + f.extra_repr(), {A::integer("axis", 1)});
  if (start >= end) return x;                                 // nothing to merge
  std::vector<int64_t> shape(static_cast<size_t>(start), 0);  // 0: copy the input's dim (the batch, ...)
  shape.push_back(-1);
  for (int64_t d = end + 1; d < r; ++d) shape.push_back(s.size(d));
  return c.node("Reshape", {x, c.int_initializer("shape", shape, "Flatten target shape")}, "Flatten " + f.extra_repr());
}

// The weight is shared over the Ho*Wo output positions: a = the unfolded (im2col) patches [n, Ho*Wo, C_in*kH*kW].
void conv2d_features(Conv2d& conv, ntk::LayerFeatures& f) {
  const Tensor& g_full = f.cotangents();
  const int64_t n = f.examples(), O = f.outputs();
  const int64_t C = g_full.size(2), Ho = g_full.size(3), Wo = g_full.size(4);
  UnfoldOptions u;
  for (int i = 0; i < 2; ++i) {
    u.kernel_size[i] = conv.options.kernel_size[i];
    u.stride[i] = conv.options.stride[i];
    u.padding[i] = conv.options.padding[i];
    u.dilation[i] = conv.options.dilation[i];
  }
  const Tensor a = transpose(unfold(f.input(), u), 1, 2).contiguous();
  const Tensor g = g_full.reshape({n, O, C, Ho * Wo}).transpose(2, 3);  // a view: weight space reads [n, O, C, D]
  f.dense(a, g, conv.weight_scale(), conv.bias_scale());
}

// d f / d x for all outputs at once: g [n, O, C_out, Ho, Wo] -> [n, O, C_in, H, W], one transposed convolution.
Tensor conv2d_input_cotangents(Conv2d& conv, const Tensor& x, const Tensor& g) {
  const int64_t n = g.size(0), O = g.size(1);
  const auto& o = conv.options;
  const Tensor g4 = g.reshape({n * O, g.size(2), g.size(3), g.size(4)});
  Tensor gx = conv2d_input_grad(g4, conv.weight, {x.size(2), x.size(3)}, o.stride, o.padding, o.dilation, o.groups);
  if (conv.weight_scale() != 1.0) gx = mul(gx, conv.weight_scale());
  return gx.reshape({n, O, x.size(1), x.size(2), x.size(3)});
}

std::string conv2d_refuses(const Conv2d& conv) {
  return conv.options.groups != 1 ? "grouped Conv2d has no structured rule" : "";
}

[[maybe_unused]] const bool kOnnx =
    register_onnx_emitter<Conv2d>("Conv2d", emit_conv2d) &&
    register_onnx_emitter<MaxPool2d>("MaxPool2d", emit_max_pool) &&
    register_onnx_emitter<AvgPool2d>("AvgPool2d", emit_avg_pool) &&
    register_onnx_emitter<AdaptiveAvgPool2d>("AdaptiveAvgPool2d", emit_adaptive_avg_pool) &&
    register_onnx_emitter<Flatten>("Flatten", emit_flatten);
[[maybe_unused]] const bool kNtkRule =
    ntk::register_structured_rule<Conv2d>(conv2d_features, conv2d_refuses, conv2d_input_cotangents);

}  // namespace

}  // namespace tangent::nn
