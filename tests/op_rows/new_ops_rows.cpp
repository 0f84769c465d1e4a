// Op-table rows for the ops added with the generated op lists (core/scalar_math.h): floor, round, atan2, and the
// spatial ops of ops/spatial.h (pad, affine_grid, grid_sample). Each reference is an independent loop over
// to_vector values following PyTorch's definitions (torch.nn.functional.pad, affine_grid, grid_sample's CPU
// kernel); tests/test_spatial.cpp checks the same ops against values printed by PyTorch.
// Inputs keep away from the kinks: floor/round inputs from integers and half-integers, grid points from pixel
// centres (bilinear) and from midpoints between them (nearest).
#include <cmath>
#include <functional>

#include "support/op_table.h"

using namespace tangent;
using tangent::testing::OpCase;

namespace {

using Inputs = std::vector<Tensor>;

Tensor uniform(const Shape& s, double lo, double hi) { return add(mul(rand(s, kFloat64), hi - lo), lo); }
Tensor from_values(const std::vector<double>& v, const Shape& shape) {
  return tensor(v, Shape{static_cast<int64_t>(v.size())}, kFloat64).reshape(shape);
}
// Values in (k + 0.1, k + 0.4) or (k + 0.6, k + 0.9) for integers k in [-3, 3): no integer or half-integer nearby.
Tensor away_from_steps(const Shape& s) {
  const Tensor k = to_dtype(randint(-3, 3, s), kFloat64);
  const Tensor frac = add(uniform(s, 0.1, 0.4), mul(bernoulli(s, 0.5, kFloat64), 0.5));
  return add(k, frac);
}

std::function<Tensor(const Inputs&)> unary_ref(double (*f)(double)) {
  return [f](const Inputs& x) {
    std::vector<double> v = to_vector<double>(x[0]);
    for (auto& e : v) e = f(e);
    return from_values(v, x[0].shape());
  };
}

// ---- pad: out[i] = x[source(i)] per padded dim, or the constant ----
Tensor pad_ref(const Tensor& x, const std::vector<int64_t>& pads, const std::string& mode, double value) {
  const Shape in = x.shape();
  Shape out_shape = in;
  const size_t nd = in.size(), pairs = pads.size() / 2;
  for (size_t i = 0; i < pairs; ++i) out_shape[nd - 1 - i] += pads[2 * i] + pads[2 * i + 1];
  const std::vector<double> v = to_vector<double>(x.contiguous());
  int64_t total = 1;
  for (auto s : out_shape) total *= s;
  std::vector<double> out(static_cast<size_t>(total));
  for (int64_t flat = 0; flat < total; ++flat) {
    int64_t rem = flat, src = 0, stride = 1;
    bool inside = true;
    for (size_t d = nd; d-- > 0;) {
      int64_t o = rem % out_shape[d];
      rem /= out_shape[d];
      const size_t back = nd - 1 - d;
      const int64_t left = back < pairs ? pads[2 * back] : 0;
      int64_t j = o - left;
      if (j < 0 || j >= in[d]) {
        if (mode == "constant")
          inside = false;
        else if (mode == "reflect")
          j = j < 0 ? -j : 2 * (in[d] - 1) - j;
        else
          j = j < 0 ? 0 : in[d] - 1;
      }
      src += j * stride;
      stride *= in[d];
    }
    out[static_cast<size_t>(flat)] = inside ? v[static_cast<size_t>(src)] : value;
  }
  return from_values(out, out_shape);
}

// ---- affine_grid and grid_sample, as PyTorch's CPU kernels compute them ----
double base_coord(int64_t i, int64_t steps, bool align) {
  if (steps == 1) return 0.0;
  const double t = -1.0 + 2.0 * static_cast<double>(i) / static_cast<double>(steps - 1);
  return align ? t : t * static_cast<double>(steps - 1) / static_cast<double>(steps);
}

Tensor affine_grid_ref(const Tensor& theta, const Shape& size, bool align) {
  const std::vector<double> t = to_vector<double>(theta.contiguous());
  const int64_t n = size[0], h = size[2], w = size[3];
  std::vector<double> out;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t i = 0; i < h; ++i)
      for (int64_t j = 0; j < w; ++j) {
        const double x = base_coord(j, w, align), y = base_coord(i, h, align);
        for (int r = 0; r < 2; ++r) {
          const double* row = &t[static_cast<size_t>(b * 6 + r * 3)];
          out.push_back(row[0] * x + row[1] * y + row[2]);
        }
      }
  return from_values(out, {n, h, w, 2});
}

