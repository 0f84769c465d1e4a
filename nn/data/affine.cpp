// Random affine transforms of images (see affine.h for the conventions and the drawing policy).
#include "nn/data/affine.h"

#include <algorithm>
#include <cmath>

#include "core/generator.h"
#include "core/parallel.h"
#include "ops/factory.h"

namespace tangent::data {

namespace {

constexpr double kPi = 3.14159265358979323846;
// The transformed support box keeps this far inside its limits, so that round-off cannot put a pixel off the canvas.
constexpr double kMargin = 1e-6;

struct Matrix2 {
  double a, b, c, d;  // [[a, b], [c, d]]
};

// A = R(rotation) Shear(shear) diag(sx, sy).
Matrix2 linear_part(const AffineParams& p) {
  const double t = p.rotation_degrees * kPi / 180.0, co = std::cos(t), si = std::sin(t);
  // R Shear = [[co, co s - si], [si, si s + co]], then the columns scaled by sx and sy.
  return {co * p.scale_x, (co * p.shear - si) * p.scale_y, si * p.scale_x, (si * p.shear + co) * p.scale_y};
}

}  // namespace

bool transformed_support(const ImageView& image, const AffineParams& params, double box[4]) {
  int64_t x_lo = image.w, x_hi = -1, y_lo = image.h, y_hi = -1;
  for (int64_t y = 0; y < image.h; ++y)
    for (int64_t x = 0; x < image.w; ++x)
      if (image.pixels[y * image.w + x] != 0.0f)
        x_lo = std::min(x_lo, x), x_hi = std::max(x_hi, x), y_lo = std::min(y_lo, y), y_hi = std::max(y_hi, y);
  if (x_hi < 0) return false;
  const Matrix2 m = linear_part(params);
  const double cx = static_cast<double>(image.w - 1) / 2, cy = static_cast<double>(image.h - 1) / 2;
  box[0] = box[2] = INFINITY;
  box[1] = box[3] = -INFINITY;
  for (int64_t corner = 0; corner < 4; ++corner) {
    const double qx = static_cast<double>(corner & 1 ? x_hi + 1 : x_lo - 1) - cx;
    const double qy = static_cast<double>(corner & 2 ? y_hi + 1 : y_lo - 1) - cy;
    const double px = m.a * qx + m.b * qy + cx, py = m.c * qx + m.d * qy + cy;
    box[0] = std::min(box[0], px), box[1] = std::max(box[1], px);
    box[2] = std::min(box[2], py), box[3] = std::max(box[3], py);
  }
  return true;
}

AffineParams draw_affine(const ImageView& image, const AffineRanges& ranges, uint64_t key, uint64_t a, uint64_t b) {
  const auto r0 = philox4x32(a, 2 * b, key), r1 = philox4x32(a, 2 * b + 1, key);
  const double u[6] = {uint_to_unit_float(r0[0]), uint_to_unit_float(r0[1]), uint_to_unit_float(r0[2]),
                       uint_to_unit_float(r0[3]), uint_to_unit_float(r1[0]), uint_to_unit_float(r1[1])};
  AffineParams p;
  p.rotation_degrees = (2 * u[0] - 1) * ranges.rotation_degrees;
  p.shear = (2 * u[1] - 1) * ranges.shear;
  p.scale_x = ranges.scale_min + u[2] * (ranges.scale_max - ranges.scale_min);
  p.scale_y = ranges.scale_min + u[3] * (ranges.scale_max - ranges.scale_min);
  double box[4];
  if (!transformed_support(image, p, box)) return p;
  // The canvas holds output pixels 0..W-1; a transformed box (open) inside [-1, W] lights up no pixel outside.
  const double room_x = static_cast<double>(image.w + 1) - 2 * kMargin;
  const double room_y = static_cast<double>(image.h + 1) - 2 * kMargin;
  const double fit = std::min({1.0, room_x / (box[1] - box[0]), room_y / (box[3] - box[2])});
  if (fit < 1.0) {
    p.scale_x *= fit, p.scale_y *= fit;
    transformed_support(image, p, box);
  }
  const double tx_lo = -1 + kMargin - box[0], tx_hi = static_cast<double>(image.w) - kMargin - box[1];
  const double ty_lo = -1 + kMargin - box[2], ty_hi = static_cast<double>(image.h) - kMargin - box[3];
  p.tx = tx_lo + u[4] * std::max(0.0, tx_hi - tx_lo);
  p.ty = ty_lo + u[5] * std::max(0.0, ty_hi - ty_lo);
  return p;
}

void warp_affine(const ImageView& image, const AffineParams& params, float* out) {
  const Matrix2 m = linear_part(params);
  const double det = m.a * m.d - m.b * m.c;
  TANGENT_CHECK(std::isfinite(det) && det != 0.0, "warp_affine: the transform (rotation ", params.rotation_degrees,
                ", shear ", params.shear, ", scale ", params.scale_x, " x ", params.scale_y, ") is singular");
  const Matrix2 inv{m.d / det, -m.b / det, -m.c / det, m.a / det};
  const double cx = static_cast<double>(image.w - 1) / 2, cy = static_cast<double>(image.h - 1) / 2;
  auto at = [&](int64_t x, int64_t y) -> double {
    return x < 0 || y < 0 || x >= image.w || y >= image.h ? 0.0 : image.pixels[y * image.w + x];
  };
  for (int64_t y = 0; y < image.h; ++y)
    for (int64_t x = 0; x < image.w; ++x) {
      const double dx = static_cast<double>(x) - cx - params.tx, dy = static_cast<double>(y) - cy - params.ty;
      const double qx = inv.a * dx + inv.b * dy + cx, qy = inv.c * dx + inv.d * dy + cy;
      if (!(qx > -1 && qx < static_cast<double>(image.w) && qy > -1 && qy < static_cast<double>(image.h))) {
        out[y * image.w + x] = 0.0f;  // no input pixel within reach (also NaN, or far beyond int64)
        continue;
      }
      const double fx = std::floor(qx), fy = std::floor(qy), wx = qx - fx, wy = qy - fy;
      const auto x0 = static_cast<int64_t>(fx), y0 = static_cast<int64_t>(fy);
      out[y * image.w + x] = static_cast<float>((1 - wy) * ((1 - wx) * at(x0, y0) + wx * at(x0 + 1, y0)) +
                                                wy * ((1 - wx) * at(x0, y0 + 1) + wx * at(x0 + 1, y0 + 1)));
    }
}

Tensor pad_images(const Tensor& images, int64_t padding) {
  TANGENT_CHECK(images.defined() && images.dtype() == kInt64 && images.dim() == 3, "pad_images: expected int64 ",
                "images [N, H, W], got ", images.defined() ? images.shape() : Shape{});
  TANGENT_CHECK(padding >= 0, "pad_images: padding must be >= 0, got ", padding);
  const Tensor src = images.contiguous();
  const int64_t n = src.size(0), h = src.size(1), w = src.size(2), ph = h + 2 * padding, pw = w + 2 * padding;
  Tensor out = zeros({n, ph, pw}, kInt64);
  const int64_t* s = src.data_ptr<int64_t>();
  int64_t* d = out.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t y = 0; y < h; ++y)
      std::copy(s + (i * h + y) * w, s + (i * h + y + 1) * w, d + (i * ph + y + padding) * pw + padding);
  return out;
}

