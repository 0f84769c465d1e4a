#include "nn/conv.h"

#include <cmath>

#include "nn/init.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/shape_ops.h"

namespace tangent::nn {

namespace {
std::string pair_str(Pair p) { return "(" + std::to_string(p[0]) + ", " + std::to_string(p[1]) + ")"; }
}  // namespace

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride, int64_t padding)
    : Conv2d(Conv2dOptions{in_channels, out_channels, {kernel_size, kernel_size}, {stride, stride}, {padding, padding}}) {}

Conv2d::Conv2d(const Conv2dOptions& o) : options(o) {
  TANGENT_CHECK(o.in_channels > 0 && o.out_channels > 0 && o.groups > 0 && o.in_channels % o.groups == 0 &&
                    o.out_channels % o.groups == 0,
                "Conv2d: channels (in=", o.in_channels, ", out=", o.out_channels, ") must be positive and divisible by groups=",
                o.groups);
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
  const double fan_in = static_cast<double>(options.in_channels / options.groups * options.kernel_size[0] *
                                            options.kernel_size[1]);
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

}  // namespace tangent::nn
