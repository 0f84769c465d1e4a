// Op-table rows for the reductions and softmax (ops/reduce.h): one row per differentiable op, several with
// non-trivial dims, each with a reference computed by a plain loop over the values or by another composition.
// Inputs avoid kinks: prod and norm inputs stay away from 0, max/min inputs are continuous (no ties).
#include <algorithm>
#include <cmath>
#include <functional>

#include "support/op_table.h"

using namespace tangent;
using tangent::testing::OpCase;

namespace {

using Inputs = std::vector<Tensor>;

Tensor normal(const Shape& s) { return randn(s, kFloat64); }
// Values in [0.5, 1.5): positive and away from 0.
Tensor positive(const Shape& s) { return add(rand(s, kFloat64), 0.5); }
// Magnitudes in [0.3, 2) with random signs.
Tensor signed_away_from_zero(const Shape& s) {
  return mul(add(mul(rand(s, kFloat64), 1.7), 0.3), sub(mul(bernoulli(s, 0.5, kFloat64), 2.0), 1.0));
}

// Reference: fold `f` over the last dim of a 2-D input with a loop, giving [rows].
std::function<Tensor(const Inputs&)> rows_ref(std::function<double(const std::vector<double>&)> f) {
  return [f](const Inputs& x) {
    const int64_t r = x[0].size(0), c = x[0].size(1);
    const std::vector<double> v = to_vector<double>(x[0]);
    std::vector<double> out(static_cast<size_t>(r));
    for (int64_t i = 0; i < r; ++i)
      out[static_cast<size_t>(i)] = f(std::vector<double>(v.begin() + i * c, v.begin() + (i + 1) * c));
    return tensor(out, {r}, kFloat64);
  };
}

double total(const std::vector<double>& v) {
  double s = 0;
  for (double e : v) s += e;
  return s;
}

}  // namespace

TANGENT_OP_CASE(reduce_sum_all,
                {
                    .name = "sum/all",
                    .inputs =
                        [] {
                          return Inputs{normal({3, 4})};
                        },
                    .fn = [](const Inputs& x) { return sum(x[0]); },
                    .reference =
                        [](const Inputs& x) { return scalar_tensor(total(to_vector<double>(x[0])), kFloat64); },
                });

TANGENT_OP_CASE(reduce_sum_dims_keepdim,
                {
                    .name = "sum/dims_keepdim",
                    .inputs =
                        [] {
                          return Inputs{normal({2, 3, 4})};
                        },
                    .fn =
                        [](const Inputs& x) {
                          return sum(x[0], {0, -1}, true);
                        },
                    .reference = [](const Inputs& x) { return sum(sum(x[0], {2}, true), {0}, true); },
                });

TANGENT_OP_CASE(reduce_mean, {
                                 .name = "mean/dim1",
                                 .inputs =
                                     [] {
                                       return Inputs{normal({3, 5})};
                                     },
                                 .fn = [](const Inputs& x) { return mean(x[0], {1}); },
                                 .reference = rows_ref([](const std::vector<double>& v) {
                                   return total(v) / static_cast<double>(v.size());
                                 }),
                             });

TANGENT_OP_CASE(reduce_var, {
                                .name = "var/dim1",
                                .inputs =
                                    [] {
                                      return Inputs{normal({3, 5})};
                                    },
                                .fn = [](const Inputs& x) { return var(x[0], {1}); },
                                .reference = rows_ref([](const std::vector<double>& v) {
                                  const double m = total(v) / static_cast<double>(v.size());
                                  double s = 0;
                                  for (double e : v) s += (e - m) * (e - m);
                                  return s / static_cast<double>(v.size() - 1);
                                }),
                            });

TANGENT_OP_CASE(reduce_var_multi, {
                                      .name = "var/dims_0_2_keepdim",
                                      .inputs =
                                          [] {
                                            return Inputs{normal({2, 3, 4})};
                                          },
                                      .fn =
                                          [](const Inputs& x) {
                                            return var(x[0], {0, 2}, 0, true);
                                          },
                                      .reference =
                                          [](const Inputs& x) {
                                            const Tensor d = sub(x[0], mean(x[0], {0, 2}, true));
                                            return div(sum(mul(d, d), {0, 2}, true), 8.0);
                                          },
                                  });

TANGENT_OP_CASE(reduce_std, {
                                .name = "std/dim0",
                                .inputs =
                                    [] {
                                      return Inputs{normal({4, 3})};
                                    },
                                .fn = [](const Inputs& x) { return tangent::std(x[0], {0}); },
                                .reference = [](const Inputs& x) { return sqrt(var(x[0], {0})); },
                            });

TANGENT_OP_CASE(reduce_prod, {
                                 .name = "prod/dim1",
                                 .inputs =
                                     [] {
                                       return Inputs{signed_away_from_zero({3, 4})};
                                     },
                                 .fn = [](const Inputs& x) { return prod(x[0], {1}); },
                                 .reference = rows_ref([](const std::vector<double>& v) {
                                   double p = 1;
                                   for (double e : v) p *= e;
                                   return p;
                                 }),
                             });

