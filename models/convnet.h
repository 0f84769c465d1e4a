#pragma once
// ConvNet: a small CNN for image classification. Each entry of `channels` adds a block
// conv3x3 (padding 1) -> BatchNorm2d -> ReLU -> MaxPool2d(2); then Flatten -> Linear(hidden) -> ReLU ->
// Dropout -> Linear(num_classes).
#include <vector>

#include "models/model.h"
#include "nn/container.h"

namespace tangent::models {

struct ConvNetOptions {
  Shape input_shape = {1, 28, 28};  // [C, H, W]
  std::vector<int64_t> channels = {32, 64};
  int64_t kernel_size = 3;
  int64_t hidden = 128;
  int64_t num_classes = 10;
  double dropout = 0.25;

  nn::Config to_config() const;
  static ConvNetOptions from_config(const nn::Config& config);
};

class ConvNet : public Model {
 public:
  explicit ConvNet(const ConvNetOptions& options);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ConvNet"; }
  std::string kind() const override { return "cnn"; }
  nn::Config config() const override { return options.to_config(); }
  Shape input_shape() const override { return options.input_shape; }

  ConvNetOptions options;
  std::shared_ptr<nn::Sequential> features;
  std::shared_ptr<nn::Sequential> classifier;
};

}  // namespace tangent::models
