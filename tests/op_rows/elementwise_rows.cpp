// Op-table rows for the elementwise ops (ops/elementwise.h): binary arithmetic with broadcasting and scalars,
// where / masked_fill, every unary math function, each with a std:: reference where one is easy to write, and the
// comparisons and logic (forward only). The "<op>/domain" rows check each unary function at 101 points across its
// domain in every floating dtype against std:: math on the dtype-rounded inputs (forward only: the domains
// include kinks).
// Inputs are kept away from kinks and discontinuities (0 for abs/relu, ties for maximum, clamp bounds, the
// softplus threshold) so central differences are meaningful.
#include <cmath>
#include <functional>

#include <gtest/gtest.h>

#include "support/op_table.h"

using namespace tangent;
using tangent::testing::all_float_dtypes;
using tangent::testing::forward_tolerance;
using tangent::testing::OpCase;

namespace {

using Inputs = std::vector<Tensor>;
constexpr double kPi = 3.14159265358979323846;

// Uniform float64 values in [lo, hi).
Tensor uniform(const Shape& s, double lo, double hi) { return add(mul(rand(s, kFloat64), hi - lo), lo); }
// Magnitudes in [lo, hi) with random signs.
Tensor signed_away_from_zero(const Shape& s, double lo = 0.3, double hi = 2.0) {
  return mul(uniform(s, lo, hi), sub(mul(bernoulli(s, 0.5, kFloat64), 2.0), 1.0));
}
Tensor normal(const Shape& s) { return randn(s, kFloat64); }

// A float64 tensor of `shape` holding v (also for 0-dim shapes).
Tensor from_values(const std::vector<double>& v, const Shape& shape) {
  return tensor(v, Shape{static_cast<int64_t>(v.size())}, kFloat64).reshape(shape);
}

// Reference for a unary function: a std:: loop over the values.
std::function<Tensor(const Inputs&)> unary_ref(std::function<double(double)> f) {
  return [f](const Inputs& x) {
    std::vector<double> v = to_vector<double>(x[0]);
    for (auto& e : v) e = f(e);
    return from_values(v, x[0].shape());
  };
}

// Reference for a binary function with broadcasting (operands expanded, then a loop).
std::function<Tensor(const Inputs&)> binary_ref(std::function<double(double, double)> f) {
  return [f](const Inputs& x) {
    const Shape s = broadcast_shapes(x[0].shape(), x[1].shape(), "reference");
    const std::vector<double> a = to_vector<double>(x[0].expand(s)), b = to_vector<double>(x[1].expand(s));
    std::vector<double> out(a.size());
    for (size_t i = 0; i < a.size(); ++i) out[i] = f(a[i], b[i]);
    return from_values(out, s);
  };
}

double sigmoid_ref(double v) { return 1.0 / (1.0 + std::exp(-v)); }

}  // namespace

// ---- add / sub / mul / div ----
TANGENT_OP_CASE(add_same, {
                              .name = "add/same_shape",
                              .inputs =
                                  [] {
                                    return Inputs{normal({3, 4}), normal({3, 4})};
                                  },
                              .fn = [](const Inputs& x) { return add(x[0], x[1]); },
                              .reference = binary_ref([](double a, double b) { return a + b; }),
                          });
TANGENT_OP_CASE(add_bcast_row, {
                                   .name = "add/broadcast_row",
                                   .inputs =
                                       [] {
                                         return Inputs{normal({3, 4}), normal({4})};
                                       },
                                   .fn = [](const Inputs& x) { return add(x[0], x[1]); },
                                   .reference = binary_ref([](double a, double b) { return a + b; }),
                               });
TANGENT_OP_CASE(add_bcast_outer, {
                                     .name = "add/broadcast_outer",
                                     .inputs =
                                         [] {
                                           return Inputs{normal({3, 1}), normal({1, 4})};
                                         },
                                     .fn = [](const Inputs& x) { return add(x[0], x[1]); },
                                     .reference = binary_ref([](double a, double b) { return a + b; }),
                                 });
TANGENT_OP_CASE(add_alpha, {
                               .name = "add/alpha",
                               .inputs =
                                   [] {
                                     return Inputs{normal({3, 4}), normal({3, 4})};
                                   },
                               .fn = [](const Inputs& x) { return add(x[0], x[1], 2.5); },
                               .reference = binary_ref([](double a, double b) { return a + 2.5 * b; }),
                           });
TANGENT_OP_CASE(add_scalar, {
                                .name = "add/scalar",
                                .inputs =
                                    [] {
                                      return Inputs{normal({3, 4})};
                                    },
                                .fn = [](const Inputs& x) { return add(x[0], 1.5); },
                                .reference = unary_ref([](double a) { return a + 1.5; }),
                            });
TANGENT_OP_CASE(add_0dim, {
                              .name = "add/zero_dim",
                              .inputs =
                                  [] {
                                    return Inputs{normal({3, 4}), normal({})};
                                  },
                              .fn = [](const Inputs& x) { return add(x[0], x[1]); },
                              .reference = binary_ref([](double a, double b) { return a + b; }),
                          });
