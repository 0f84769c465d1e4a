// Op-table rows for the differentiable functional ops of nn/functional.h (norms, losses, embedding): each with a
// reference computed by plain loops over the values in double. Inputs avoid kinks (l1_loss differences stay away
// from 0); class-index targets are int64 inputs (never perturbed); batch_norm runs without running statistics in
// training mode, so the rows have no in-place side effects.
#include <algorithm>
#include <cmath>
#include <functional>

#include <gtest/gtest.h>

#include "support/op_table.h"

using namespace tangent;
using tangent::testing::OpCase;
namespace F = tangent::nn::functional;

namespace {

using Inputs = std::vector<Tensor>;
using Vec = std::vector<double>;

Tensor normal(const Shape& s) { return randn(s, kFloat64); }
Tensor positive(const Shape& s) { return add(rand(s, kFloat64), 0.5); }
Tensor signed_away_from_zero(const Shape& s) {
  return mul(add(mul(rand(s, kFloat64), 1.7), 0.3), sub(mul(bernoulli(s, 0.5, kFloat64), 2.0), 1.0));
}
Tensor indices(const std::vector<int64_t>& v, const Shape& s) { return tensor(v, s); }
Vec vals(const Tensor& t) { return to_vector<double>(t); }
Tensor from(const Vec& v, const Shape& s) { return tensor(v, s, kFloat64); }
size_t z(int64_t i) { return static_cast<size_t>(i); }

// Row-wise normalisation reference over the last `inner` elements: (x - m) / sqrt(v + eps) * w + b, where
// m and v are the row mean and biased variance (layer norm) or m = 0 and v = mean square (rms norm).
Tensor rows_norm_ref(const Tensor& x, int64_t inner, const Tensor& w, const Tensor& b, double eps, bool rms) {
  const Vec xv = vals(x), wv = w.defined() ? vals(w) : Vec(z(inner), 1.0),
            bv = b.defined() ? vals(b) : Vec(z(inner), 0.0);
  Vec out(xv.size());
  for (int64_t r = 0; r < x.numel() / inner; ++r) {
    double m = 0, v = 0;
    if (!rms) {
      for (int64_t k = 0; k < inner; ++k) m += xv[z(r * inner + k)];
      m /= static_cast<double>(inner);
    }
    for (int64_t k = 0; k < inner; ++k) v += (xv[z(r * inner + k)] - m) * (xv[z(r * inner + k)] - m);
    v /= static_cast<double>(inner);
    for (int64_t k = 0; k < inner; ++k)
      out[z(r * inner + k)] = (xv[z(r * inner + k)] - m) / std::sqrt(v + eps) * wv[z(k)] + bv[z(k)];
  }
  return from(out, x.shape());
}

// Batch norm of x [N, C, L...] with the given per-channel statistics (or the batch's when `mean_in` is empty).
Tensor batch_norm_ref(const Tensor& x, Vec mean_in, Vec var_in, const Tensor& w, const Tensor& b, double eps) {
  const int64_t n = x.size(0), c = x.size(1), inner = x.numel() / (n * c);
  const Vec xv = vals(x), wv = vals(w), bv = vals(b);
  if (mean_in.empty()) {
    mean_in.assign(z(c), 0.0);
    var_in.assign(z(c), 0.0);
    for (int64_t ch = 0; ch < c; ++ch) {
      double s = 0, s2 = 0;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t k = 0; k < inner; ++k) s += xv[z((i * c + ch) * inner + k)];
      const double m = s / static_cast<double>(n * inner);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t k = 0; k < inner; ++k) s2 += std::pow(xv[z((i * c + ch) * inner + k)] - m, 2);
      mean_in[z(ch)] = m;
      var_in[z(ch)] = s2 / static_cast<double>(n * inner);
    }
  }
  Vec out(xv.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t k = 0; k < inner; ++k) {
        const size_t e = z((i * c + ch) * inner + k);
        out[e] = (xv[e] - mean_in[z(ch)]) / std::sqrt(var_in[z(ch)] + eps) * wv[z(ch)] + bv[z(ch)];
      }
  return from(out, x.shape());
}

