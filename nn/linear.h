#pragma once
// Linear layers, in the standard or the NTK parametrisation.
#include "nn/module.h"

namespace tangent::nn {

// Standard: y = x W^T + b, W and b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's default).
// NTK (Jacot et al.): W, b ~ N(0, 1) and y = sigma_w / sqrt(fan_in) * x W^T + sigma_b * b, so the kernel has a
// width limit; the NTK code reads these scales from the options.
enum class Parametrization { Standard, NTK };

struct LinearOptions {
  int64_t in_features = 0;
  int64_t out_features = 0;
  bool bias = true;
  Parametrization parametrization = Parametrization::Standard;
  double sigma_w = 1.0;  // NTK only
  double sigma_b = 1.0;  // NTK only
};

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  explicit Linear(const LinearOptions& options);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override;
  // The factors applied to W and b in forward: 1, 1 (standard) or sigma_w/sqrt(in), sigma_b (NTK).
  double weight_scale() const;
  double bias_scale() const;

  LinearOptions options;
  Tensor weight;  // [out, in]
  Tensor bias;    // [out] or undefined
};

}  // namespace tangent::nn