// Mixed precision: float64 + float32 promotes to float64; the float32 input is not perturbed.
TANGENT_OP_CASE(add_mixed, {
                               .name = "add/mixed_float64_float32",
                               .inputs =
                                   [] {
                                     return Inputs{normal({3, 4}), randn({3, 4}, kFloat32)};
                                   },
                               .fn = [](const Inputs& x) { return add(x[0], x[1]); },
                               .reference = binary_ref([](double a, double b) { return a + b; }),
                               .no_grad_inputs = {1},
                           });
TANGENT_OP_CASE(mul_mixed, {
                               .name = "mul/mixed_float64_float32_broadcast",
                               .inputs =
                                   [] {
                                     return Inputs{normal({3, 4}), randn({4}, kFloat32)};
                                   },
                               .fn = [](const Inputs& x) { return mul(x[0], x[1]); },
                               .reference = binary_ref([](double a, double b) { return a * b; }),
                               .no_grad_inputs = {1},
                           });
TANGENT_OP_CASE(sub_same, {
                              .name = "sub/same_shape",
                              .inputs =
                                  [] {
                                    return Inputs{normal({3, 4}), normal({3, 4})};
                                  },
                              .fn = [](const Inputs& x) { return sub(x[0], x[1]); },
                              .reference = binary_ref([](double a, double b) { return a - b; }),
                          });
TANGENT_OP_CASE(sub_bcast, {
                               .name = "sub/broadcast_alpha",
                               .inputs =
                                   [] {
                                     return Inputs{normal({3, 1}), normal({2, 1, 4})};
                                   },
                               .fn = [](const Inputs& x) { return sub(x[0], x[1], 0.5); },
                               .reference = binary_ref([](double a, double b) { return a - 0.5 * b; }),
                           });
TANGENT_OP_CASE(sub_scalar_lhs, {
                                    .name = "sub/scalar_lhs",
                                    .inputs =
                                        [] {
                                          return Inputs{normal({3, 4})};
                                        },
                                    .fn = [](const Inputs& x) { return 2.0 - x[0]; },
                                    .reference = unary_ref([](double a) { return 2.0 - a; }),
                                });
TANGENT_OP_CASE(mul_same, {
                              .name = "mul/same_shape",
                              .inputs =
                                  [] {
                                    return Inputs{normal({3, 4}), normal({3, 4})};
                                  },
                              .fn = [](const Inputs& x) { return mul(x[0], x[1]); },
                              .reference = binary_ref([](double a, double b) { return a * b; }),
                          });
TANGENT_OP_CASE(mul_bcast, {
                               .name = "mul/broadcast_outer",
                               .inputs =
                                   [] {
                                     return Inputs{normal({3, 1}), normal({1, 4})};
                                   },
                               .fn = [](const Inputs& x) { return mul(x[0], x[1]); },
                               .reference = binary_ref([](double a, double b) { return a * b; }),
                           });
TANGENT_OP_CASE(mul_self, {
                              .name = "mul/same_tensor_twice",
                              .inputs =
                                  [] {
                                    return Inputs{normal({3, 4})};
                                  },
                              .fn = [](const Inputs& x) { return mul(x[0], x[0]); },
                              .reference = unary_ref([](double a) { return a * a; }),
                          });
TANGENT_OP_CASE(mul_scalar, {
                                .name = "mul/scalar",
                                .inputs =
                                    [] {
                                      return Inputs{normal({3, 4})};
                                    },
                                .fn = [](const Inputs& x) { return mul(x[0], -1.75); },
                                .reference = unary_ref([](double a) { return -1.75 * a; }),
                            });
TANGENT_OP_CASE(div_same, {
                              .name = "div/same_shape",
                              .inputs =
                                  [] {
                                    return Inputs{normal({3, 4}), signed_away_from_zero({3, 4}, 0.5, 2.0)};
                                  },
                              .fn = [](const Inputs& x) { return div(x[0], x[1]); },
                              .reference = binary_ref([](double a, double b) { return a / b; }),
                          });
TANGENT_OP_CASE(div_bcast, {
                               .name = "div/broadcast_row",
                               .inputs =
                                   [] {
                                     return Inputs{normal({3, 4}), signed_away_from_zero({4}, 0.5, 2.0)};
                                   },
                               .fn = [](const Inputs& x) { return div(x[0], x[1]); },
                               .reference = binary_ref([](double a, double b) { return a / b; }),
                           });
TANGENT_OP_CASE(div_scalar_lhs, {
                                    .name = "div/scalar_lhs",
                                    .inputs =
                                        [] {
                                          return Inputs{signed_away_from_zero({3, 4}, 0.5, 2.0)};
                                        },
                                    .fn = [](const Inputs& x) { return 3.0 / x[0]; },
                                    .reference = unary_ref([](double a) { return 3.0 / a; }),
                                });
TANGENT_OP_CASE(div_scalar, {
                                .name = "div/scalar",
                                .inputs =
                                    [] {
                                      return Inputs{normal({3, 4})};
                                    },
                                .fn = [](const Inputs& x) { return div(x[0], 4.0); },
                                .reference = unary_ref([](double a) { return a / 4.0; }),
                            });

// ---- pow ----
TANGENT_OP_CASE(pow_tt, {
                            .name = "pow/tensor_tensor",
                            .inputs =
                                [] {
                                  return Inputs{uniform({3, 4}, 0.5, 2.0), normal({3, 4})};
                                },
                            .fn = [](const Inputs& x) { return pow(x[0], x[1]); },
                            .reference = binary_ref([](double a, double b) { return std::pow(a, b); }),
                        });