// Per-row log-softmax of a [N, C] tensor.
std::vector<Vec> log_softmax_rows(const Tensor& logits) {
  const int64_t n = logits.size(0), c = logits.size(1);
  const Vec v = vals(logits);
  std::vector<Vec> out(z(n), Vec(z(c)));
  for (int64_t i = 0; i < n; ++i) {
    double mx = -INFINITY, s = 0;
    for (int64_t k = 0; k < c; ++k) mx = std::max(mx, v[z(i * c + k)]);
    for (int64_t k = 0; k < c; ++k) s += std::exp(v[z(i * c + k)] - mx);
    for (int64_t k = 0; k < c; ++k) out[z(i)][z(k)] = v[z(i * c + k)] - mx - std::log(s);
  }
  return out;
}

// Mean cross-entropy of index targets with label smoothing `ls` and ignore_index, in double.
double ce_indices_ref(const Tensor& logits, const Tensor& target, double ls, int64_t ignore) {
  const auto lp = log_softmax_rows(logits);
  const std::vector<int64_t> t = to_vector<int64_t>(target);
  const size_t c = lp.empty() ? 0 : lp[0].size();
  double total = 0;
  int64_t count = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == ignore) continue;
    double mean_lp = 0;
    for (size_t k = 0; k < c; ++k) mean_lp += lp[i][k] / static_cast<double>(c);
    total += -(1 - ls) * lp[i][z(t[i])] - ls * mean_lp;
    ++count;
  }
  return total / static_cast<double>(count);
}

}  // namespace

TANGENT_OP_CASE(nn_layer_norm_affine,
                {
                    .name = "layer_norm/affine",
                    .inputs =
                        [] {
                          return Inputs{normal({3, 4, 5}), normal({4, 5}), normal({4, 5})};
                        },
                    .fn = [](const Inputs& x) { return F::layer_norm(x[0], 2, x[1], x[2], 1e-5); },
                    .reference =
                        [](const Inputs& x) {
                          return rows_norm_ref(x[0], 20, x[1].contiguous(), x[2].contiguous(), 1e-5, false);
                        },
                });

TANGENT_OP_CASE(nn_layer_norm_plain,
                {
                    .name = "layer_norm/no_affine",
                    .inputs =
                        [] {
                          return Inputs{normal({4, 6})};
                        },
                    .fn = [](const Inputs& x) { return F::layer_norm(x[0], 1, Tensor(), Tensor(), 1e-5); },
                    .reference =
                        [](const Inputs& x) { return rows_norm_ref(x[0], 6, Tensor(), Tensor(), 1e-5, false); },
                });

TANGENT_OP_CASE(nn_rms_norm,
                {
                    .name = "rms_norm",
                    .inputs =
                        [] {
                          return Inputs{normal({3, 5}), normal({5})};
                        },
                    .fn = [](const Inputs& x) { return F::rms_norm(x[0], 1, x[1], 1e-6); },
                    .reference = [](const Inputs& x) { return rows_norm_ref(x[0], 5, x[1], Tensor(), 1e-6, true); },
                });

TANGENT_OP_CASE(
    nn_batch_norm_train,
    {
        .name = "batch_norm/train",
        .inputs =
            [] {
              return Inputs{normal({4, 3, 2}), normal({3}), normal({3})};
            },
        .fn = [](const Inputs& x) { return F::batch_norm(x[0], Tensor(), Tensor(), x[1], x[2], true, 0.1, 1e-5); },
        .reference = [](const Inputs& x) { return batch_norm_ref(x[0], {}, {}, x[1], x[2], 1e-5); },
    });

TANGENT_OP_CASE(nn_batch_norm_eval,
                {
                    .name = "batch_norm/eval",
                    .inputs =
                        [] {
                          return Inputs{normal({5, 3}), normal({3}), positive({3}), normal({3}), normal({3})};
                        },
                    .fn = [](const Inputs& x) { return F::batch_norm(x[0], x[1], x[2], x[3], x[4], false, 0.1, 1e-5); },
                    .reference =
                        [](const Inputs& x) { return batch_norm_ref(x[0], vals(x[1]), vals(x[2]), x[3], x[4], 1e-5); },
                    .no_grad_inputs = {1, 2},  // running statistics are buffers
                });