TANGENT_OP_CASE(reduce_amax, {
                                 .name = "amax/dim1",
                                 .inputs =
                                     [] {
                                       return Inputs{normal({3, 5})};
                                     },
                                 .fn = [](const Inputs& x) { return amax(x[0], {1}); },
                                 .reference = rows_ref([](const std::vector<double>& v) {
                                   double m = v[0];
                                   for (double e : v) m = std::max(m, e);
                                   return m;
                                 }),
                             });

TANGENT_OP_CASE(reduce_amin_keepdim, {
                                         .name = "amin/dim0_keepdim",
                                         .inputs =
                                             [] {
                                               return Inputs{normal({4, 3})};
                                             },
                                         .fn = [](const Inputs& x) { return amin(x[0], {0}, true); },
                                         .reference = [](const Inputs& x) { return neg(amax(neg(x[0]), {0}, true)); },
                                     });

TANGENT_OP_CASE(reduce_max_dim_values, {
                                           .name = "max/dim_values",
                                           .inputs =
                                               [] {
                                                 return Inputs{normal({3, 4, 2})};
                                               },
                                           .fn = [](const Inputs& x) { return std::get<0>(max(x[0], 1)); },
                                           .reference = [](const Inputs& x) { return amax(x[0], {1}); },
                                       });

TANGENT_OP_CASE(reduce_logsumexp, {
                                      .name = "logsumexp/dim1",
                                      .inputs =
                                          [] {
                                            return Inputs{normal({3, 5})};
                                          },
                                      .fn = [](const Inputs& x) { return logsumexp(x[0], {1}); },
                                      .reference = rows_ref([](const std::vector<double>& v) {
                                        double s = 0;
                                        for (double e : v) s += std::exp(e);
                                        return std::log(s);
                                      }),
                                  });

TANGENT_OP_CASE(reduce_norm2, {
                                  .name = "norm/p2_dim1",
                                  .inputs =
                                      [] {
                                        return Inputs{normal({3, 4})};
                                      },
                                  .fn = [](const Inputs& x) { return norm(x[0], 2.0, {1}); },
                                  .reference = rows_ref([](const std::vector<double>& v) {
                                    double s = 0;
                                    for (double e : v) s += e * e;
                                    return std::sqrt(s);
                                  }),
                              });

TANGENT_OP_CASE(reduce_norm1, {
                                  .name = "norm/p1_all",
                                  .inputs =
                                      [] {
                                        return Inputs{signed_away_from_zero({3, 4})};
                                      },
                                  .fn = [](const Inputs& x) { return norm(x[0], 1.0); },
                                  .reference =
                                      [](const Inputs& x) {
                                        double s = 0;
                                        for (double e : to_vector<double>(x[0])) s += std::abs(e);
                                        return scalar_tensor(s, kFloat64);
                                      },
                              });

TANGENT_OP_CASE(reduce_norm3, {
                                  .name = "norm/p3_dim0",
                                  .inputs =
                                      [] {
                                        return Inputs{positive({4, 3})};
                                      },
                                  .fn = [](const Inputs& x) { return norm(x[0], 3.0, {0}); },
                                  .reference = [](const Inputs& x) { return pow(sum(pow(x[0], 3.0), {0}), 1.0 / 3.0); },
                              });

TANGENT_OP_CASE(reduce_softmax, {
                                    .name = "softmax/last",
                                    .inputs =
                                        [] {
                                          return Inputs{normal({3, 5})};
                                        },
                                    .fn = [](const Inputs& x) { return softmax(x[0], -1); },
                                    .reference =
                                        [](const Inputs& x) {
                                          const Tensor e = exp(x[0]);
                                          return div(e, sum(e, {1}, true));
                                        },
                                });

TANGENT_OP_CASE(reduce_softmax_mid, {
                                        .name = "softmax/dim1_of_3d",
                                        .inputs =
                                            [] {
                                              return Inputs{normal({2, 4, 3})};
                                            },
                                        .fn = [](const Inputs& x) { return softmax(x[0], 1); },
                                        .reference =
                                            [](const Inputs& x) {
                                              const Tensor e = exp(x[0]);
                                              return div(e, sum(e, {1}, true));
                                            },
                                    });

TANGENT_OP_CASE(reduce_log_softmax,
                {
                    .name = "log_softmax/dim0",
                    .inputs =
                        [] {
                          return Inputs{normal({4, 3})};
                        },
                    .fn = [](const Inputs& x) { return log_softmax(x[0], 0); },
                    .reference = [](const Inputs& x) { return sub(x[0], log(sum(exp(x[0]), {0}, true))); },
                });