TANGENT_OP_CASE(pow_tt_bcast, {
                                  .name = "pow/tensor_tensor_broadcast",
                                  .inputs =
                                      [] {
                                        return Inputs{uniform({3, 4}, 0.5, 2.0), normal({4})};
                                      },
                                  .fn = [](const Inputs& x) { return pow(x[0], x[1]); },
                                  .reference = binary_ref([](double a, double b) { return std::pow(a, b); }),
                              });
TANGENT_OP_CASE(pow_scalar_base, {
                                     .name = "pow/scalar_base",
                                     .inputs =
                                         [] {
                                           return Inputs{normal({3, 4})};
                                         },
                                     .fn = [](const Inputs& x) { return pow(2.0, x[0]); },
                                     .reference = unary_ref([](double a) { return std::pow(2.0, a); }),
                                 });
TANGENT_OP_CASE(pow_2, {
                           .name = "pow/scalar_2",
                           .inputs =
                               [] {
                                 return Inputs{normal({3, 4})};
                               },
                           .fn = [](const Inputs& x) { return pow(x[0], 2.0); },
                           .reference = unary_ref([](double a) { return a * a; }),
                       });
TANGENT_OP_CASE(pow_3, {
                           .name = "pow/scalar_3",
                           .inputs =
                               [] {
                                 return Inputs{normal({3, 4})};
                               },
                           .fn = [](const Inputs& x) { return pow(x[0], 3); },
                           .reference = unary_ref([](double a) { return a * a * a; }),
                       });
TANGENT_OP_CASE(pow_half, {
                              .name = "pow/scalar_0.5",
                              .inputs =
                                  [] {
                                    return Inputs{uniform({3, 4}, 0.5, 3.0)};
                                  },
                              .fn = [](const Inputs& x) { return pow(x[0], 0.5); },
                              .reference = unary_ref([](double a) { return std::sqrt(a); }),
                          });
TANGENT_OP_CASE(pow_2_5, {
                             .name = "pow/scalar_2.5",
                             .inputs =
                                 [] {
                                   return Inputs{uniform({3, 4}, 0.5, 3.0)};
                                 },
                             .fn = [](const Inputs& x) { return pow(x[0], 2.5); },
                             .reference = unary_ref([](double a) { return std::pow(a, 2.5); }),
                         });
TANGENT_OP_CASE(pow_m1, {
                            .name = "pow/scalar_-1",
                            .inputs =
                                [] {
                                  return Inputs{signed_away_from_zero({3, 4}, 0.5, 2.0)};
                                },
                            .fn = [](const Inputs& x) { return pow(x[0], -1.0); },
                            .reference = unary_ref([](double a) { return 1.0 / a; }),
                        });

// ---- maximum / minimum (b = a +- [0.2, 1): no ties) ----
TANGENT_OP_CASE(maximum_same, {
                                  .name = "maximum/same_shape",
                                  .inputs =
                                      [] {
                                        Tensor a = normal({3, 4});
                                        return Inputs{a, add(a, signed_away_from_zero({3, 4}, 0.2, 1.0))};
                                      },
                                  .fn = [](const Inputs& x) { return maximum(x[0], x[1]); },
                                  .reference = binary_ref([](double a, double b) { return std::max(a, b); }),
                              });
TANGENT_OP_CASE(maximum_bcast, {
                                   .name = "maximum/broadcast",
                                   .inputs =
                                       [] {
                                         return Inputs{tensor(std::vector<double>{-1.5, -0.5, 0.5, 1.5}, {4}, kFloat64),
                                                       tensor(std::vector<double>{-1.0, 0.0, 1.0}, {3, 1}, kFloat64)};
                                       },
                                   .fn = [](const Inputs& x) { return maximum(x[0], x[1]); },
                                   .reference = binary_ref([](double a, double b) { return std::max(a, b); }),
                               });
TANGENT_OP_CASE(minimum_same, {
                                  .name = "minimum/same_shape",
                                  .inputs =
                                      [] {
                                        Tensor a = normal({3, 4});
                                        return Inputs{a, add(a, signed_away_from_zero({3, 4}, 0.2, 1.0))};
                                      },
                                  .fn = [](const Inputs& x) { return minimum(x[0], x[1]); },
                                  .reference = binary_ref([](double a, double b) { return std::min(a, b); }),
                              });
TANGENT_OP_CASE(minimum_bcast, {
                                   .name = "minimum/broadcast",
                                   .inputs =
                                       [] {
                                         return Inputs{tensor(std::vector<double>{-1.5, -0.5, 0.5, 1.5}, {4}, kFloat64),
                                                       tensor(std::vector<double>{-1.0, 0.0, 1.0}, {3, 1}, kFloat64)};
                                       },
                                   .fn = [](const Inputs& x) { return minimum(x[0], x[1]); },
                                   .reference = binary_ref([](double a, double b) { return std::min(a, b); }),
                               });

