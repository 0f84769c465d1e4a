#pragma once
// Convolution and pooling, NCHW, on oneDNN (ops/conv.cpp, ops/pool.cpp).
#include <array>

#include "core/tensor.h"

namespace tangent {

using Pair = std::array<int64_t, 2>;

// x [N, C, H, W], weight [O, C/groups, kH, kW], bias [O] (optional).
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), Pair stride = {1, 1},
              Pair padding = {0, 0}, Pair dilation = {1, 1}, int64_t groups = 1);
// conv2d's gradient with respect to its input (the transposed convolution): grad_out [N, O, Ho, Wo] -> [N, C, H, W]
// for inputs of spatial size input_hw, with conv2d's weight and geometry.
Tensor conv2d_input_grad(const Tensor& grad_out, const Tensor& weight, Pair input_hw, Pair stride = {1, 1},
                         Pair padding = {0, 0}, Pair dilation = {1, 1}, int64_t groups = 1);
// stride defaults to the kernel size (pass {0, 0}).
Tensor max_pool2d(const Tensor& x, Pair kernel, Pair stride = {0, 0}, Pair padding = {0, 0});
Tensor avg_pool2d(const Tensor& x, Pair kernel, Pair stride = {0, 0}, Pair padding = {0, 0},
                  bool count_include_pad = true);
Tensor adaptive_avg_pool2d(const Tensor& x, Pair output_size);

}  // namespace tangent