AffineParams params_from_row(const double* row) { return {row[0], row[1], row[2], row[3], row[4], row[5]}; }

std::pair<Tensor, Tensor> affine_test_set(const Tensor& images, int64_t versions, uint64_t seed,
                                          const AffineRanges& ranges) {
  TANGENT_CHECK(images.defined() && images.dtype() == kInt64 && images.dim() == 3, "affine_test_set: expected int64 ",
                "images [N, H, W], got ", images.defined() ? images.shape() : Shape{});
  TANGENT_CHECK(versions >= 1, "affine_test_set: versions must be >= 1, got ", versions);
  const Tensor src = images.contiguous();
  const int64_t n = src.size(0), h = src.size(1), w = src.size(2);
  Tensor out = zeros({n * versions, h, w}, kInt64), params = zeros({n * versions, 6}, kFloat64);
  const int64_t* s = src.data_ptr<int64_t>();
  int64_t* d = out.data_ptr<int64_t>();
  double* pr = params.data_ptr<double>();
  parallel_for(n, 16, [&](int64_t begin, int64_t end) {
    std::vector<float> in(static_cast<size_t>(h * w)), warped(in.size());
    for (int64_t i = begin; i < end; ++i) {
      for (int64_t j = 0; j < h * w; ++j) in[static_cast<size_t>(j)] = static_cast<float>(s[i * h * w + j]);
      const ImageView view{in.data(), h, w};
      for (int64_t k = 0; k < versions; ++k) {
        const int64_t row = i * versions + k;
        const AffineParams p = draw_affine(view, ranges, seed, static_cast<uint64_t>(i), static_cast<uint64_t>(k));
        warp_affine(view, p, warped.data());
        for (int64_t j = 0; j < h * w; ++j)
          d[row * h * w + j] = std::clamp<int64_t>(std::llround(warped[static_cast<size_t>(j)]), 0, 255);
        const double values[6] = {p.rotation_degrees, p.shear, p.scale_x, p.scale_y, p.tx, p.ty};
        std::copy(values, values + 6, pr + row * 6);
      }
    }
  });
  return {out, params};
}

}  // namespace tangent::data