// ---- where / masked_fill (fixed masks) ----
TANGENT_OP_CASE(where_same, {
                                .name = "where/same_shape",
                                .inputs =
                                    [] {
                                      return Inputs{tensor(std::vector<bool>{true, false, false, true, true, true,
                                                                             false, false, true, false, true, false},
                                                           {3, 4}),
                                                    normal({3, 4}), normal({3, 4})};
                                    },
                                .fn = [](const Inputs& x) { return where(x[0], x[1], x[2]); },
                                .reference =
                                    [](const Inputs& x) {
                                      const std::vector<bool> c = to_vector<bool>(x[0]);
                                      const std::vector<double> a = to_vector<double>(x[1]),
                                                                b = to_vector<double>(x[2]);
                                      std::vector<double> out(c.size());
                                      for (size_t i = 0; i < c.size(); ++i) out[i] = c[i] ? a[i] : b[i];
                                      return tensor(out, x[1].shape(), kFloat64);
                                    },
                            });
TANGENT_OP_CASE(
    where_bcast,
    {
        .name = "where/broadcast",
        .inputs =
            [] {
              return Inputs{tensor(std::vector<bool>{true, false, true}, {3, 1}), normal({3, 4}), normal({4})};
            },
        .fn = [](const Inputs& x) { return where(x[0], x[1], x[2]); },
        .reference =
            [](const Inputs& x) {
              const std::vector<bool> c = to_vector<bool>(x[0]);
              const std::vector<double> a = to_vector<double>(x[1]), b = to_vector<double>(x[2]);
              std::vector<double> out(12);
              for (size_t i = 0; i < 3; ++i)
                for (size_t j = 0; j < 4; ++j) out[i * 4 + j] = c[i] ? a[i * 4 + j] : b[j];
              return tensor(out, {3, 4}, kFloat64);
            },
    });
TANGENT_OP_CASE(where_scalar,
                {
                    .name = "where/scalar_other",
                    .inputs =
                        [] {
                          return Inputs{tensor(std::vector<bool>{true, false, false, true}, {4}), normal({3, 4})};
                        },
                    .fn = [](const Inputs& x) { return where(x[0], x[1], -2.0); },
                    .reference =
                        [](const Inputs& x) {
                          const std::vector<bool> c = to_vector<bool>(x[0]);
                          std::vector<double> a = to_vector<double>(x[1]);
                          for (size_t i = 0; i < a.size(); ++i)
                            if (!c[i % 4]) a[i] = -2.0;
                          return tensor(a, {3, 4}, kFloat64);
                        },
                });
TANGENT_OP_CASE(masked_fill_bcast,
                {
                    .name = "masked_fill/broadcast_mask",
                    .inputs =
                        [] {
                          return Inputs{normal({3, 4}), tensor(std::vector<bool>{false, true, true, false}, {4})};
                        },
                    .fn = [](const Inputs& x) { return masked_fill(x[0], x[1], 0.5); },
                    .reference =
                        [](const Inputs& x) {
                          std::vector<double> a = to_vector<double>(x[0]);
                          const std::vector<bool> m = to_vector<bool>(x[1]);
                          for (size_t i = 0; i < a.size(); ++i)
                            if (m[i % 4]) a[i] = 0.5;
                          return tensor(a, {3, 4}, kFloat64);
                        },
                });

// ---- unary ----
TANGENT_OP_CASE(neg_row, {
                             .name = "neg",
                             .inputs =
                                 [] {
                                   return Inputs{normal({3, 4})};
                                 },
                             .fn = [](const Inputs& x) { return neg(x[0]); },
                             .reference = unary_ref([](double a) { return -a; }),
                         });
TANGENT_OP_CASE(neg_operator, {
                                  .name = "neg/operator",
                                  .inputs =
                                      [] {
                                        return Inputs{normal({2, 3, 2})};
                                      },
                                  .fn = [](const Inputs& x) { return -x[0]; },
                                  .reference = unary_ref([](double a) { return -a; }),
                              });
TANGENT_OP_CASE(exp_row, {
                             .name = "exp",
                             .inputs =
                                 [] {
                                   return Inputs{normal({3, 4})};
                                 },
                             .fn = [](const Inputs& x) { return exp(x[0]); },
                             .reference = unary_ref([](double a) { return std::exp(a); }),
                         });
TANGENT_OP_CASE(exp_0dim, {
                              .name = "exp/zero_dim",
                              .inputs = [] { return Inputs{normal({})}; },
                              .fn = [](const Inputs& x) { return exp(x[0]); },
                              .reference = unary_ref([](double a) { return std::exp(a); }),
                          });
TANGENT_OP_CASE(log_row, {
                             .name = "log",
                             .inputs =
                                 [] {
                                   return Inputs{uniform({3, 4}, 0.5, 3.0)};
                                 },
                             .fn = [](const Inputs& x) { return log(x[0]); },
                             .reference = unary_ref([](double a) { return std::log(a); }),
                         });
TANGENT_OP_CASE(log1p_row, {
                               .name = "log1p",
                               .inputs =
                                   [] {
                                     return Inputs{uniform({3, 4}, -0.5, 2.0)};
                                   },
                               .fn = [](const Inputs& x) { return log1p(x[0]); },
                               .reference = unary_ref([](double a) { return std::log1p(a); }),
                           });