Tensor grid_sample_ref(const Tensor& input, const Tensor& grid, const std::string& mode, const std::string& padding,
                       bool align) {
  const std::vector<double> in = to_vector<double>(input.contiguous()), g = to_vector<double>(grid.contiguous());
  const int64_t n = input.shape()[0], c = input.shape()[1], h = input.shape()[2], w = input.shape()[3];
  const int64_t ho = grid.shape()[1], wo = grid.shape()[2];
  auto unnorm = [align](double coord, int64_t size) {
    double p =
        align ? (coord + 1) / 2 * static_cast<double>(size - 1) : ((coord + 1) * static_cast<double>(size) - 1) / 2;
    return p;
  };
  auto clip = [](double p, int64_t size) { return std::min(std::max(p, 0.0), static_cast<double>(size - 1)); };
  std::vector<double> out;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < ho; ++i)
        for (int64_t j = 0; j < wo; ++j) {
          const size_t gi = static_cast<size_t>(((b * ho + i) * wo + j) * 2);
          double ix = unnorm(g[gi], w), iy = unnorm(g[gi + 1], h);
          if (padding == "border") ix = clip(ix, w), iy = clip(iy, h);
          auto pixel = [&](int64_t y, int64_t x) {
            if (x < 0 || x >= w || y < 0 || y >= h) return 0.0;
            return in[static_cast<size_t>(((b * c + ch) * h + y) * w + x)];
          };
          if (mode == "nearest") {
            out.push_back(pixel(static_cast<int64_t>(std::nearbyint(iy)), static_cast<int64_t>(std::nearbyint(ix))));
            continue;
          }
          const double x0 = std::floor(ix), y0 = std::floor(iy);
          const int64_t xi = static_cast<int64_t>(x0), yi = static_cast<int64_t>(y0);
          const double ax = ix - x0, ay = iy - y0;
          out.push_back(pixel(yi, xi) * (1 - ax) * (1 - ay) + pixel(yi, xi + 1) * ax * (1 - ay) +
                        pixel(yi + 1, xi) * (1 - ax) * ay + pixel(yi + 1, xi + 1) * ax * ay);
        }
  return from_values(out, {n, c, ho, wo});
}

// Grid points (x, y) in [-1.2, 1.2] (some outside the image) whose pixel coordinates keep at least 0.1 from an
// integer (bilinear's kinks) or, for nearest, from a half-integer; h and w are the input's height and width.
Tensor grid_points(int64_t n, int64_t ho, int64_t wo, int64_t h, int64_t w, bool align, bool nearest) {
  const Tensor frac = uniform({n, ho, wo, 2}, 0.1, 0.9);
  const Tensor k = to_dtype(randint(-1, std::max(h, w) + 1, {n, ho, wo, 2}), kFloat64);
  Tensor pix = add(k, nearest ? sub(frac, 0.5) : frac);  // pixel coordinates
  // Back to [-1, 1] coordinates per axis (x uses w, y uses h).
  std::vector<double> p = to_vector<double>(pix);
  for (size_t i = 0; i < p.size(); ++i) {
    const double size = static_cast<double>(i % 2 == 0 ? w : h);
    p[i] = align ? p[i] * 2 / (size - 1) - 1 : (2 * p[i] + 1) / size - 1;
  }
  return from_values(p, {n, ho, wo, 2});
}

}  // namespace

// ---- floor / round ----
TANGENT_OP_CASE(floor_basic, {
                                 .name = "floor",
                                 .inputs =
                                     [] {
                                       return Inputs{away_from_steps({3, 4})};
                                     },
                                 .fn = [](const Inputs& x) { return floor(x[0]); },
                                 .reference = unary_ref([](double v) { return std::floor(v); }),
                             });
TANGENT_OP_CASE(round_basic, {
                                 .name = "round",
                                 .inputs =
                                     [] {
                                       return Inputs{away_from_steps({3, 4})};
                                     },
                                 .fn = [](const Inputs& x) { return round(x[0]); },
                                 .reference = unary_ref([](double v) { return std::nearbyint(v); }),
                             });
// Inside a composition: x * floor(x) has gradient floor(x).
TANGENT_OP_CASE(floor_in_product, {
                                      .name = "floor/times_x",
                                      .inputs = [] { return Inputs{away_from_steps({5})}; },
                                      .fn = [](const Inputs& x) { return mul(x[0], floor(x[0])); },
                                      .reference = unary_ref([](double v) { return v * std::floor(v); }),
                                  });