TANGENT_OP_CASE(nn_cross_entropy_indices,
                {
                    .name = "cross_entropy/indices",
                    .inputs =
                        [] {
                          return Inputs{normal({4, 5}), indices({1, 0, 4, 2}, {4})};
                        },
                    .fn = [](const Inputs& x) { return F::cross_entropy(x[0], x[1]); },
                    .reference =
                        [](const Inputs& x) { return scalar_tensor(ce_indices_ref(x[0], x[1], 0.0, -100), kFloat64); },
                });

TANGENT_OP_CASE(nn_cross_entropy_sum_spatial,
                {
                    .name = "cross_entropy/spatial_sum",
                    .inputs =
                        [] {
                          return Inputs{normal({2, 3, 4}), indices({0, 2, 1, 1, 2, 0, 0, 1}, {2, 4})};
                        },
                    .fn =
                        [](const Inputs& x) {
                          F::CrossEntropyOptions o;
                          o.reduction = F::Reduction::Sum;
                          return F::cross_entropy(x[0], x[1], o);
                        },
                    .reference =
                        [](const Inputs& x) {
                          const Tensor flat = permute(x[0], {0, 2, 1}).reshape({8, 3});
                          return scalar_tensor(8 * ce_indices_ref(flat, x[1].reshape({8}), 0.0, -100), kFloat64);
                        },
                });

TANGENT_OP_CASE(nn_cross_entropy_probabilities, {
                                                    .name = "cross_entropy/probabilities",
                                                    .inputs =
                                                        [] {
                                                          return Inputs{normal({3, 4}), softmax(normal({3, 4}), 1)};
                                                        },
                                                    .fn = [](const Inputs& x) { return F::cross_entropy(x[0], x[1]); },
                                                    .reference =
                                                        [](const Inputs& x) {
                                                          const auto lp = log_softmax_rows(x[0]);
                                                          const Vec p = vals(x[1]);
                                                          double total = 0;
                                                          for (size_t i = 0; i < 3; ++i)
                                                            for (size_t k = 0; k < 4; ++k)
                                                              total -= p[i * 4 + k] * lp[i][k];
                                                          return scalar_tensor(total / 3, kFloat64);
                                                        },
                                                });

TANGENT_OP_CASE(nn_cross_entropy_label_smoothing,
                {
                    .name = "cross_entropy/label_smoothing_ignore",
                    .inputs =
                        [] {
                          return Inputs{normal({5, 4}), indices({3, -100, 0, 2, 1}, {5})};
                        },
                    .fn =
                        [](const Inputs& x) {
                          F::CrossEntropyOptions o;
                          o.label_smoothing = 0.15;
                          return F::cross_entropy(x[0], x[1], o);
                        },
                    .reference =
                        [](const Inputs& x) { return scalar_tensor(ce_indices_ref(x[0], x[1], 0.15, -100), kFloat64); },
                });

TANGENT_OP_CASE(nn_nll_loss, {
                                 .name = "nll_loss",
                                 .inputs =
                                     [] {
                                       return Inputs{normal({4, 3}), indices({2, 0, 1, 2}, {4})};
                                     },
                                 .fn = [](const Inputs& x) { return F::nll_loss(x[0], x[1], F::Reduction::None); },
                                 .reference =
                                     [](const Inputs& x) {
                                       const Vec v = vals(x[0]);
                                       const std::vector<int64_t> t = to_vector<int64_t>(x[1]);
                                       Vec out(4);
                                       for (size_t i = 0; i < 4; ++i) out[i] = -v[i * 3 + z(t[i])];
                                       return from(out, {4});
                                     },
                             });