TANGENT_OP_CASE(sqrt_row, {
                              .name = "sqrt",
                              .inputs =
                                  [] {
                                    return Inputs{uniform({3, 4}, 0.5, 3.0)};
                                  },
                              .fn = [](const Inputs& x) { return sqrt(x[0]); },
                              .reference = unary_ref([](double a) { return std::sqrt(a); }),
                          });
TANGENT_OP_CASE(rsqrt_row, {
                               .name = "rsqrt",
                               .inputs =
                                   [] {
                                     return Inputs{uniform({3, 4}, 0.5, 3.0)};
                                   },
                               .fn = [](const Inputs& x) { return rsqrt(x[0]); },
                               .reference = unary_ref([](double a) { return 1.0 / std::sqrt(a); }),
                           });
TANGENT_OP_CASE(abs_row, {
                             .name = "abs",
                             .inputs =
                                 [] {
                                   return Inputs{signed_away_from_zero({3, 4})};
                                 },
                             .fn = [](const Inputs& x) { return abs(x[0]); },
                             .reference = unary_ref([](double a) { return std::abs(a); }),
                         });
TANGENT_OP_CASE(sign_row, {
                              .name = "sign",
                              .inputs =
                                  [] {
                                    return Inputs{signed_away_from_zero({3, 4})};
                                  },
                              .fn = [](const Inputs& x) { return sign(x[0]); },
                              .reference = unary_ref([](double a) { return a > 0 ? 1.0 : -1.0; }),
                          });
TANGENT_OP_CASE(sin_row, {
                             .name = "sin",
                             .inputs =
                                 [] {
                                   return Inputs{uniform({3, 4}, -3.0, 3.0)};
                                 },
                             .fn = [](const Inputs& x) { return sin(x[0]); },
                             .reference = unary_ref([](double a) { return std::sin(a); }),
                         });
TANGENT_OP_CASE(cos_row, {
                             .name = "cos",
                             .inputs =
                                 [] {
                                   return Inputs{uniform({3, 4}, -3.0, 3.0)};
                                 },
                             .fn = [](const Inputs& x) { return cos(x[0]); },
                             .reference = unary_ref([](double a) { return std::cos(a); }),
                         });
TANGENT_OP_CASE(tanh_row, {
                              .name = "tanh",
                              .inputs =
                                  [] {
                                    return Inputs{mul(normal({3, 4}), 1.5)};
                                  },
                              .fn = [](const Inputs& x) { return tanh(x[0]); },
                              .reference = unary_ref([](double a) { return std::tanh(a); }),
                          });
TANGENT_OP_CASE(sigmoid_row, {
                                 .name = "sigmoid",
                                 .inputs =
                                     [] {
                                       return Inputs{mul(normal({3, 4}), 2.0)};
                                     },
                                 .fn = [](const Inputs& x) { return sigmoid(x[0]); },
                                 .reference = unary_ref(sigmoid_ref),
                             });
TANGENT_OP_CASE(relu_row, {
                              .name = "relu",
                              .inputs =
                                  [] {
                                    return Inputs{signed_away_from_zero({3, 4}, 0.1, 2.0)};
                                  },
                              .fn = [](const Inputs& x) { return relu(x[0]); },
                              .reference = unary_ref([](double a) { return a > 0 ? a : 0.0; }),
                          });
TANGENT_OP_CASE(gelu_exact,
                {
                    .name = "gelu/exact",
                    .inputs =
                        [] {
                          return Inputs{mul(normal({3, 4}), 1.5)};
                        },
                    .fn = [](const Inputs& x) { return gelu(x[0]); },
                    .reference = unary_ref([](double a) { return 0.5 * a * (1.0 + std::erf(a / std::sqrt(2.0))); }),
                });
// gelu's derivative Phi(x) + x phi(x), the one-kernel UnaryOp its backward runs (no public function: reached as the
// gradient of gelu, built as a graph when the input requires grad, so the table also checks its own derivative).
TANGENT_OP_CASE(gelu_grad_row, {
                                   .name = "gelu_grad",
                                   .inputs =
                                       [] {
                                         return Inputs{mul(normal({3, 4}), 1.5)};
                                       },
                                   .fn =
                                       [](const Inputs& x) {
                                         AutoGradMode on(true);
                                         const bool graph = x[0].requires_grad();
                                         const Tensor v = graph ? x[0] : x[0].detach().requires_grad_(true);
                                         return autograd::grad({gelu(v).sum()}, {v}, {}, graph, graph)[0];
                                       },
                                   .reference = unary_ref([](double a) {
                                     return 0.5 * (1.0 + std::erf(a / std::sqrt(2.0))) +
                                            a * std::exp(-0.5 * a * a) / std::sqrt(2.0 * kPi);
                                   }),
                               });
TANGENT_OP_CASE(gelu_tanh, {
                               .name = "gelu_tanh",
                               .inputs =
                                   [] {
                                     return Inputs{mul(normal({3, 4}), 1.5)};
                                   },
                               .fn = [](const Inputs& x) { return gelu(x[0], "tanh"); },
                               .reference = unary_ref([](double a) {
                                 return 0.5 * a * (1.0 + std::tanh(std::sqrt(2.0 / kPi) * (a + 0.044715 * a * a * a)));
                               }),
                           });