// ---- atan2 ----
TANGENT_OP_CASE(atan2_same, {
                                .name = "atan2/same_shape",
                                .inputs =
                                    [] {
                                      return Inputs{randn({3, 4}, kFloat64), add(randn({3, 4}, kFloat64), 0.1)};
                                    },
                                .fn = [](const Inputs& x) { return atan2(x[0], x[1]); },
                                .reference =
                                    [](const Inputs& x) {
                                      const std::vector<double> a = to_vector<double>(x[0]),
                                                                b = to_vector<double>(x[1]);
                                      std::vector<double> out(a.size());
                                      for (size_t i = 0; i < a.size(); ++i) out[i] = std::atan2(a[i], b[i]);
                                      return from_values(out, x[0].shape());
                                    },
                            });
TANGENT_OP_CASE(atan2_broadcast, {
                                     .name = "atan2/broadcast",
                                     .inputs =
                                         [] {
                                           return Inputs{randn({3, 1}, kFloat64), uniform({4}, -2.0, -0.5)};
                                         },
                                     .fn = [](const Inputs& x) { return atan2(x[0], x[1]); },
                                     .reference =
                                         [](const Inputs& x) {
                                           const std::vector<double> a = to_vector<double>(x[0].expand({3, 4})),
                                                                     b = to_vector<double>(x[1].expand({3, 4}));
                                           std::vector<double> out(a.size());
                                           for (size_t i = 0; i < a.size(); ++i) out[i] = std::atan2(a[i], b[i]);
                                           return from_values(out, {3, 4});
                                         },
                                 });

// ---- pad ----
TANGENT_OP_CASE(pad_constant_1d, {
                                     .name = "pad/constant_1d",
                                     .inputs =
                                         [] {
                                           return Inputs{randn({2, 3, 5}, kFloat64)};
                                         },
                                     .fn =
                                         [](const Inputs& x) {
                                           return pad(x[0], {2, 1}, "constant", 0.5);
                                         },
                                     .reference =
                                         [](const Inputs& x) {
                                           return pad_ref(x[0], {2, 1}, "constant", 0.5);
                                         },
                                 });
TANGENT_OP_CASE(pad_constant_2d, {
                                     .name = "pad/constant_2d",
                                     .inputs =
                                         [] {
                                           return Inputs{randn({2, 3, 4, 5}, kFloat64)};
                                         },
                                     .fn =
                                         [](const Inputs& x) {
                                           return pad(x[0], {1, 2, 0, 3});
                                         },
                                     .reference =
                                         [](const Inputs& x) {
                                           return pad_ref(x[0], {1, 2, 0, 3}, "constant", 0.0);
                                         },
                                 });
TANGENT_OP_CASE(pad_constant_crop,
                {
                    .name = "pad/constant_negative_crops",
                    .inputs =
                        [] {
                          return Inputs{randn({3, 6}, kFloat64)};
                        },
                    .fn =
                        [](const Inputs& x) {
                          return pad(x[0], {-2, 1, 1, -1}, "constant", -1.0);
                        },
                    .reference =
                        [](const Inputs& x) {
                          // Crop 2 on the left of the last dim and 1 at the bottom, then pad (PyTorch applies both the
                          // same way).
                          const Tensor cropped = x[0].contiguous();
                          return pad_ref(slice(slice(cropped, 1, 2, 6), 0, 0, 2), {0, 1, 1, 0}, "constant", -1.0);
                        },
                });
TANGENT_OP_CASE(pad_reflect_1d, {
                                    .name = "pad/reflect_1d",
                                    .inputs =
                                        [] {
                                          return Inputs{randn({2, 3, 5}, kFloat64)};
                                        },
                                    .fn =
                                        [](const Inputs& x) {
                                          return pad(x[0], {4, 2}, "reflect");
                                        },
                                    .reference =
                                        [](const Inputs& x) {
                                          return pad_ref(x[0], {4, 2}, "reflect", 0.0);
                                        },
                                });
TANGENT_OP_CASE(pad_reflect_2d, {
                                    .name = "pad/reflect_2d",
                                    .inputs =
                                        [] {
                                          return Inputs{randn({1, 2, 4, 5}, kFloat64)};
                                        },
                                    .fn =
                                        [](const Inputs& x) {
                                          return pad(x[0], {2, 3, 1, 3}, "reflect");
                                        },
                                    .reference =
                                        [](const Inputs& x) {
                                          return pad_ref(x[0], {2, 3, 1, 3}, "reflect", 0.0);
                                        },
                                });
TANGENT_OP_CASE(pad_replicate_1d, {
                                      .name = "pad/replicate_1d",
                                      .inputs =
                                          [] {
                                            return Inputs{randn({2, 3, 4}, kFloat64)};
                                          },
                                      .fn =
                                          [](const Inputs& x) {
                                            return pad(x[0], {3, 1}, "replicate");
                                          },
                                      .reference =
                                          [](const Inputs& x) {
                                            return pad_ref(x[0], {3, 1}, "replicate", 0.0);
                                          },
                                  });
