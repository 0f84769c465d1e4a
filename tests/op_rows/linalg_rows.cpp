// Op-table rows for the matrix products (ops/linalg.h) and convolution / pooling (ops/conv.h), each with a naive
// loop as the reference. Max-pool inputs are a shuffled grid of well-separated values, so no window has a near-tie
// that central differences would cross.
#include <algorithm>
#include <functional>
#include <numeric>

#include "support/op_table.h"

using namespace tangent;
using tangent::testing::OpCase;

namespace {

using Inputs = std::vector<Tensor>;

Tensor normal(const Shape& s) { return randn(s, kFloat64); }

// a [..., M, K] @ b [..., K, N] with broadcast batch dims, in double (operands first expanded to the batch).
Tensor naive_matmul(const Tensor& a, const Tensor& b) {
  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  const Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  const Shape batch = broadcast_shapes(ba, bb, "reference");
  Shape sa = batch, sb = batch, so = batch;
  sa.push_back(M), sa.push_back(K), sb.push_back(K), sb.push_back(N), so.push_back(M), so.push_back(N);
  const auto av = to_vector<double>(a.expand(sa)), bv = to_vector<double>(b.expand(sb));
  std::vector<double> out(static_cast<size_t>(so.numel()), 0.0);
  for (int64_t t = 0; t < batch.numel(); ++t)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j)
        for (int64_t k = 0; k < K; ++k)
          out[static_cast<size_t>((t * M + i) * N + j)] +=
              av[static_cast<size_t>((t * M + i) * K + k)] * bv[static_cast<size_t>((t * K + k) * N + j)];
  return tensor(out, so, kFloat64);
}

Tensor naive_conv(const Tensor& x, const Tensor& w, const Tensor& b, Pair s, Pair p, int64_t groups) {
  const auto xv = to_vector<double>(x), wv = to_vector<double>(w), bv = to_vector<double>(b);
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t O = w.size(0), cpg = w.size(1), kH = w.size(2), kW = w.size(3), opg = O / groups;
  const int64_t Ho = (H + 2 * p[0] - kH) / s[0] + 1, Wo = (W + 2 * p[1] - kW) / s[1] + 1;
  std::vector<double> out;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t i = 0; i < Ho; ++i)
        for (int64_t j = 0; j < Wo; ++j) {
          double acc = bv[static_cast<size_t>(o)];
          for (int64_t c = 0; c < cpg; ++c)
            for (int64_t u = 0; u < kH; ++u)
              for (int64_t v = 0; v < kW; ++v) {
                const int64_t ih = i * s[0] - p[0] + u, iw = j * s[1] - p[1] + v;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += xv[static_cast<size_t>(((n * C + (o / opg) * cpg + c) * H + ih) * W + iw)] *
                       wv[static_cast<size_t>(((o * cpg + c) * kH + u) * kW + v)];
              }
          out.push_back(acc);
        }
  return tensor(out, {N, O, Ho, Wo}, kFloat64);
}

// Max or average (count_include_pad) pooling in double.
Tensor naive_pool(const Tensor& x, Pair k, Pair s, Pair p, bool max) {
  const auto xv = to_vector<double>(x);
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t Ho = (H + 2 * p[0] - k[0]) / s[0] + 1, Wo = (W + 2 * p[1] - k[1]) / s[1] + 1;
  std::vector<double> out;
  for (int64_t pl = 0; pl < N * C; ++pl)
    for (int64_t i = 0; i < Ho; ++i)
      for (int64_t j = 0; j < Wo; ++j) {
        double best = -1e300, sum = 0;
        int64_t padded = 0;
        for (int64_t u = 0; u < k[0]; ++u)
          for (int64_t v = 0; v < k[1]; ++v) {
            const int64_t ih = i * s[0] - p[0] + u, iw = j * s[1] - p[1] + v;
            if (ih < H + p[0] && iw < W + p[1]) ++padded;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            best = std::max(best, xv[static_cast<size_t>((pl * H + ih) * W + iw)]);
            sum += xv[static_cast<size_t>((pl * H + ih) * W + iw)];
          }
        out.push_back(max ? best : sum / static_cast<double>(padded));
      }
  return tensor(out, {N, C, Ho, Wo}, kFloat64);
}