TANGENT_OP_CASE(silu_row, {
                              .name = "silu",
                              .inputs =
                                  [] {
                                    return Inputs{mul(normal({3, 4}), 2.0)};
                                  },
                              .fn = [](const Inputs& x) { return silu(x[0]); },
                              .reference = unary_ref([](double a) { return a * sigmoid_ref(a); }),
                          });
TANGENT_OP_CASE(softplus_default, {
                                      .name = "softplus/default",
                                      .inputs =
                                          [] {
                                            return Inputs{mul(normal({3, 4}), 2.0)};
                                          },
                                      .fn = [](const Inputs& x) { return softplus(x[0]); },
                                      .reference = unary_ref([](double a) { return std::log1p(std::exp(a)); }),
                                  });
// beta 2, threshold 1: inputs on both sides of the switch at x = 0.5, none near it.
TANGENT_OP_CASE(
    softplus_beta,
    {
        .name = "softplus/beta2_threshold",
        .inputs =
            [] {
              return Inputs{tensor(std::vector<double>{-2.0, -0.7, 0.1, 0.3, 0.8, 1.5, 3.0, -0.1}, {2, 4}, kFloat64)};
            },
        .fn = [](const Inputs& x) { return softplus(x[0], 2.0, 1.0); },
        .reference = unary_ref([](double a) { return 2.0 * a > 1.0 ? a : std::log1p(std::exp(2.0 * a)) / 2.0; }),
    });
TANGENT_OP_CASE(erf_row, {
                             .name = "erf",
                             .inputs =
                                 [] {
                                   return Inputs{normal({3, 4})};
                                 },
                             .fn = [](const Inputs& x) { return erf(x[0]); },
                             .reference = unary_ref([](double a) { return std::erf(a); }),
                         });
TANGENT_OP_CASE(reciprocal_row, {
                                    .name = "reciprocal",
                                    .inputs =
                                        [] {
                                          return Inputs{signed_away_from_zero({3, 4}, 0.5, 2.0)};
                                        },
                                    .fn = [](const Inputs& x) { return reciprocal(x[0]); },
                                    .reference = unary_ref([](double a) { return 1.0 / a; }),
                                });
TANGENT_OP_CASE(square_row, {
                                .name = "square",
                                .inputs =
                                    [] {
                                      return Inputs{normal({3, 4})};
                                    },
                                .fn = [](const Inputs& x) { return square(x[0]); },
                                .reference = unary_ref([](double a) { return a * a; }),
                            });
// clamp to [-0.5, 0.8]: values on all three pieces, none within 0.1 of a bound.
TANGENT_OP_CASE(
    clamp_both,
    {
        .name = "clamp/both",
        .inputs =
            [] {
              return Inputs{tensor(std::vector<double>{-1.7, -0.9, -0.3, 0.1, 0.6, 1.2, 2.0, -0.65}, {2, 4}, kFloat64)};
            },
        .fn = [](const Inputs& x) { return clamp(x[0], -0.5, 0.8); },
        .reference = unary_ref([](double a) { return std::min(std::max(a, -0.5), 0.8); }),
    });
TANGENT_OP_CASE(
    clamp_min_row,
    {
        .name = "clamp_min",
        .inputs =
            [] {
              return Inputs{tensor(std::vector<double>{-1.7, -0.9, -0.3, 0.1, 0.6, 1.2, 2.0, -0.65}, {2, 4}, kFloat64)};
            },
        .fn = [](const Inputs& x) { return clamp_min(x[0], -0.5); },
        .reference = unary_ref([](double a) { return std::max(a, -0.5); }),
    });
TANGENT_OP_CASE(
    clamp_max_row,
    {
        .name = "clamp_max",
        .inputs =
            [] {
              return Inputs{tensor(std::vector<double>{-1.7, -0.9, -0.3, 0.1, 0.6, 1.2, 2.0, -0.65}, {2, 4}, kFloat64)};
            },
        .fn = [](const Inputs& x) { return clamp_max(x[0], 0.8); },
        .reference = unary_ref([](double a) { return std::min(a, 0.8); }),
    });

// ---- compositions: backward of backward through several ops ----
TANGENT_OP_CASE(composite_chain,
                {
                    .name = "mul/composite_tanh_exp_div",
                    .inputs =
                        [] {
                          return Inputs{normal({3, 4}), uniform({4}, 0.5, 2.0)};
                        },
                    .fn = [](const Inputs& x) { return div(mul(tanh(x[0]), exp(mul(x[0], 0.3))), x[1]); },
                    .reference = binary_ref([](double a, double b) { return std::tanh(a) * std::exp(0.3 * a) / b; }),
                });

