#pragma once
// Normalisation layers' maths (as torch.nn.functional; nn::functional forwards these names). layer_norm and
// rms_norm run the backend's fused norm_forward/norm_backward, and batch_norm in training mode its
// batch_norm_forward/batch_norm_backward, when it supports them for the dtype (one autograd node), and a
// composition of reductions otherwise.
#include "core/tensor.h"

namespace tangent {

// Batch normalisation over all dims but 1 (channels). In training, uses batch statistics and updates the running
// ones in place (running = (1 - momentum) running + momentum batch, unbiased variance); in eval, uses the
// running statistics.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum = 0.1, double eps = 1e-5);
// Normalises over the last `normalized_ndim` dims; weight and bias (optional) have those dims' shape.
Tensor layer_norm(const Tensor& x, int64_t normalized_ndim, const Tensor& weight, const Tensor& bias,
                  double eps = 1e-5);
Tensor rms_norm(const Tensor& x, int64_t normalized_ndim, const Tensor& weight, double eps = 1e-6);

}  // namespace tangent
