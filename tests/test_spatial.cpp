// pad, affine_grid and grid_sample (ops/spatial.h): values worked out by hand from PyTorch's definitions (the op
// table, tests/op_rows/new_ops_rows.cpp, checks them against loop references with gradcheck and gradgradcheck),
// edge cases and errors.
#include <gtest/gtest.h>

#include <cmath>

#include "support/errors.h"
#include "support/gradcheck.h"

using namespace tangent;
using tangent::testing::all_close;
using tangent::testing::expect_error;

namespace {

Tensor row(std::vector<double> v, const Shape& shape) {
  return tensor(v, Shape{static_cast<int64_t>(v.size())}, kFloat64).reshape(shape);
}

}  // namespace

TEST(Pad, ModesOnOneRow) {
  const Tensor x = row({1, 2, 3, 4}, {1, 4});
  // torch.nn.functional.pad(x, (2, 1), mode) for x = [[1, 2, 3, 4]].
  EXPECT_TRUE(all_close(pad(x, {2, 1}, "constant", 9.0), row({9, 9, 1, 2, 3, 4, 9}, {1, 7})));
  EXPECT_TRUE(all_close(pad(x, {2, 1}, "reflect"), row({3, 2, 1, 2, 3, 4, 3}, {1, 7})));
  EXPECT_TRUE(all_close(pad(x, {2, 1}, "replicate"), row({1, 1, 1, 2, 3, 4, 4}, {1, 7})));
  EXPECT_TRUE(all_close(pad(x, {-1, -2}), row({2}, {1, 1})));
  EXPECT_TRUE(all_close(pad(x, {0, 0, 1, 0}), row({0, 0, 0, 0, 1, 2, 3, 4}, {2, 4})));
}

TEST(Pad, KeepsDtypeAndGivesGradientCounts) {
  const Tensor xi = tensor(std::vector<int64_t>{5, 6}, Shape{2});
  const Tensor pi = pad(xi, {1, 1}, "replicate");
  EXPECT_EQ(pi.dtype(), kInt64);
  EXPECT_EQ(to_vector<int64_t>(pi), (std::vector<int64_t>{5, 5, 6, 6}));
  // Each output reads one input: reflect's gradient counts how often each input is read.
  Tensor x = row({1, 2, 3}, {3}).requires_grad_(true);
  sum(pad(x, {2, 2}, "reflect")).backward();
  EXPECT_EQ(to_vector<double>(x.grad()), (std::vector<double>{2, 3, 2}));
}

TEST(Pad, Errors) {
  const Tensor x = zeros({2, 3});
  expect_error([&] { pad(x, {1}); }, {"pad", "pairs", "[2, 3]"});
  expect_error([&] { pad(x, {1, 1, 1, 1, 1, 1}); }, {"pad", "at most 2 dims"});
  expect_error([&] { pad(x, {3, 0}, "reflect"); }, {"pad", "reflect", "smaller than dim 1", "[2, 3]"});
  expect_error([&] { pad(x, {-1, 0}, "replicate"); }, {"pad", "non-negative"});
  expect_error([&] { pad(x, {-2, -2}); }, {"pad", "negative size"});
  expect_error([&] { pad(x, {1, 1}, "circular"); }, {"pad", "circular"});
  expect_error([&] { pad(zeros({2, 0}), {1, 1}, "replicate"); }, {"pad", "non-empty dim 1"});
}

TEST(AffineGrid, IdentityGivesPixelCentres) {
  const Tensor identity = row({1, 0, 0, 0, 1, 0}, {1, 2, 3});
  // align_corners=false: centres of 2 pixels at -0.5 and 0.5; true: the corners -1 and 1.
  EXPECT_TRUE(all_close(affine_grid(identity, {1, 1, 1, 2}, false), row({-0.5, 0, 0.5, 0}, {1, 1, 2, 2})));
  EXPECT_TRUE(all_close(affine_grid(identity, {1, 1, 1, 2}, true), row({-1, 0, 1, 0}, {1, 1, 2, 2})));
  // A translation by (0.25, -1) moves every point.
  const Tensor shift = row({1, 0, 0.25, 0, 1, -1}, {1, 2, 3});
  EXPECT_TRUE(all_close(affine_grid(shift, {1, 1, 2, 1}, true), row({0.25, -2, 0.25, 0}, {1, 2, 1, 2})));
}

TEST(AffineGrid, Errors) {
  expect_error([] { affine_grid(zeros({1, 3, 3}), {1, 1, 2, 2}); }, {"affine_grid", "[1, 2, 3]", "[1, 3, 3]"});
  expect_error([] { affine_grid(zeros({1, 2, 3}), {1, 1, 2}); }, {"affine_grid", "{N, C, H, W}"});
  expect_error([] { affine_grid(zeros({2, 2, 3}), {1, 1, 2, 2}); }, {"affine_grid", "[1, 2, 3]"});
  expect_error([] { affine_grid(zeros({1, 2, 3}, kInt64), {1, 1, 2, 2}); }, {"affine_grid", "floating"});
}

