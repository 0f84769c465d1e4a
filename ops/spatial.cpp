// Spatial ops (ops/spatial.h): pad, affine_grid, grid_sample, composed from differentiable ops (cat, narrow,
// index_select, gather, matmul, elementwise), so their backward is theirs.
#include "ops/spatial.h"

#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/internal.h"
#include "ops/linalg.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace tangent {

namespace {

// Pads (or, for negative pads, crops) dim d of x with a constant.
Tensor pad_constant_dim(Tensor x, int64_t d, int64_t left, int64_t right, double value) {
  const int64_t size = x.shape()[static_cast<size_t>(d)];
  const int64_t crop_left = left < 0 ? -left : 0, crop_right = right < 0 ? -right : 0;
  if (crop_left > 0 || crop_right > 0) x = narrow(x, d, crop_left, size - crop_left - crop_right);
  std::vector<Tensor> parts;
  auto block = [&](int64_t n) {
    Shape s = x.shape();
    s[static_cast<size_t>(d)] = n;
    return full(s, value, x.options());
  };
  if (left > 0) parts.push_back(block(left));
  parts.push_back(x);
  if (right > 0) parts.push_back(block(right));
  return parts.size() == 1 ? x : cat(parts, d);
}

// Pads dim d of x by reading it at mirrored or clamped positions (index_select).
Tensor pad_index_dim(const Tensor& x, int64_t d, int64_t left, int64_t right, bool reflect) {
  const int64_t size = x.shape()[static_cast<size_t>(d)];
  std::vector<int64_t> index;
  index.reserve(static_cast<size_t>(left + size + right));
  for (int64_t i = -left; i < size + right; ++i) {
    int64_t j = i;
    if (reflect)
      j = i < 0 ? -i : (i >= size ? 2 * (size - 1) - i : i);
    else
      j = i < 0 ? 0 : (i >= size ? size - 1 : i);
    index.push_back(j);
  }
  const int64_t n = static_cast<int64_t>(index.size());
  return index_select(x, d, tensor(index, Shape{n}, TensorOptions(kInt64).device(x.device())));
}

// Pixel coordinate of a normalised one in [-1, 1] along a dim of `size` pixels.
Tensor unnormalize(const Tensor& coord, int64_t size, bool align_corners) {
  if (align_corners) return mul(add(coord, 1.0), 0.5 * static_cast<double>(size - 1));
  return sub(mul(add(coord, 1.0), 0.5 * static_cast<double>(size)), 0.5);
}

// The values of input [N, C, H, W] at integer pixel positions (x, y) (floating tensors [N, Ho, Wo], no history),
// as [N, C, Ho, Wo]; `valid` [N, Ho, Wo] is true where the position is inside the image (elsewhere the value
// read is that of pixel (0, 0), to be masked by the caller).
Tensor read_pixels(const Tensor& flat_input, const Tensor& x, const Tensor& y, int64_t w, const Tensor& valid) {
  const int64_t n = flat_input.shape()[0], c = flat_input.shape()[1];
  const int64_t ho = x.shape()[1], wo = x.shape()[2];
  const Tensor xi = to_dtype(where(valid, x, 0.0), kInt64), yi = to_dtype(where(valid, y, 0.0), kInt64);
  const Tensor linear = add(mul(yi, w), xi).reshape({n, 1, ho * wo}).expand({n, c, ho * wo}).contiguous();
  return gather(flat_input, 2, linear).reshape({n, c, ho, wo});
}

// Whether integer pixel positions (x, y) lie inside an h x w image.
Tensor inside(const Tensor& x, const Tensor& y, int64_t h, int64_t w) {
  return logical_and(logical_and(ge(x, 0.0), le(x, static_cast<double>(w - 1))),
                     logical_and(ge(y, 0.0), le(y, static_cast<double>(h - 1))));
}

}  // namespace

Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, const std::string& mode, double value) {
  detail::check_defined(x, "pad");
  TANGENT_CHECK(mode == "constant" || mode == "reflect" || mode == "replicate",
                "pad: mode must be \"constant\", \"reflect\" or \"replicate\", got \"", mode, "\"");
  const int64_t pairs = static_cast<int64_t>(pads.size()) / 2;
  TANGENT_CHECK(pads.size() % 2 == 0 && pairs <= x.dim(), "pad: needs (left, right) pairs for at most ", x.dim(),
                " dims of input of shape ", x.shape(), ", got ", pads.size(), " values");
  Tensor out = x;
  for (int64_t i = 0; i < pairs; ++i) {
    const int64_t d = x.dim() - 1 - i;
    const int64_t left = pads[static_cast<size_t>(2 * i)], right = pads[static_cast<size_t>(2 * i + 1)];
    const int64_t size = x.shape()[static_cast<size_t>(d)];
    if (mode == "constant") {
      TANGENT_CHECK(size + left + right >= 0, "pad: pads (", left, ", ", right, ") on dim ", d, " of input of shape ",
                    x.shape(), " leave a negative size");
      out = pad_constant_dim(out, d, left, right, value);
      continue;
    }
    TANGENT_CHECK(left >= 0 && right >= 0, "pad: ", mode, " pads must be non-negative, got (", left, ", ", right,
                  ") on dim ", d, " of input of shape ", x.shape());
    if (mode == "reflect") {
      TANGENT_CHECK(left < size && right < size, "pad: reflect pads (", left, ", ", right,
                    ") must be smaller than dim ", d, " (size ", size, ") of input of shape ", x.shape());
    } else {
      TANGENT_CHECK(size > 0 || (left == 0 && right == 0), "pad: replicate needs a non-empty dim ", d,
                    " but input has shape ", x.shape());
    }
    if (left > 0 || right > 0) out = pad_index_dim(out, d, left, right, mode == "reflect");
  }
  return out;
}