TANGENT_OP_CASE(nn_mse_loss, {
                                 .name = "mse_loss",
                                 .inputs =
                                     [] {
                                       return Inputs{normal({3, 4}), normal({3, 4})};
                                     },
                                 .fn = [](const Inputs& x) { return F::mse_loss(x[0], x[1]); },
                                 .reference =
                                     [](const Inputs& x) {
                                       const Vec a = vals(x[0]), b = vals(x[1]);
                                       double s = 0;
                                       for (size_t i = 0; i < a.size(); ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
                                       return scalar_tensor(s / 12, kFloat64);
                                     },
                             });

TANGENT_OP_CASE(nn_l1_loss, {
                                .name = "l1_loss",
                                .inputs =
                                    [] {
                                      const Tensor t = normal({3, 4});
                                      return Inputs{add(t, signed_away_from_zero({3, 4})), t};
                                    },
                                .fn = [](const Inputs& x) { return F::l1_loss(x[0], x[1], F::Reduction::Sum); },
                                .reference =
                                    [](const Inputs& x) {
                                      const Vec a = vals(x[0]), b = vals(x[1]);
                                      double s = 0;
                                      for (size_t i = 0; i < a.size(); ++i) s += std::abs(a[i] - b[i]);
                                      return scalar_tensor(s, kFloat64);
                                    },
                            });

TANGENT_OP_CASE(
    nn_bce_with_logits,
    {
        .name = "binary_cross_entropy_with_logits",
        .inputs =
            [] {
              return Inputs{mul(normal({2, 3}), 2.0), rand({2, 3}, kFloat64), positive({3})};
            },
        .fn = [](const Inputs& x) { return F::binary_cross_entropy_with_logits(x[0], x[1], F::Reduction::None, x[2]); },
        .reference =
            [](const Inputs& x) {
              const Vec l = vals(x[0]), y = vals(x[1]), w = vals(x[2]);
              Vec out(6);
              for (size_t i = 0; i < 6; ++i) {
                const double s = 1 / (1 + std::exp(-l[i]));
                out[i] = -(w[i % 3] * y[i] * std::log(s) + (1 - y[i]) * std::log(1 - s));
              }
              return from(out, {2, 3});
            },
    });

TANGENT_OP_CASE(nn_embedding, {
                                  .name = "embedding",
                                  .inputs =
                                      [] {
                                        return Inputs{normal({6, 3})};
                                      },
                                  .fn =
                                      [](const Inputs& x) {
                                        return F::embedding(indices({5, 0, 2, 2, 1, 5}, {2, 3}), x[0]);
                                      },
                                  .reference =
                                      [](const Inputs& x) {
                                        const Vec w = vals(x[0]);
                                        const std::vector<int64_t> ids{5, 0, 2, 2, 1, 5};
                                        Vec out;
                                        for (int64_t id : ids)
                                          for (size_t k = 0; k < 3; ++k) out.push_back(w[z(id) * 3 + k]);
                                        return from(out, {2, 3, 3});
                                      },
                              });

// ---- dropout: a fixed generator per call, so every evaluation draws the same mask ----
namespace {

constexpr double kDropP = 0.3;

Tensor dropout_fixed(const Tensor& x) {
  Generator gen(99);
  return F::dropout(x, kDropP, true, &gen);
}

// The mask's statistics on one forward: kept elements are x / (1 - p), dropped ones exactly 0, and the kept
// fraction is near 1 - p (1000 elements: 5 binomial standard deviations is 0.072). The gradient of sum(out) is
// 1 / (1 - p) exactly where the element was kept and 0 where it was dropped.
void dropout_statistics(const Inputs& in, const Tensor& out) {
  const Vec x = vals(in[0]), y = vals(out);
  ASSERT_EQ(x.size(), y.size());
  const double tol = tangent::testing::forward_tolerance(out.dtype());
  size_t kept = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (y[i] == 0.0) continue;
    ++kept;
    ASSERT_NEAR(y[i], x[i] / (1.0 - kDropP), tol * std::max(1.0, std::abs(y[i]))) << "element " << i;
  }
  const double frac = static_cast<double>(kept) / static_cast<double>(x.size());
  EXPECT_NEAR(frac, 1.0 - kDropP, 0.072) << "kept fraction " << out.dtype();
  if (!out.is_floating_point() || out.dtype() != kFloat64) return;
  Tensor leaf = in[0].detach().requires_grad_(true);
  const Tensor g = autograd::grad({dropout_fixed(leaf).sum()}, {leaf})[0];
  const Vec gv = vals(g), mask_out = vals(dropout_fixed(in[0].detach()));
  for (size_t i = 0; i < gv.size(); ++i)
    ASSERT_EQ(gv[i], mask_out[i] == 0.0 ? 0.0 : 1.0 / (1.0 - kDropP)) << "gradient element " << i;
}

// Inputs away from 0, so a kept element is never 0.
Tensor nonzero(const Shape& s) { return signed_away_from_zero(s); }

}  // namespace

