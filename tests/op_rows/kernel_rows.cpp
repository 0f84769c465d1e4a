// Op-table rows for the ops whose kernels are backend primitives (ops/unfold.h): unfold and fold against plain
// loops over the values in double, with stride, padding and dilation.
#include <vector>

#include "ops/unfold.h"
#include "support/op_table.h"

using namespace tangent;

namespace {

using Inputs = std::vector<Tensor>;
using Vec = std::vector<double>;

size_t z(int64_t i) { return static_cast<size_t>(i); }

UnfoldOptions strided() {
  UnfoldOptions o;
  o.kernel_size = {2, 3};
  o.stride = {2, 1};
  o.padding = {1, 1};
  o.dilation = {1, 2};
  return o;
}

// The columns of x [N, C, H, W] (unfold), or their sum back into the image (fold, `adjoint`), by loops.
Vec patches(const Vec& in, int64_t N, int64_t C, int64_t H, int64_t W, const UnfoldOptions& o, bool adjoint) {
  const int64_t kh = o.kernel_size[0], kw = o.kernel_size[1];
  const int64_t Ho = (H + 2 * o.padding[0] - o.dilation[0] * (kh - 1) - 1) / o.stride[0] + 1;
  const int64_t Wo = (W + 2 * o.padding[1] - o.dilation[1] * (kw - 1) - 1) / o.stride[1] + 1;
  const int64_t K = C * kh * kw, L = Ho * Wo;
  Vec out(adjoint ? z(N * C * H * W) : z(N * K * L), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t ky = 0; ky < kh; ++ky)
        for (int64_t kx = 0; kx < kw; ++kx)
          for (int64_t oy = 0; oy < Ho; ++oy)
            for (int64_t ox = 0; ox < Wo; ++ox) {
              const int64_t iy = oy * o.stride[0] - o.padding[0] + ky * o.dilation[0];
              const int64_t ix = ox * o.stride[1] - o.padding[1] + kx * o.dilation[1];
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
              const size_t col = z((n * K + (c * kh + ky) * kw + kx) * L + oy * Wo + ox);
              const size_t pix = z(((n * C + c) * H + iy) * W + ix);
              if (adjoint)
                out[pix] += in[col];
              else
                out[col] = in[pix];
            }
  return out;
}

}  // namespace

TANGENT_OP_CASE(kernel_unfold,
                {
                    .name = "unfold",
                    .inputs =
                        [] {
                          return Inputs{randn({2, 3, 5, 6}, kFloat64)};
                        },
                    .fn = [](const Inputs& x) { return unfold(x[0], strided()); },
                    .reference =
                        [](const Inputs& x) {
                          // Ho = (5 + 2 - 1 - 1) / 2 + 1 = 3, Wo = (6 + 2 - 4 - 1) / 1 + 1 = 4
                          return tensor(patches(to_vector<double>(x[0].contiguous()), 2, 3, 5, 6, strided(), false),
                                        {2, 18, 12}, kFloat64);
                        },
                });

TANGENT_OP_CASE(
    kernel_unfold_plain,
    {
        .name = "unfold/3x3",
        .inputs =
            [] {
              return Inputs{randn({1, 2, 4, 4}, kFloat64)};
            },
        .fn =
            [](const Inputs& x) {
              UnfoldOptions o;
              o.kernel_size = {3, 3};
              return unfold(x[0], o);
            },
        .reference =
            [](const Inputs& x) {
              UnfoldOptions o;
              o.kernel_size = {3, 3};
              return tensor(patches(to_vector<double>(x[0].contiguous()), 1, 2, 4, 4, o, false), {1, 18, 4}, kFloat64);
            },
    });

TANGENT_OP_CASE(kernel_fold, {
                                 .name = "fold",
                                 .inputs =
                                     [] {
                                       return Inputs{randn({2, 18, 12}, kFloat64)};
                                     },
                                 .fn =
                                     [](const Inputs& x) {
                                       return fold(x[0], {5, 6}, strided());
                                     },
                                 .reference =
                                     [](const Inputs& x) {
                                       return tensor(
                                           patches(to_vector<double>(x[0].contiguous()), 2, 3, 5, 6, strided(), true),
                                           {2, 3, 5, 6}, kFloat64);
                                     },
                             });
