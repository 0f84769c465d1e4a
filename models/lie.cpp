#include "models/lie.h"

#include "nn/activation.h"
#include "nn/linear.h"
#include "nn/norm.h"
#include "ops/elementwise.h"

namespace tangent::models {

nn::Config LieNetOptions::to_config() const {
  nn::Config c;
  c.set("input_shape", input_shape.vec());
  c.set("group", group);
  c.set("samples", samples);
  c.set("channels", channels);
  c.set("kernel_size", kernel_size);
  c.set("hidden", hidden);
  c.set("num_classes", num_classes);
  c.set("dropout", dropout);
  c.set("angles", angles);
  c.set("spd_std", spd_std);
  c.set("eval_seed", eval_seed);
  return c;
}

LieNetOptions LieNetOptions::from_config(const nn::Config& c) {
  LieNetOptions o;
  o.input_shape = Shape(c.get_ints("input_shape"));
  o.group = c.get_string("group", o.group);
  o.samples = c.get_int("samples", o.samples);
  o.channels = c.get_int("channels", o.channels);
  o.kernel_size = c.get_int("kernel_size", o.kernel_size);
  o.hidden = c.get_int("hidden", o.hidden);
  o.num_classes = c.get_int("num_classes", o.num_classes);
  o.dropout = c.get_double("dropout", o.dropout);
  o.angles = c.get_string("angles", o.angles);
  o.spd_std = c.get_double("spd_std", o.spd_std);
  o.eval_seed = c.get_int("eval_seed", o.eval_seed);
  return o;
}

namespace {

lie::LieConvOptions conv_options(const LieNetOptions& o, int64_t in, int64_t padding) {
  lie::LieConvOptions c;
  c.group = lie::parse_group(o.group);
  c.in_channels = in;
  c.out_channels = o.channels;
  c.kernel_size = o.kernel_size;
  c.padding = padding;
  return c;
}

}  // namespace

int64_t LieNetOptions::parameter_count() const {
  const int64_t pad = kernel_size / 2;
  return lie::lie_conv_parameters(conv_options(*this, input_shape[0], 0), true) +
         2 * lie::lie_conv_parameters(conv_options(*this, channels, pad), false) +
         lie::lie_conv_parameters(conv_options(*this, channels, 0), false) + channels * hidden + 2 * hidden +
         (hidden + 1) * num_classes;
}

LieNet::LieNet(const LieNetOptions& o) : options(o) {
  TANGENT_CHECK(o.input_shape.size() == 3, "LieNet: input_shape must be [C, H, W], got ", o.input_shape);
  TANGENT_CHECK(o.kernel_size >= 1 && o.kernel_size % 2 == 1, "LieNet: kernel_size must be odd, got ", o.kernel_size);
  TANGENT_CHECK(o.samples >= 1 && o.channels >= 1 && o.hidden >= 1 && o.num_classes >= 1,
                "LieNet: samples, channels, hidden and num_classes must be positive, got ", o.samples, ", ", o.channels,
                ", ", o.hidden, ", ", o.num_classes);
  const int64_t k = o.kernel_size, h = o.input_shape[1] - k + 1, w = o.input_shape[2] - k + 1;
  TANGENT_CHECK(h >= 2 && w >= 2 && h / 2 - k + 1 >= 1 && w / 2 - k + 1 >= 1, "LieNet: input ", o.input_shape,
                " is too small for kernel_size ", k, " (lift, 2x2 pooling, then another ", k, "x", k,
                " convolution without padding)");
  lie::SamplerOptions s;
  s.group = lie::parse_group(o.group);
  s.n = o.samples;
  s.angles = o.angles;
  s.spd_std = o.spd_std;
  const uint64_t seed = static_cast<uint64_t>(o.eval_seed) * 4;
  lift = register_module("lift", std::make_shared<lie::LiftConv2d>(conv_options(o, o.input_shape[0], 0), s, seed));
  block1 = register_module("block1",
                           std::make_shared<lie::GroupConv2d>(conv_options(o, o.channels, k / 2), s, seed + 1, false));
  block2 = register_module("block2",
                           std::make_shared<lie::GroupConv2d>(conv_options(o, o.channels, k / 2), s, seed + 2, false));
  conv = register_module("conv", std::make_shared<lie::GroupConv2d>(conv_options(o, o.channels, 0), s, seed + 3));
  head = register_module("head", std::make_shared<nn::Sequential>());
  head->push_back(std::make_shared<nn::Linear>(o.channels, o.hidden, /*bias=*/false));
  head->push_back(std::make_shared<nn::LayerNorm>(Shape{o.hidden}));
  head->push_back(std::make_shared<nn::GELU>());
  if (o.dropout > 0) head->push_back(std::make_shared<nn::Dropout>(o.dropout));
  head->push_back(std::make_shared<nn::Linear>(o.hidden, o.num_classes));
}

Tensor LieNet::features(const Tensor& x) {
  const Shape& s = options.input_shape;
  TANGENT_CHECK(x.defined() && x.dim() == 4 && x.size(1) == s[0] && x.size(2) == s[1] && x.size(3) == s[2],
                "LieNet: expected input [N, ", s[0], ", ", s[1], ", ", s[2], "], got ",
                x.defined() ? x.shape() : Shape{});
  using namespace lie;
  GroupTensor f = gelu(layer_norm(lift->lift((x - 0.5) * 2.0)));
  GroupTensor r = gelu(layer_norm(block1->apply(f)));
  r = gelu(layer_norm(block2->apply(r)));
  f = gelu(add(r, f));
  f = gelu(max_pool2d(layer_norm(f), 2));
  f = gelu(layer_norm(conv->apply(f)));
  return global_max(f);
}

Tensor LieNet::forward(const Tensor& x) { return (*head)(features(x)); }

void LieNet::set_transport(const lie::Mat2& u) {
  lift->transport = u;
  block1->transport = u;
  block2->transport = u;
  conv->transport = u;
}

}  // namespace tangent::models