TANGENT_OP_CASE(dropout_train, {
                                   .name = "dropout/train_p0.3",
                                   .inputs =
                                       [] {
                                         return Inputs{nonzero({4, 5})};
                                       },
                                   .fn = [](const Inputs& x) { return dropout_fixed(x[0]); },
                                   .check =
                                       [](const Inputs& in, const Tensor& out) {
                                         // Too few elements for statistics: the kept values only.
                                         const Vec x = vals(in[0]), y = vals(out);
                                         for (size_t i = 0; i < x.size(); ++i) {
                                           if (y[i] != 0.0) {
                                             EXPECT_NEAR(y[i], x[i] / (1.0 - kDropP), 1e-2 * std::abs(y[i]));
                                           }
                                         }
                                       },
                               });
TANGENT_OP_CASE(
    dropout_statistics_row,
    {
        .name = "dropout/statistics_1000",
        .inputs = [] { return Inputs{nonzero({1000})}; },
        .fn = [](const Inputs& x) { return dropout_fixed(x[0]); },
        .dtypes = tangent::testing::all_float_dtypes(),
        .first_order = false,  // 1000 x 1000 Jacobian; dropout_statistics checks the gradient's mask instead
        .check = dropout_statistics,
    });
TANGENT_OP_CASE(dropout_eval, {
                                  .name = "dropout/eval_is_identity",
                                  .inputs =
                                      [] {
                                        return Inputs{normal({3, 4})};
                                      },
                                  .fn = [](const Inputs& x) { return F::dropout(x[0], 0.5, false); },
                                  .reference = [](const Inputs& x) { return x[0]; },
                                  .dtypes = tangent::testing::all_float_dtypes(),
                              });
TANGENT_OP_CASE(dropout_p0, {
                                .name = "dropout/p0_is_identity",
                                .inputs =
                                    [] {
                                      return Inputs{normal({3, 4})};
                                    },
                                .fn = [](const Inputs& x) { return F::dropout(x[0], 0.0, true); },
                                .reference = [](const Inputs& x) { return x[0]; },
                                .dtypes = tangent::testing::all_float_dtypes(),
                            });
TANGENT_OP_CASE(dropout_p1, {
                                .name = "dropout/p1_is_zero",
                                .inputs =
                                    [] {
                                      return Inputs{normal({3, 4})};
                                    },
                                .fn = [](const Inputs& x) { return F::dropout(x[0], 1.0, true); },
                                .reference = [](const Inputs& x) { return zeros(x[0].shape(), kFloat64); },
                                .dtypes = tangent::testing::all_float_dtypes(),
                            });

// ---- rotary position embedding (nn/rotary.h), against the pairwise rotation written out ----
namespace {

Tensor rotary_ref(const Tensor& x, int64_t offset, double base) {
  const int64_t D = x.size(-1), T = x.size(-2), half = D / 2;
  const Vec xv = vals(x);
  Vec out(xv.size());
  for (int64_t r = 0; r < x.numel() / D; ++r) {
    const double t = static_cast<double>(offset + r % T);
    for (int64_t i = 0; i < half; ++i) {
      const double a = t * std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(D));
      const double x1 = xv[z(r * D + i)], x2 = xv[z(r * D + half + i)];
      out[z(r * D + i)] = x1 * std::cos(a) - x2 * std::sin(a);
      out[z(r * D + half + i)] = x2 * std::cos(a) + x1 * std::sin(a);
    }
  }
  return from(out, x.shape());
}

}  // namespace

TANGENT_OP_CASE(rotary_default, {
                                    .name = "rotary_embedding",
                                    .inputs =
                                        [] {
                                          return Inputs{normal({1, 2, 5, 4})};
                                        },
                                    .fn = [](const Inputs& x) { return F::rotary_embedding(x[0]); },
                                    .reference = [](const Inputs& x) { return rotary_ref(x[0], 0, 10000.0); },
                                    .dtypes = tangent::testing::all_float_dtypes(),
                                    .tol_scale = 4.0,  // the angles' sin and cos, then a two-term sum
                                });
TANGENT_OP_CASE(rotary_offset, {
                                   .name = "rotary_embedding/offset3_base100",
                                   .inputs =
                                       [] {
                                         return Inputs{normal({2, 3, 6})};
                                       },
                                   .fn = [](const Inputs& x) { return F::rotary_embedding(x[0], 3, 100.0); },
                                   .reference = [](const Inputs& x) { return rotary_ref(x[0], 3, 100.0); },
                                   .tol_scale = 4.0,
                               });