// A shuffled grid 0.1 * (0, 1, 2, ...): distinct values, at least 0.1 apart.
Tensor separated(const Shape& s) {
  std::vector<int64_t> order(static_cast<size_t>(s.numel()));
  std::iota(order.begin(), order.end(), 0);
  const auto keys = to_vector<double>(rand({s.numel()}, kFloat64));
  std::sort(order.begin(), order.end(),
            [&](int64_t a, int64_t b) { return keys[static_cast<size_t>(a)] < keys[static_cast<size_t>(b)]; });
  std::vector<double> v(order.size());
  for (size_t i = 0; i < order.size(); ++i) v[static_cast<size_t>(order[i])] = 0.1 * static_cast<double>(i);
  return tensor(v, s, kFloat64);
}

}  // namespace

TANGENT_OP_CASE(matmul_2d, {
                               .name = "matmul/2d",
                               .inputs =
                                   [] {
                                     return Inputs{normal({3, 4}), normal({4, 5})};
                                   },
                               .fn = [](const Inputs& x) { return matmul(x[0], x[1]); },
                               .reference = [](const Inputs& x) { return naive_matmul(x[0], x[1]); },
                           });

TANGENT_OP_CASE(matmul_batched_broadcast, {
                                              .name = "matmul/batched_broadcast",
                                              .inputs =
                                                  [] {
                                                    return Inputs{normal({2, 1, 3, 4}), normal({3, 4, 2})};
                                                  },
                                              .fn = [](const Inputs& x) { return matmul(x[0], x[1]); },
                                              .reference = [](const Inputs& x) { return naive_matmul(x[0], x[1]); },
                                          });

TANGENT_OP_CASE(matmul_vec_mat, {
                                    .name = "matmul/1d_2d",
                                    .inputs =
                                        [] {
                                          return Inputs{normal({4}), normal({4, 3})};
                                        },
                                    .fn = [](const Inputs& x) { return matmul(x[0], x[1]); },
                                    .reference =
                                        [](const Inputs& x) {
                                          return naive_matmul(x[0].reshape({1, 4}), x[1]).reshape({3});
                                        },
                                });

TANGENT_OP_CASE(linear_bias,
                {
                    .name = "linear/bias",
                    .inputs =
                        [] {
                          return Inputs{normal({2, 3, 4}), normal({5, 4}), normal({5})};
                        },
                    .fn = [](const Inputs& x) { return linear(x[0], x[1], x[2]); },
                    .reference = [](const Inputs& x) { return add(naive_matmul(x[0], x[1].t().contiguous()), x[2]); },
                });

TANGENT_OP_CASE(addmm_bias, {
                                .name = "addmm/bias",
                                .inputs =
                                    [] {
                                      return Inputs{normal({4}), normal({3, 2}), normal({2, 4})};
                                    },
                                .fn = [](const Inputs& x) { return addmm(x[0], x[1], x[2]); },
                                .reference = [](const Inputs& x) { return add(naive_matmul(x[1], x[2]), x[0]); },
                            });

TANGENT_OP_CASE(addmm_scaled,
                {
                    .name = "addmm/scaled",
                    .inputs =
                        [] {
                          return Inputs{normal({3, 4}), normal({3, 2}), normal({2, 4})};
                        },
                    .fn = [](const Inputs& x) { return addmm(x[0], x[1], x[2], 0.5, 2.0); },
                    .reference =
                        [](const Inputs& x) { return add(mul(naive_matmul(x[1], x[2]), 2.0), mul(x[0], 0.5)); },
                });

TANGENT_OP_CASE(conv2d_stride_pad_groups,
                {
                    .name = "conv2d/stride2_pad1_groups2",
                    .inputs =
                        [] {
                          return Inputs{normal({2, 4, 5, 5}), normal({4, 2, 3, 3}), normal({4})};
                        },
                    .fn =
                        [](const Inputs& x) {
                          return conv2d(x[0], x[1], x[2], {2, 2}, {1, 1}, {1, 1}, 2);
                        },
                    .reference =
                        [](const Inputs& x) {
                          return naive_conv(x[0], x[1], x[2], {2, 2}, {1, 1}, 2);
                        },
                });