// ---- unary functions across their domains, in every floating dtype ----
namespace {

struct DomainCase {
  const char* name;
  std::function<Tensor(const Tensor&)> op;
  std::function<double(double)> ref;
  double lo, hi;  // input domain
};

std::vector<DomainCase> domain_cases() {
  auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  return {
      {"neg", [](const Tensor& x) { return neg(x); }, [](double v) { return -v; }, -3, 3},
      {"exp", [](const Tensor& x) { return exp(x); }, [](double v) { return std::exp(v); }, -3, 3},
      {"log", [](const Tensor& x) { return log(x); }, [](double v) { return std::log(v); }, 0.1, 5},
      {"log1p", [](const Tensor& x) { return log1p(x); }, [](double v) { return std::log1p(v); }, -0.9, 5},
      {"sqrt", [](const Tensor& x) { return sqrt(x); }, [](double v) { return std::sqrt(v); }, 0, 5},
      {"rsqrt", [](const Tensor& x) { return rsqrt(x); }, [](double v) { return 1 / std::sqrt(v); }, 0.1, 5},
      {"abs", [](const Tensor& x) { return abs(x); }, [](double v) { return std::abs(v); }, -3, 3},
      {"sign", [](const Tensor& x) { return sign(x); }, [](double v) { return double((v > 0) - (v < 0)); }, -3, 3},
      {"sin", [](const Tensor& x) { return sin(x); }, [](double v) { return std::sin(v); }, -6, 6},
      {"cos", [](const Tensor& x) { return cos(x); }, [](double v) { return std::cos(v); }, -6, 6},
      {"tanh", [](const Tensor& x) { return tanh(x); }, [](double v) { return std::tanh(v); }, -4, 4},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }, sig, -8, 8},
      {"relu", [](const Tensor& x) { return relu(x); }, [](double v) { return v > 0 ? v : 0.0; }, -3, 3},
      {"gelu", [](const Tensor& x) { return gelu(x); },
       [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }, -4, 4},
      {"gelu_tanh", [](const Tensor& x) { return gelu(x, "tanh"); },
       [](double v) { return 0.5 * v * (1 + std::tanh(std::sqrt(2 / kPi) * (v + 0.044715 * v * v * v))); }, -4, 4},
      {"silu", [](const Tensor& x) { return silu(x); }, [sig](double v) { return v * sig(v); }, -6, 6},
      {"softplus", [](const Tensor& x) { return softplus(x); }, [](double v) { return std::log1p(std::exp(v)); }, -10,
       10},
      {"softplus/domain_beta3_threshold5", [](const Tensor& x) { return softplus(x, 3.0, 5.0); },
       [](double v) { return 3 * v > 5 ? v : std::log1p(std::exp(3 * v)) / 3; }, -4, 4},
      {"erf", [](const Tensor& x) { return erf(x); }, [](double v) { return std::erf(v); }, -3, 3},
      {"reciprocal", [](const Tensor& x) { return reciprocal(x); }, [](double v) { return 1 / v; }, 0.2, 4},
      {"square", [](const Tensor& x) { return square(x); }, [](double v) { return v * v; }, -3, 3},
      {"pow/domain_2.5", [](const Tensor& x) { return pow(x, 2.5); }, [](double v) { return std::pow(v, 2.5); }, 0, 3},
      {"pow/domain_3", [](const Tensor& x) { return pow(x, 3); }, [](double v) { return v * v * v; }, -3, 3},
      {"pow/domain_-2", [](const Tensor& x) { return pow(x, -2.0); }, [](double v) { return 1 / (v * v); }, 0.3, 3},
      {"clamp", [](const Tensor& x) { return clamp(x, -1.0, 0.5); },
       [](double v) { return std::min(std::max(v, -1.0), 0.5); }, -3, 3},
  };
}

// Each output element against f(the input element as the op received it, i.e. already rounded to the dtype),
// within forward_tolerance(dtype) * max(1, |f|).
std::function<void(const Inputs&, const Tensor&)> domain_check(std::string name, std::function<double(double)> f) {
  return [name, f](const Inputs& x, const Tensor& y) {
    ASSERT_EQ(y.dtype(), x[0].dtype()) << name;
    ASSERT_EQ(y.shape(), x[0].shape()) << name;
    const std::vector<double> in = to_vector<double>(x[0]), out = to_vector<double>(y);
    const double tol = forward_tolerance(y.dtype());
    for (size_t i = 0; i < in.size(); ++i) {
      const double r = f(in[i]);
      ASSERT_NEAR(out[i], r, tol * std::max(1.0, std::abs(r))) << name << " " << y.dtype() << " at x = " << in[i];
    }
  };
}

const bool kDomainRows = [] {
  for (const auto& d : domain_cases()) {
    const std::string name =
        std::string(d.name).find('/') == std::string::npos ? std::string(d.name) + "/domain" : std::string(d.name);
    const auto op = d.op;
    const double lo = d.lo, hi = d.hi;
    tangent::testing::op_cases().push_back(OpCase{
        .name = name,
        .inputs = [lo, hi] { return Inputs{linspace(lo, hi, 101, kFloat64)}; },
        .fn = [op](const Inputs& x) { return op(x[0]); },
        .reference = unary_ref(d.ref),
        .dtypes = all_float_dtypes(),
        .first_order = false,
        .check = domain_check(name, d.ref),
    });
  }
  return true;
}();

// Values exactly representable in every floating dtype, with ties between a and b.
Tensor cmp_a() { return from_values({-1.5, 0.0, 0.5, 2.0, 2.0, -1.0, 3.0, 0.25}, {2, 4}); }
Tensor cmp_b() { return from_values({-1.5, 1.0, 0.5, 1.0, 2.5, -2.0, 3.0, 0.5}, {2, 4}); }