TANGENT_OP_CASE(reduce_min_dim_values, {
                                           .name = "min/dim_values",
                                           .inputs =
                                               [] {
                                                 return Inputs{normal({3, 4, 2})};
                                               },
                                           .fn = [](const Inputs& x) { return std::get<0>(min(x[0], 2, true)); },
                                           .reference = [](const Inputs& x) { return amin(x[0], {2}, true); },
                                       });
TANGENT_OP_CASE(reduce_max_all, {
                                    .name = "max/all",
                                    .inputs =
                                        [] {
                                          return Inputs{normal({3, 4})};
                                        },
                                    .fn = [](const Inputs& x) { return max(x[0]); },
                                    .reference =
                                        [](const Inputs& x) {
                                          const std::vector<double> v = to_vector<double>(x[0]);
                                          return scalar_tensor(*std::max_element(v.begin(), v.end()), kFloat64);
                                        },
                                    .dtypes = tangent::testing::all_float_dtypes(),
                                });
TANGENT_OP_CASE(reduce_min_all, {
                                    .name = "min/all",
                                    .inputs =
                                        [] {
                                          return Inputs{normal({3, 4})};
                                        },
                                    .fn = [](const Inputs& x) { return min(x[0]); },
                                    .reference =
                                        [](const Inputs& x) {
                                          const std::vector<double> v = to_vector<double>(x[0]);
                                          return scalar_tensor(*std::min_element(v.begin(), v.end()), kFloat64);
                                        },
                                    .dtypes = tangent::testing::all_float_dtypes(),
                                });
// The reduction behind broadcasting's backward: [2, 3, 4] summed down to [3, 1].
TANGENT_OP_CASE(reduce_sum_to, {
                                   .name = "sum_to",
                                   .inputs =
                                       [] {
                                         return Inputs{normal({2, 3, 4})};
                                       },
                                   .fn =
                                       [](const Inputs& x) {
                                         return sum_to(x[0], {3, 1});
                                       },
                                   .reference =
                                       [](const Inputs& x) {
                                         const std::vector<double> v = to_vector<double>(x[0]);
                                         std::vector<double> out(3, 0.0);
                                         for (size_t i = 0; i < v.size(); ++i) out[(i / 4) % 3] += v[i];
                                         return tensor(out, {3, 1}, kFloat64);
                                       },
                               });
// Indices (forward only): distinct values, so there are no ties.
TANGENT_OP_CASE(
    reduce_argmax,
    {
        .name = "argmax/dim1",
        .inputs =
            [] {
              return Inputs{tensor(std::vector<double>{0.5, -1.0, 2.0, 1.5, 3.0, -2.0, 0.25, 1.0}, {2, 4}, kFloat64)};
            },
        .fn = [](const Inputs& x) { return argmax(x[0], 1); },
        .reference =
            [](const Inputs&) {
              return tensor(std::vector<int64_t>{2, 0}, {2});
            },
        .dtypes = tangent::testing::all_float_dtypes(),
        .first_order = false,
    });
TANGENT_OP_CASE(
    reduce_argmax_flat,
    {
        .name = "argmax/flat",
        .inputs =
            [] {
              return Inputs{tensor(std::vector<double>{0.5, -1.0, 2.0, 1.5, 3.0, -2.0, 0.25, 1.0}, {2, 4}, kFloat64)};
            },
        .fn = [](const Inputs& x) { return argmax(x[0]); },
        .reference = [](const Inputs&) { return scalar_tensor(int64_t{4}, kInt64); },
        .dtypes = tangent::testing::all_float_dtypes(),
        .first_order = false,
    });
TANGENT_OP_CASE(
    reduce_argmin,
    {
        .name = "argmin/dim0_keepdim",
        .inputs =
            [] {
              return Inputs{tensor(std::vector<double>{0.5, -1.0, 2.0, 1.5, 3.0, -2.0, 0.25, 1.0}, {2, 4}, kFloat64)};
            },
        .fn = [](const Inputs& x) { return argmin(x[0], 0, true); },
        .reference =
            [](const Inputs&) {
              return tensor(std::vector<int64_t>{0, 1, 1, 1}, {1, 4});
            },
        .dtypes = tangent::testing::all_float_dtypes(),
        .first_order = false,
    });
TANGENT_OP_CASE(reduce_isnan,
                {
                    .name = "isnan",
                    .inputs =
                        [] {
                          const double nan = std::nan("");
                          return Inputs{tensor(std::vector<double>{0.5, nan, 2.0, -nan, 3.0, 1.0}, {2, 3}, kFloat64)};
                        },
                    .fn = [](const Inputs& x) { return isnan(x[0]); },
                    .reference =
                        [](const Inputs&) {
                          return tensor(std::vector<bool>{false, true, false, true, false, false}, {2, 3});
                        },
                    .dtypes = tangent::testing::all_float_dtypes(),
                    .first_order = false,
                });
