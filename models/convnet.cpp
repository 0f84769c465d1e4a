#include "models/convnet.h"

#include "nn/activation.h"
#include "nn/conv.h"
#include "nn/linear.h"
#include "nn/norm.h"
#include "nn/onnx_emitter.h"

namespace tangent::models {

nn::Config ConvNetOptions::to_config() const {
  nn::Config c;
  c.set("input_shape", input_shape.vec());
  c.set("channels", channels);
  c.set("kernel_size", kernel_size);
  c.set("hidden", hidden);
  c.set("num_classes", num_classes);
  c.set("dropout", dropout);
  return c;
}

ConvNetOptions ConvNetOptions::from_config(const nn::Config& c) {
  ConvNetOptions o;
  o.input_shape = Shape(c.get_ints("input_shape"));
  o.channels = c.get_ints("channels");
  o.kernel_size = c.get_int("kernel_size", 3);
  o.hidden = c.get_int("hidden", 128);
  o.num_classes = c.get_int("num_classes", 10);
  o.dropout = c.get_double("dropout", 0.25);
  return o;
}

ConvNet::ConvNet(const ConvNetOptions& o) : options(o) {
  TANGENT_CHECK(o.input_shape.size() == 3, "ConvNet: input_shape must be [C, H, W], got ", o.input_shape);
  TANGENT_CHECK(o.kernel_size % 2 == 1, "ConvNet: kernel_size must be odd, got ", o.kernel_size);
  features = register_module("features", std::make_shared<nn::Sequential>());
  int64_t c = o.input_shape[0], h = o.input_shape[1], w = o.input_shape[2];
  for (int64_t out : o.channels) {
    nn::Conv2dOptions co;
    co.in_channels = c;
    co.out_channels = out;
    co.kernel_size = {o.kernel_size, o.kernel_size};
    co.padding = {o.kernel_size / 2, o.kernel_size / 2};
    co.bias = false;  // the batch norm's shift replaces it
    features->push_back(std::make_shared<nn::Conv2d>(co));
    features->push_back(std::make_shared<nn::BatchNorm2d>(out));
    features->push_back(std::make_shared<nn::ReLU>());
    features->push_back(std::make_shared<nn::MaxPool2d>(2));
    c = out;
    h /= 2;
    w /= 2;
    TANGENT_CHECK(h > 0 && w > 0, "ConvNet: input ", o.input_shape, " is too small for ", o.channels.size(),
                  " pooling blocks");
  }
  classifier = register_module("classifier", std::make_shared<nn::Sequential>());
  classifier->push_back(std::make_shared<nn::Flatten>());
  int64_t width = c * h * w;
  if (o.hidden > 0) {
    classifier->push_back(std::make_shared<nn::Linear>(width, o.hidden));
    classifier->push_back(std::make_shared<nn::ReLU>());
    if (o.dropout > 0) classifier->push_back(std::make_shared<nn::Dropout>(o.dropout));
    width = o.hidden;
  }
  classifier->push_back(std::make_shared<nn::Linear>(width, o.num_classes));
}

Tensor ConvNet::forward(const Tensor& x) {
  const Shape& s = options.input_shape;
  TANGENT_CHECK(x.dim() == 4 && x.size(1) == s[0] && x.size(2) == s[1] && x.size(3) == s[2],
                "ConvNet: expected input [N, ", s[0], ", ", s[1], ", ", s[2], "], got ", x.shape());
  return classifier->forward(features->forward(x));
}

// ---- ConvNet in ONNX export (nn/onnx_emitter.h): the features, then the classifier ----
namespace {

std::string emit_convnet(ConvNet& cnn, nn::OnnxContext& c, const std::string& x) {
  const std::string f = c.emit_child(*cnn.features, "features", x);
  return c.emit_child(*cnn.classifier, "classifier", f);
}

[[maybe_unused]] const bool kOnnx = nn::register_onnx_emitter<ConvNet>("ConvNet", emit_convnet, /*container=*/true);

}  // namespace

}  // namespace tangent::models
