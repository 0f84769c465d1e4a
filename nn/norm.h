#pragma once
// Normalisation layers.
#include "nn/module.h"

namespace tangent::nn {

// BatchNorm over channel dim 1 of [N, C] / [N, C, L] (1d) or [N, C, H, W] (2d), with running statistics.
class BatchNorm : public Module {
 public:
  BatchNorm(int64_t num_features, int64_t expected_dims_lo, int64_t expected_dims_hi, const char* name,
            double eps = 1e-5, double momentum = 0.1, bool affine = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return name_; }
  std::string extra_repr() const override;

  int64_t num_features;
  double eps, momentum;
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  int64_t lo_, hi_;
  const char* name_;
};

class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(int64_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = true)
      : BatchNorm(num_features, 2, 3, "BatchNorm1d", eps, momentum, affine) {}
};

class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(int64_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = true)
      : BatchNorm(num_features, 4, 4, "BatchNorm2d", eps, momentum, affine) {}
};

// Normalises over the trailing `normalized_shape`, with elementwise affine weight and bias.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(const Shape& normalized_shape, double eps = 1e-5, bool elementwise_affine = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "LayerNorm"; }
  std::string extra_repr() const override;
  Shape normalized_shape;
  double eps;
  Tensor weight, bias;
};

class RMSNorm : public Module {
 public:
  explicit RMSNorm(const Shape& normalized_shape, double eps = 1e-6, bool elementwise_affine = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "RMSNorm"; }
  std::string extra_repr() const override;
  Shape normalized_shape;
  double eps;
  Tensor weight;
};

}  // namespace tangent::nn
