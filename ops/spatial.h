#pragma once
// Spatial ops on the trailing dims (ops/spatial.cpp): padding, and sampling an image at the points of a grid
// (affine_grid + grid_sample, as in spatial transformer networks). All are composed from differentiable ops, so
// they run on any backend that has those and their gradients nest (create_graph).
#include <string>
#include <vector>

#include "core/tensor.h"

namespace tangent {

// torch.nn.functional.pad: `pads` holds (left, right) pairs for the last dim, then the one before it, and so on
// (at most x.dim() pairs). mode "constant" fills with `value` (negative pads crop); "reflect" mirrors without
// repeating the edge (each pad at most size - 1); "replicate" repeats the edge (the dim must be non-empty).
// Differentiable in x.
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, const std::string& mode = "constant", double value = 0.0);

// torch.nn.functional.affine_grid for 2-D: theta [N, 2, 3] (floating) and size {N, C, H, W} give the grid
// [N, H, W, 2] of (x, y) sampling points in [-1, 1] coordinates (x along W). Differentiable in theta.
Tensor affine_grid(const Tensor& theta, const Shape& size, bool align_corners = false);

// torch.nn.functional.grid_sample for 4-D input: input [N, C, H, W] and grid [N, Ho, Wo, 2] of (x, y) points in
// [-1, 1] (one floating dtype) give out [N, C, Ho, Wo]. mode "bilinear" or "nearest" (ties to even);
// padding_mode "zeros" (points outside read 0) or "border" (clamped to the edge). align_corners: -1 and 1 are
// the centres of the corner pixels (true) or their outer edges (false). Differentiable in input and, for
// bilinear, in grid (nearest has zero gradient for grid).
Tensor grid_sample(const Tensor& input, const Tensor& grid, const std::string& mode = "bilinear",
                   const std::string& padding_mode = "zeros", bool align_corners = false);

}  // namespace tangent