TEST(GridSample, HandValues) {
  // A 2x2 image [[1, 2], [3, 4]].
  const Tensor img = row({1, 2, 3, 4}, {1, 1, 2, 2});
  // The centre (0, 0) is the mean of the four pixels under either convention.
  const Tensor centre = row({0, 0}, {1, 1, 1, 2});
  EXPECT_TRUE(all_close(grid_sample(img, centre), row({2.5}, {1, 1, 1, 1})));
  EXPECT_TRUE(all_close(grid_sample(img, centre, "bilinear", "zeros", true), row({2.5}, {1, 1, 1, 1})));
  // (-1, -1): align_corners=true is pixel (0, 0); false is its outer corner, a quarter of it inside (zeros)...
  const Tensor corner = row({-1, -1}, {1, 1, 1, 2});
  EXPECT_TRUE(all_close(grid_sample(img, corner, "bilinear", "zeros", true), row({1}, {1, 1, 1, 1})));
  EXPECT_TRUE(all_close(grid_sample(img, corner), row({0.25}, {1, 1, 1, 1})));
  // ... or all of it (border).
  EXPECT_TRUE(all_close(grid_sample(img, corner, "bilinear", "border"), row({1}, {1, 1, 1, 1})));
  // Far outside: 0 (zeros) or the nearest edge pixel (border).
  const Tensor far = row({3, 0.5}, {1, 1, 1, 2});
  EXPECT_TRUE(all_close(grid_sample(img, far), row({0}, {1, 1, 1, 1})));
  EXPECT_TRUE(all_close(grid_sample(img, far, "bilinear", "border"), row({4}, {1, 1, 1, 1})));
  // Nearest rounds half to even: x = 0.5 pixel (grid 0 with align_corners=true on width 2) picks column 0.
  const Tensor tie = row({0, 1}, {1, 1, 1, 2});
  EXPECT_TRUE(all_close(grid_sample(img, tie, "nearest", "zeros", true), row({3}, {1, 1, 1, 1})));
}

TEST(GridSample, GradientsOfBilinear) {
  // out = bilinear interpolation at (0.25, 0) in pixels of [[1, 2], [3, 4]] (align_corners=true):
  // d out / d ix = (2 - 1) * (1 - iy) + (4 - 3) * iy = 1, and d ix / d gx = (W - 1) / 2 = 0.5.
  Tensor img = row({1, 2, 3, 4}, {1, 1, 2, 2}).requires_grad_(true);
  Tensor grid = row({-0.5, -1}, {1, 1, 1, 2}).requires_grad_(true);
  grid_sample(img, grid, "bilinear", "zeros", true).sum().backward();
  EXPECT_TRUE(all_close(grid.grad(), row({0.5, 1.0}, {1, 1, 1, 2})));
  EXPECT_TRUE(all_close(img.grad(), row({0.75, 0.25, 0, 0}, {1, 1, 2, 2})));
}

TEST(GridSample, NearestHasNoGridGradient) {
  Tensor img = row({1, 2, 3, 4}, {1, 1, 2, 2}).requires_grad_(true);
  Tensor grid = row({0.3, -0.6}, {1, 1, 1, 2}).requires_grad_(true);
  const Tensor out = grid_sample(img, grid, "nearest");
  auto grads = autograd::grad({out.sum()}, {img, grid}, {}, false, false, /*allow_unused=*/true);
  EXPECT_TRUE(all_close(grads[0], row({0, 1, 0, 0}, {1, 1, 2, 2})));
  EXPECT_FALSE(grads[1].defined());
}

TEST(GridSample, EmptyAndErrors) {
  EXPECT_EQ(grid_sample(zeros({2, 3, 4, 4}), zeros({2, 0, 5, 2})).shape(), (Shape{2, 3, 0, 5}));
  expect_error([] { grid_sample(zeros({1, 1, 2, 2}), zeros({1, 1, 1, 3})); }, {"grid_sample", "[1, 1, 1, 3]"});
  expect_error([] { grid_sample(zeros({1, 1, 2, 2}), zeros({2, 1, 1, 2})); }, {"grid_sample", "[2, 1, 1, 2]"});
  expect_error([] { grid_sample(zeros({1, 2, 2}), zeros({1, 1, 1, 2})); }, {"grid_sample", "[1, 2, 2]"});
  expect_error(
      [] {
        grid_sample(zeros({1, 1, 2, 2}), zeros({1, 1, 1, 2}, kFloat64));
      },
      {"grid_sample", "float32", "float64"});
  expect_error([] { grid_sample(zeros({1, 1, 2, 2}), zeros({1, 1, 1, 2}), "bicubic"); }, {"grid_sample", "bicubic"});
  expect_error(
      [] {
        grid_sample(zeros({1, 1, 2, 2}), zeros({1, 1, 1, 2}), "bilinear", "reflection");
      },
      {"grid_sample", "reflection"});
  expect_error([] { grid_sample(zeros({1, 1, 0, 2}), zeros({1, 1, 1, 2})); }, {"grid_sample", "empty image"});
}
