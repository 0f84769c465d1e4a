#pragma once
// Random affine transforms of images, after the affNIST protocol: the benchmark data of `tangent data
// affine-fashion-mnist` (a centred training set and a transformed test set) and `tangent train --augment affine`.
//
// A transform is six numbers (AffineParams). About the canvas centre c = ((W-1)/2, (H-1)/2), in pixel coordinates
// (x = column, y = row), a point p goes to  A (p - c) + c + t  with  A = R(rotation) Shear(shear) diag(sx, sy),
// R(a) = [[cos a, -sin a], [sin a, cos a]], Shear(s) = [[1, s], [0, 1]], t = (tx, ty). Images are warped by the
// inverse map: each output pixel samples the input bilinearly at A^-1 (p - c - t) + c, zero outside the input.
//
// Drawing (draw_affine): rotation, shear, sx and sy uniform in their ranges; then, when the box of the non-zero
// pixels grown by one pixel on each side (what bilinear sampling can light up) would be wider or taller than the
// canvas once transformed, sx and sy are both multiplied by the largest factor <= 1 that makes it fit (so a
// stored scale may lie below scale_min); last, t uniform over the translations that keep that transformed box
// inside the canvas: every non-zero pixel of the input lands on the canvas. An image with no non-zero pixel gets
// t = 0. The uniforms come from Philox4x32 keyed by (key, counter), so any image's transform is computed alone.
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace tangent::data {

struct AffineRanges {
  double rotation_degrees = 20;             // rotation uniform in +-this
  double shear = 0.2;                       // shear uniform in +-this
  double scale_min = 0.8, scale_max = 1.2;  // sx and sy, each uniform in [scale_min, scale_max], then capped
};

struct AffineParams {
  double rotation_degrees = 0, shear = 0, scale_x = 1, scale_y = 1, tx = 0, ty = 0;
};

// A grey image, row-major: h * w values.
struct ImageView {
  const float* pixels;
  int64_t h, w;
};

// The transform of one image drawn with Philox4x32 (key `key`, counter (a, b)): the benchmark's test set uses
// (seed, image, version), augmentation (seed, example, epoch) with another key.
AffineParams draw_affine(const ImageView& image, const AffineRanges& ranges, uint64_t key, uint64_t a, uint64_t b);

// Warps `image` by `params` into `out` (same size): bilinear inverse mapping, zero fill.
void warp_affine(const ImageView& image, const AffineParams& params, float* out);

// The support box of `image`'s non-zero pixels, grown by one pixel, once transformed by `params` (without its
// translation): [x0, x1] x [y0, y1]. False for an image with no non-zero pixel.
bool transformed_support(const ImageView& image, const AffineParams& params, double box[4]);

// Images int64 [N, H, W] (values 0..255, as read_idx gives IDX images) centred on a canvas `padding` pixels wider
// on every side, zeros around: int64 [N, H + 2 padding, W + 2 padding].
Tensor pad_images(const Tensor& images, int64_t padding);

// The transformed test set of centred images int64 [N, H, W]: `versions` transforms of each image, image-major
// (row i * versions + k is version k of image i), keyed by (seed, i, k). Returns the images int64 [N * versions,
// H, W] (bilinear values rounded to the nearest integer) and the parameters float64 [N * versions, 6] in the order
// rotation_degrees, shear, scale_x, scale_y, tx, ty.
std::pair<Tensor, Tensor> affine_test_set(const Tensor& images, int64_t versions, uint64_t seed,
                                          const AffineRanges& ranges = {});

// A parameter row of affine_test_set's float64 [., 6] table, and back.
AffineParams params_from_row(const double* row);

// The key augmentation draws with (a stream apart from the test set's for the same seed).
inline uint64_t augment_key(uint64_t seed) { return seed ^ 0xA5F1E0A7C3B2D194ull; }

}  // namespace tangent::data
