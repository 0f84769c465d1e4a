#pragma once
// unfold (im2col) and fold (col2im), as torch.nn.functional.unfold and fold, differentiable (each is the other's
// adjoint, so either's backward is the other). The backend's unfold/fold primitives run when it supports
// Primitive::Unfold for the dtype; otherwise index_select / index_add on the flattened input compose them.
#include <array>

#include "core/tensor.h"

namespace tangent {

struct UnfoldOptions {
  std::array<int64_t, 2> kernel_size{1, 1};
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 2> padding{0, 0};
  std::array<int64_t, 2> dilation{1, 1};
};

// x [N, C, H, W] -> [N, C*kH*kW, L], L = Ho*Wo, the patches as columns (rows ordered (c, ky, kx), zero padding).
Tensor unfold(const Tensor& x, const UnfoldOptions& options);
// cols [N, C*kH*kW, L] -> [N, C, H, W] with output_size {H, W}: each column added back at its patch.
Tensor fold(const Tensor& cols, std::array<int64_t, 2> output_size, const UnfoldOptions& options);

}  // namespace tangent