// A bool reference for a comparison (operands broadcast).
std::function<Tensor(const Inputs&)> compare_ref(std::function<bool(double, double)> f) {
  return [f](const Inputs& x) {
    const Shape s = broadcast_shapes(x[0].shape(), x[1].shape(), "reference");
    const std::vector<double> a = to_vector<double>(x[0].expand(s)), b = to_vector<double>(x[1].expand(s));
    std::vector<bool> out(a.size());
    for (size_t i = 0; i < a.size(); ++i) out[i] = f(a[i], b[i]);
    return tensor(out, s);
  };
}

std::function<Tensor(const Inputs&)> logic_ref(std::function<bool(bool, bool)> f) {
  return [f](const Inputs& x) {
    const Shape s = broadcast_shapes(x[0].shape(), x[1].shape(), "reference");
    const std::vector<bool> a = to_vector<bool>(x[0].expand(s)), b = to_vector<bool>(x[1].expand(s));
    std::vector<bool> out(a.size());
    for (size_t i = 0; i < a.size(); ++i) out[i] = f(a[i], b[i]);
    return tensor(out, s);
  };
}

Tensor bools(const std::vector<bool>& v, const Shape& s) { return tensor(v, s); }

}  // namespace

// ---- comparisons and logic (forward only; bool results) ----
#define TANGENT_COMPARISON_ROWS(op, expr)                                                                 \
  TANGENT_OP_CASE(op##_same, {                                                                            \
                                 .name = #op "/same_shape",                                               \
                                 .inputs =                                                                \
                                     [] {                                                                 \
                                       return Inputs{cmp_a(), cmp_b()};                                   \
                                     },                                                                   \
                                 .fn = [](const Inputs& x) { return op(x[0], x[1]); },                    \
                                 .reference = compare_ref([](double a, double b) { return expr; }),       \
                                 .dtypes = all_float_dtypes(),                                            \
                                 .first_order = false,                                                    \
                             });                                                                          \
  TANGENT_OP_CASE(op##_bcast, {                                                                           \
                                  .name = #op "/broadcast",                                               \
                                  .inputs =                                                               \
                                      [] {                                                                \
                                        return Inputs{cmp_a(), from_values({0.5, 2.0, -1.0, 0.25}, {4})}; \
                                      },                                                                  \
                                  .fn = [](const Inputs& x) { return op(x[0], x[1]); },                   \
                                  .reference = compare_ref([](double a, double b) { return expr; }),      \
                                  .dtypes = all_float_dtypes(),                                           \
                                  .first_order = false,                                                   \
                              })
TANGENT_COMPARISON_ROWS(eq, a == b);
TANGENT_COMPARISON_ROWS(ne, a != b);
TANGENT_COMPARISON_ROWS(lt, a < b);
TANGENT_COMPARISON_ROWS(le, a <= b);
TANGENT_COMPARISON_ROWS(gt, a > b);
TANGENT_COMPARISON_ROWS(ge, a >= b);
#undef TANGENT_COMPARISON_ROWS

TANGENT_OP_CASE(logical_and_row,
                {
                    .name = "logical_and",
                    .inputs =
                        [] {
                          return Inputs{bools({true, true, false, false}, {4}), bools({true, false}, {2, 1})};
                        },
                    .fn = [](const Inputs& x) { return logical_and(x[0], x[1]); },
                    .reference = logic_ref([](bool a, bool b) { return a && b; }),
                    .dtypes = {kFloat64},
                    .first_order = false,
                });
TANGENT_OP_CASE(logical_or_row,
                {
                    .name = "logical_or",
                    .inputs =
                        [] {
                          return Inputs{bools({true, true, false, false}, {4}), bools({true, false}, {2, 1})};
                        },
                    .fn = [](const Inputs& x) { return logical_or(x[0], x[1]); },
                    .reference = logic_ref([](bool a, bool b) { return a || b; }),
                    .dtypes = {kFloat64},
                    .first_order = false,
                });
TANGENT_OP_CASE(logical_not_row, {
                                     .name = "logical_not",
                                     .inputs =
                                         [] {
                                           return Inputs{bools({true, false, false, true, true, false}, {2, 3})};
                                         },
                                     .fn = [](const Inputs& x) { return logical_not(x[0]); },
                                     .reference =
                                         [](const Inputs& x) {
                                           std::vector<bool> v = to_vector<bool>(x[0]);
                                           for (size_t i = 0; i < v.size(); ++i) v[i] = !v[i];
                                           return tensor(v, x[0].shape());
                                         },
                                     .dtypes = {kFloat64},
                                     .first_order = false,
                                 });
// The same ops on floating inputs: nonzero is true.
TANGENT_OP_CASE(logical_not_float, {
                                       .name = "logical_not/float_input",
                                       .inputs = [] { return Inputs{cmp_a()}; },
                                       .fn = [](const Inputs& x) { return logical_not(x[0]); },
                                       .reference =
                                           [](const Inputs& x) {
                                             const std::vector<double> v = to_vector<double>(x[0]);
                                             std::vector<bool> out(v.size());
                                             for (size_t i = 0; i < v.size(); ++i) out[i] = v[i] == 0.0;
                                             return tensor(out, x[0].shape());
                                           },
                                       .dtypes = all_float_dtypes(),
                                       .first_order = false,
                                   });
