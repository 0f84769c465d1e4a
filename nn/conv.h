#pragma once
// Convolution and pooling layers (NCHW), and Flatten.
#include "nn/linear.h"
#include "ops/conv.h"

namespace tangent::nn {

struct Conv2dOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  Pair kernel_size = {3, 3};
  Pair stride = {1, 1};
  Pair padding = {0, 0};
  Pair dilation = {1, 1};
  int64_t groups = 1;
  bool bias = true;
  Parametrization parametrization = Parametrization::Standard;  // see nn/linear.h
  double sigma_w = 1.0;
  double sigma_b = 1.0;
};

class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1, int64_t padding = 0);
  explicit Conv2d(const Conv2dOptions& options);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Conv2d"; }
  std::string extra_repr() const override;
  double weight_scale() const;  // sigma_w / sqrt(fan_in) in the NTK parametrisation, else 1
  double bias_scale() const;

  Conv2dOptions options;
  Tensor weight;  // [out, in/groups, kH, kW]
  Tensor bias;    // [out] or undefined
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(Pair kernel, Pair stride = {0, 0}, Pair padding = {0, 0})
      : kernel(kernel), stride(stride), padding(padding) {}
  explicit MaxPool2d(int64_t kernel) : MaxPool2d(Pair{kernel, kernel}) {}
  Tensor forward(const Tensor& x) override { return max_pool2d(x, kernel, stride, padding); }
  std::string type_name() const override { return "MaxPool2d"; }
  std::string extra_repr() const override;
  Pair kernel, stride, padding;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(Pair kernel, Pair stride = {0, 0}, Pair padding = {0, 0})
      : kernel(kernel), stride(stride), padding(padding) {}
  explicit AvgPool2d(int64_t kernel) : AvgPool2d(Pair{kernel, kernel}) {}
  Tensor forward(const Tensor& x) override { return avg_pool2d(x, kernel, stride, padding); }
  std::string type_name() const override { return "AvgPool2d"; }
  std::string extra_repr() const override;
  Pair kernel, stride, padding;
};

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(Pair output_size) : output_size(output_size) {}
  Tensor forward(const Tensor& x) override { return adaptive_avg_pool2d(x, output_size); }
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }
  std::string extra_repr() const override;
  Pair output_size;
};

class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1) : start_dim(start_dim), end_dim(end_dim) {}
  Tensor forward(const Tensor& x) override { return x.flatten(start_dim, end_dim); }
  std::string type_name() const override { return "Flatten"; }
  std::string extra_repr() const override;
  int64_t start_dim, end_dim;
};

}  // namespace tangent::nn