namespace {

// conv2d's input gradient written out: every output position sends g * w back to the input pixels it read.
Tensor naive_conv_input_grad(const Tensor& g, const Tensor& w, Pair hw, Pair s, Pair p, int64_t groups) {
  const auto gv = to_vector<double>(g), wv = to_vector<double>(w);
  const int64_t N = g.size(0), O = g.size(1), Ho = g.size(2), Wo = g.size(3);
  const int64_t cpg = w.size(1), kH = w.size(2), kW = w.size(3), opg = O / groups, C = cpg * groups;
  const int64_t H = hw[0], W = hw[1];
  std::vector<double> out(static_cast<size_t>(N * C * H * W), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t i = 0; i < Ho; ++i)
        for (int64_t j = 0; j < Wo; ++j)
          for (int64_t c = 0; c < cpg; ++c)
            for (int64_t u = 0; u < kH; ++u)
              for (int64_t v = 0; v < kW; ++v) {
                const int64_t ih = i * s[0] - p[0] + u, iw = j * s[1] - p[1] + v;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                out[static_cast<size_t>(((n * C + (o / opg) * cpg + c) * H + ih) * W + iw)] +=
                    gv[static_cast<size_t>(((n * O + o) * Ho + i) * Wo + j)] *
                    wv[static_cast<size_t>(((o * cpg + c) * kH + u) * kW + v)];
              }
  return tensor(out, {N, C, H, W}, kFloat64);
}

}  // namespace

TANGENT_OP_CASE(conv2d_input_grad_stride_pad_groups,
                {
                    .name = "conv2d_input_grad/stride2_pad1_groups2",
                    .inputs =
                        [] {
                          return Inputs{normal({2, 4, 3, 3}), normal({4, 2, 3, 3})};
                        },
                    .fn =
                        [](const Inputs& x) {
                          return conv2d_input_grad(x[0], x[1], {5, 5}, {2, 2}, {1, 1}, {1, 1}, 2);
                        },
                    .reference =
                        [](const Inputs& x) {
                          return naive_conv_input_grad(x[0], x[1], {5, 5}, {2, 2}, {1, 1}, 2);
                        },
                });

TANGENT_OP_CASE(max_pool2d_basic, {
                                      .name = "max_pool2d/k3_s2_p1",
                                      .inputs =
                                          [] {
                                            return Inputs{separated({1, 2, 5, 5})};
                                          },
                                      .fn =
                                          [](const Inputs& x) {
                                            return max_pool2d(x[0], {3, 3}, {2, 2}, {1, 1});
                                          },
                                      .reference =
                                          [](const Inputs& x) {
                                            return naive_pool(x[0], {3, 3}, {2, 2}, {1, 1}, true);
                                          },
                                  });

TANGENT_OP_CASE(avg_pool2d_basic, {
                                      .name = "avg_pool2d/k3_s2_p1",
                                      .inputs =
                                          [] {
                                            return Inputs{normal({1, 2, 5, 5})};
                                          },
                                      .fn =
                                          [](const Inputs& x) {
                                            return avg_pool2d(x[0], {3, 3}, {2, 2}, {1, 1});
                                          },
                                      .reference =
                                          [](const Inputs& x) {
                                            return naive_pool(x[0], {3, 3}, {2, 2}, {1, 1}, false);
                                          },
                                  });

TANGENT_OP_CASE(adaptive_avg_pool2d_uneven, {
                                                .name = "adaptive_avg_pool2d/uneven",
                                                .inputs =
                                                    [] {
                                                      return Inputs{normal({1, 2, 5, 4})};
                                                    },
                                                .fn =
                                                    [](const Inputs& x) {
                                                      return adaptive_avg_pool2d(x[0], {3, 3});
                                                    },
                                            });

TANGENT_OP_CASE(mm_2d, {
                           .name = "mm",
                           .inputs =
                               [] {
                                 return Inputs{normal({3, 4}), normal({4, 5})};
                               },
                           .fn = [](const Inputs& x) { return mm(x[0], x[1]); },
                           .reference = [](const Inputs& x) { return naive_matmul(x[0], x[1]); },
                           .dtypes = tangent::testing::all_float_dtypes(),
                           .tol_scale = 4.0,  // a sum of K = 4 rounded products
                       });
TANGENT_OP_CASE(mm_transposed, {
                                   .name = "mm/transposed_operand",
                                   .inputs =
                                       [] {
                                         return Inputs{normal({4, 3}), normal({4, 5})};
                                       },
                                   .fn = [](const Inputs& x) { return mm(x[0].t(), x[1]); },
                                   .reference = [](const Inputs& x) { return naive_matmul(x[0].t(), x[1]); },
                               });
TANGENT_OP_CASE(bmm_3d, {
                            .name = "bmm",
                            .inputs =
                                [] {
                                  return Inputs{normal({2, 3, 4}), normal({2, 4, 2})};
                                },
                            .fn = [](const Inputs& x) { return bmm(x[0], x[1]); },
                            .reference = [](const Inputs& x) { return naive_matmul(x[0], x[1]); },
                            .dtypes = tangent::testing::all_float_dtypes(),
                            .tol_scale = 4.0,
                        });