Tensor affine_grid(const Tensor& theta, const Shape& size, bool align_corners) {
  detail::check_defined(theta, "affine_grid", "theta");
  TANGENT_CHECK(theta.is_floating_point(), "affine_grid: theta must be floating, got ", theta.dtype());
  TANGENT_CHECK(size.size() == 4, "affine_grid: size must be {N, C, H, W} (2-D only), got ", size);
  TANGENT_CHECK(size[0] > 0 && size[2] > 0 && size[3] > 0, "affine_grid: N, H and W must be positive, got size ", size);
  TANGENT_CHECK(theta.dim() == 3 && theta.shape()[0] == size[0] && theta.shape()[1] == 2 && theta.shape()[2] == 3,
                "affine_grid: theta must have shape [", size[0], ", 2, 3] for size ", size, ", got ", theta.shape());
  const int64_t n = size[0], h = size[2], w = size[3];
  // Base points (x, y, 1) for every pixel, row-major: x runs along W.
  auto coords = [align_corners](int64_t steps) {
    std::vector<double> c(static_cast<size_t>(steps));
    for (int64_t i = 0; i < steps; ++i) {
      const double t = steps == 1 ? 0.0 : -1.0 + 2.0 * static_cast<double>(i) / static_cast<double>(steps - 1);
      c[static_cast<size_t>(i)] = align_corners ? t : t * static_cast<double>(steps - 1) / static_cast<double>(steps);
    }
    return c;
  };
  const std::vector<double> xs = coords(w), ys = coords(h);
  std::vector<double> base;
  base.reserve(static_cast<size_t>(h * w * 3));
  for (int64_t i = 0; i < h; ++i)
    for (int64_t j = 0; j < w; ++j)
      base.insert(base.end(), {xs[static_cast<size_t>(j)], ys[static_cast<size_t>(i)], 1.0});
  const Tensor b = tensor(base, Shape{h * w, 3}, TensorOptions(theta.dtype()).device(theta.device()));
  // grid[n, p] = theta[n] @ (x, y, 1)_p: [H*W, 3] x [N, 3, 2] -> [N, H*W, 2].
  return matmul(b, transpose(theta, 1, 2)).reshape({n, h, w, 2});
}

Tensor grid_sample(const Tensor& input, const Tensor& grid, const std::string& mode, const std::string& padding_mode,
                   bool align_corners) {
  detail::check_defined(input, "grid_sample", "input");
  detail::check_defined(grid, "grid_sample", "grid");
  detail::check_same_device(input, grid, "grid_sample");
  TANGENT_CHECK(mode == "bilinear" || mode == "nearest",
                "grid_sample: mode must be \"bilinear\" or \"nearest\", got \"", mode, "\"");
  TANGENT_CHECK(padding_mode == "zeros" || padding_mode == "border",
                "grid_sample: padding_mode must be \"zeros\" or \"border\", got \"", padding_mode, "\"");
  TANGENT_CHECK(input.dim() == 4 && grid.dim() == 4 && grid.shape()[3] == 2 && grid.shape()[0] == input.shape()[0],
                "grid_sample: expected input [N, C, H, W] and grid [N, Ho, Wo, 2], got input ", input.shape(),
                " and grid ", grid.shape());
  TANGENT_CHECK(input.is_floating_point() && input.dtype() == grid.dtype(),
                "grid_sample: input and grid must share a floating dtype, got ", input.dtype(), " and ", grid.dtype());
  const int64_t n = input.shape()[0], c = input.shape()[1], h = input.shape()[2], w = input.shape()[3];
  TANGENT_CHECK(h > 0 && w > 0, "grid_sample: input of shape ", input.shape(), " has an empty image");
  const int64_t ho = grid.shape()[1], wo = grid.shape()[2];
  if (n == 0 || c == 0 || ho == 0 || wo == 0) return zeros({n, c, ho, wo}, input.options());

  Tensor ix = unnormalize(select(grid, 3, 0), w, align_corners);
  Tensor iy = unnormalize(select(grid, 3, 1), h, align_corners);
  if (padding_mode == "border") {
    ix = clamp(ix, 0.0, static_cast<double>(w - 1));
    iy = clamp(iy, 0.0, static_cast<double>(h - 1));
  }
  const Tensor flat = input.reshape({n, c, h * w});
  if (mode == "nearest") {
    const Tensor x = round(ix.detach()), y = round(iy.detach());
    const Tensor valid = inside(x, y, h, w);
    return where(valid.unsqueeze(1), read_pixels(flat, x, y, w, valid), 0.0);
  }
  // Bilinear: the four neighbours, weighted by the opposite sub-pixel areas (differentiable in ix, iy).
  const Tensor x0 = floor(ix.detach()), y0 = floor(iy.detach());
  const Tensor x1 = add(x0, 1.0), y1 = add(y0, 1.0);
  const Tensor wx1 = sub(ix, x0), wy1 = sub(iy, y0);
  const Tensor wx0 = sub(x1, ix), wy0 = sub(y1, iy);
  Tensor out;
  for (int corner = 0; corner < 4; ++corner) {
    const Tensor& x = corner & 1 ? x1 : x0;
    const Tensor& y = corner & 2 ? y1 : y0;
    const Tensor weight = mul(corner & 1 ? wx1 : wx0, corner & 2 ? wy1 : wy0);
    const Tensor valid = inside(x, y, h, w);
    const Tensor term = mul(read_pixels(flat, x, y, w, valid), where(valid, weight, 0.0).unsqueeze(1));
    out = corner == 0 ? term : add(out, term);
  }
  return out;
}

}  // namespace tangent