TANGENT_OP_CASE(pad_replicate_2d, {
                                      .name = "pad/replicate_2d",
                                      .inputs =
                                          [] {
                                            return Inputs{randn({2, 1, 3, 4}, kFloat64)};
                                          },
                                      .fn =
                                          [](const Inputs& x) {
                                            return pad(x[0], {2, 2, 3, 1}, "replicate");
                                          },
                                      .reference =
                                          [](const Inputs& x) {
                                            return pad_ref(x[0], {2, 2, 3, 1}, "replicate", 0.0);
                                          },
                                  });

// ---- affine_grid ----
TANGENT_OP_CASE(affine_grid_edges, {
                                       .name = "affine_grid/pixel_edges",
                                       .inputs =
                                           [] {
                                             return Inputs{randn({2, 2, 3}, kFloat64)};
                                           },
                                       .fn =
                                           [](const Inputs& x) {
                                             return affine_grid(x[0], {2, 3, 4, 5}, false);
                                           },
                                       .reference =
                                           [](const Inputs& x) {
                                             return affine_grid_ref(x[0], {2, 3, 4, 5}, false);
                                           },
                                   });
TANGENT_OP_CASE(affine_grid_corners, {
                                         .name = "affine_grid/align_corners",
                                         .inputs =
                                             [] {
                                               return Inputs{randn({1, 2, 3}, kFloat64)};
                                             },
                                         .fn =
                                             [](const Inputs& x) {
                                               return affine_grid(x[0], {1, 1, 3, 1}, true);
                                             },
                                         .reference =
                                             [](const Inputs& x) {
                                               return affine_grid_ref(x[0], {1, 1, 3, 1}, true);
                                             },
                                     });

// ---- grid_sample (input [2, 3, 4, 5], grid [2, 3, 2, 2]) ----
#define TANGENT_GRID_SAMPLE_ROW(id, label, mode, padding, align)                                                      \
  TANGENT_OP_CASE(id,                                                                                                 \
                  {                                                                                                   \
                      .name = label,                                                                                  \
                      .inputs =                                                                                       \
                          [] {                                                                                        \
                            Tensor input = randn({2, 3, 4, 5}, kFloat64);                                             \
                            return Inputs{input, grid_points(2, 3, 2, 4, 5, align, std::string(mode) == "nearest")};  \
                          },                                                                                          \
                      .fn = [](const Inputs& x) { return grid_sample(x[0], x[1], mode, padding, align); },            \
                      .reference = [](const Inputs& x) { return grid_sample_ref(x[0], x[1], mode, padding, align); }, \
                  })
TANGENT_GRID_SAMPLE_ROW(gs_bilinear_zeros, "grid_sample/bilinear_zeros", "bilinear", "zeros", false);
TANGENT_GRID_SAMPLE_ROW(gs_bilinear_zeros_ac, "grid_sample/bilinear_zeros_align_corners", "bilinear", "zeros", true);
TANGENT_GRID_SAMPLE_ROW(gs_bilinear_border, "grid_sample/bilinear_border", "bilinear", "border", false);
TANGENT_GRID_SAMPLE_ROW(gs_bilinear_border_ac, "grid_sample/bilinear_border_align_corners", "bilinear", "border", true);
TANGENT_GRID_SAMPLE_ROW(gs_nearest_zeros, "grid_sample/nearest_zeros", "nearest", "zeros", false);
TANGENT_GRID_SAMPLE_ROW(gs_nearest_border_ac, "grid_sample/nearest_border_align_corners", "nearest", "border", true);
#undef TANGENT_GRID_SAMPLE_ROW

// A spatial transformer: a small affine warp of the identity, sampled bilinearly (gradients to theta and image).
TANGENT_OP_CASE(
    spatial_transformer,
    {
        .name = "grid_sample/affine_grid_warp",
        .inputs =
            [] {
              const Tensor identity = tensor(std::vector<double>{1, 0, 0, 0, 1, 0}, Shape{1, 2, 3}, kFloat64);
              return Inputs{randn({1, 2, 4, 4}, kFloat64), add(identity, mul(randn({1, 2, 3}, kFloat64), 0.05))};
            },
        .fn =
            [](const Inputs& x) {
              return grid_sample(x[0], affine_grid(x[1], {1, 2, 4, 4}, false));
            },
        .reference =
            [](const Inputs& x) {
              return grid_sample_ref(x[0], affine_grid_ref(x[1], {1, 2, 4, 4}, false), "bilinear", "zeros", false);
            },
    });
