#pragma once
// KernelNet: the SIREN that maps kernel coordinates (a point of the plane, and for group convolutions the chart
// coordinates of a relative group element) to the C_out * C_in kernel values there: Linear + sin(omega .) for the
// first and each hidden layer, then a final Linear. Initialisation as released: the first layer's weights
// U(+-1/in_dim) (default bias), hidden U(+-sqrt(6/width)/omega) (bias 0), the final U(+-out_bound) (bias 0).
// It holds its weights itself (no nn::Linear), since its rows are kernel points, not examples.
#include <vector>

#include "nn/module.h"

namespace tangent::lie {

struct KernelNetOptions {
  int64_t in_dim = 2;
  int64_t out_dim = 1;
  double out_bound = 1.0;
  int64_t width = 60;
  int64_t hidden_layers = 2;
  double omega = 10.0;

  // The parameter count these options give.
  int64_t parameter_count() const;
};

class KernelNet : public nn::Module {
 public:
  explicit KernelNet(const KernelNetOptions& options);
  // points [P, in_dim] -> [P, out_dim].
  Tensor forward(const Tensor& points) override;
  std::string type_name() const override { return "KernelNet"; }
  std::string extra_repr() const override;

  KernelNetOptions options;
  std::vector<Tensor> weights;  // [out, in] each
  std::vector<Tensor> biases;
};

}  // namespace tangent::lie
