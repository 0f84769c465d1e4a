// Op-table rows for the view, joining, splitting and indexing ops of ops/shape_ops.h.
#include <gtest/gtest.h>

#include "support/op_table.h"

namespace tangent::testing {
namespace {

using V = std::vector<Tensor>;

Tensor r64(const Shape& shape) { return randn(shape, kFloat64); }

}  // namespace
}  // namespace tangent::testing

using tangent::kFloat64;
using tangent::kInt64;
using tangent::Shape;
using tangent::Tensor;
using tangent::testing::r64;
using tangent::testing::V;

// ---- views ----
TANGENT_OP_CASE(shape_view, {
                                .name = "view",
                                .inputs =
                                    [] {
                                      return V{r64({2, 3, 4})};
                                    },
                                .fn =
                                    [](const V& x) {
                                      return x[0].view({6, -1});
                                    },
                                .reference =
                                    [](const V& x) {
                                      return x[0].contiguous().reshape({6, 4});
                                    },
                            });

TANGENT_OP_CASE(shape_reshape, {
                                   .name = "reshape/transposed",
                                   .inputs =
                                       [] {
                                         return V{r64({3, 4})};
                                       },
                                   .fn =
                                       [](const V& x) {
                                         return x[0].t().reshape({2, 6});
                                       },
                               });

TANGENT_OP_CASE(shape_permute, {
                                   .name = "permute",
                                   .inputs =
                                       [] {
                                         return V{r64({2, 3, 4})};
                                       },
                                   .fn =
                                       [](const V& x) {
                                         return x[0].permute({2, 0, 1});
                                       },
                                   .reference = [](const V& x) { return x[0].transpose(0, 2).transpose(1, 2); },
                               });

TANGENT_OP_CASE(shape_transpose, {
                                     .name = "transpose",
                                     .inputs =
                                         [] {
                                           return V{r64({2, 3, 4})};
                                         },
                                     .fn = [](const V& x) { return x[0].transpose(-1, 0); },
                                 });

TANGENT_OP_CASE(shape_expand, {
                                  .name = "expand/broadcast",
                                  .inputs =
                                      [] {
                                        return V{r64({3, 1})};
                                      },
                                  .fn =
                                      [](const V& x) {
                                        return x[0].expand({2, 3, 4});
                                      },
                              });

TANGENT_OP_CASE(shape_narrow,
                {
                    .name = "narrow",
                    .inputs =
                        [] {
                          return V{r64({4, 5})};
                        },
                    .fn = [](const V& x) { return x[0].narrow(1, 1, 3); },
                    .reference =
                        [](const V& x) { return tangent::index_select(x[0], 1, tangent::arange(1, 4, 1, kInt64)); },
                });

TANGENT_OP_CASE(shape_slice_step,
                {
                    .name = "slice/step2",
                    .inputs =
                        [] {
                          return V{r64({4, 5})};
                        },
                    .fn = [](const V& x) { return x[0].slice(1, 0, 5, 2); },
                    .reference =
                        [](const V& x) { return tangent::index_select(x[0], 1, tangent::arange(0, 5, 2, kInt64)); },
                });

TANGENT_OP_CASE(shape_select, {
                                  .name = "select",
                                  .inputs =
                                      [] {
                                        return V{r64({3, 4})};
                                      },
                                  .fn = [](const V& x) { return x[0].select(1, -2); },
                              });

TANGENT_OP_CASE(shape_squeeze_unsqueeze, {
                                             .name = "squeeze/unsqueeze",
                                             .inputs =
                                                 [] {
                                                   return V{r64({3, 1, 4})};
                                                 },
                                             .fn = [](const V& x) { return x[0].squeeze(1).unsqueeze(0); },
                                             .reference =
                                                 [](const V& x) {
                                                   return x[0].reshape({1, 3, 4});
                                                 },
                                         });

TANGENT_OP_CASE(shape_flatten, {
                                   .name = "flatten",
                                   .inputs =
                                       [] {
                                         return V{r64({2, 3, 4})};
                                       },
                                   .fn = [](const V& x) { return x[0].flatten(1); },
                               });

// ---- joining and splitting ----
TANGENT_OP_CASE(shape_cat, {
                               .name = "cat/3inputs_dim1",
                               .inputs =
                                   [] {
                                     return V{r64({2, 3}), r64({2, 1}), r64({2, 2})};
                                   },
                               .fn =
                                   [](const V& x) {
                                     return tangent::cat({x[0], x[1], x[2]}, 1);
                                   },
                           });

TANGENT_OP_CASE(shape_stack, {
                                 .name = "stack",
                                 .inputs =
                                     [] {
                                       return V{r64({2, 3}), r64({2, 3})};
                                     },
                                 .fn =
                                     [](const V& x) {
                                       return tangent::stack({x[0], x[1]}, 1);
                                     },
                                 .reference =
                                     [](const V& x) {
                                       return tangent::cat({x[0].unsqueeze(1), x[1].unsqueeze(1)}, 1);
                                     },
                             });

TANGENT_OP_CASE(shape_split, {
                                 .name = "split/weighted",
                                 .inputs =
                                     [] {
                                       return V{r64({5, 3})};
                                     },
                                 .fn =
                                     [](const V& x) {
                                       const std::vector<Tensor> p = tangent::split(x[0], 2);  // [2, 3], [2, 3], [1, 3]
                                       return p[0] * 2.0 + p[1] * 3.0 - p[2];
                                     },
                             });

// ---- indexing ----
TANGENT_OP_CASE(shape_index_select, {
                                        .name = "index_select",
                                        .inputs =
                                            [] {
                                              return V{r64({4, 3}), tangent::tensor(std::vector<int64_t>{3, 0, 3})};
                                            },
                                        .fn = [](const V& x) { return tangent::index_select(x[0], 0, x[1]); },
                                        .no_grad_inputs = {1},
                                    });

TANGENT_OP_CASE(shape_index_add,
                {
                    .name = "index_add",
                    .inputs =
                        [] {
                          return V{r64({4, 3}), tangent::tensor(std::vector<int64_t>{1, 3, 1}), r64({3, 3})};
                        },
                    .fn = [](const V& x) { return tangent::index_add(x[0], 0, x[1], x[2]); },
                    .no_grad_inputs = {1},
                });

TANGENT_OP_CASE(shape_gather,
                {
                    .name = "gather",
                    .inputs =
                        [] {
                          return V{r64({3, 4}), tangent::tensor(std::vector<int64_t>{3, 0, 0, 1, 2, 2}, {3, 2})};
                        },
                    .fn = [](const V& x) { return tangent::gather(x[0], 1, x[1]); },
                    .no_grad_inputs = {1},
                });

TANGENT_OP_CASE(
    shape_scatter_add,
    {
        .name = "scatter_add",
        .inputs =
            [] {
              return V{r64({3, 4}), tangent::tensor(std::vector<int64_t>{3, 0, 0, 1, 2, 2}, {3, 2}), r64({3, 2})};
            },
        .fn = [](const V& x) { return tangent::scatter_add(x[0], 1, x[1], x[2]); },
        .no_grad_inputs = {1},
    });

// ---- splitting into several outputs: each piece weighted differently, so a mixed-up piece shows ----
TANGENT_OP_CASE(
    shape_chunk_uneven,
    {
        .name = "chunk/uneven_dim1",
        .inputs =
            [] {
              return V{r64({2, 7})};
            },
        .fn =
            [](const V& x) {
              const std::vector<Tensor> p = tangent::chunk(x[0], 3, 1);  // [2, 3], [2, 3], [2, 1]
              return tangent::cat({p[2], p[0] * 2.0, p[1] * -3.0}, 1);
            },
        .reference =
            [](const V& x) {
              return tangent::cat({x[0].narrow(1, 6, 1), x[0].narrow(1, 0, 3) * 2.0, x[0].narrow(1, 3, 3) * -3.0}, 1);
            },
        .dtypes = tangent::testing::all_float_dtypes(),
    });
TANGENT_OP_CASE(shape_chunk_even,
                {
                    .name = "chunk/even_dim0",
                    .inputs =
                        [] {
                          return V{r64({4, 3})};
                        },
                    .fn =
                        [](const V& x) {
                          const std::vector<Tensor> p = tangent::chunk(x[0], 2);
                          EXPECT_EQ(p.size(), 2u);
                          return p[0] * p[1];
                        },
                    .reference = [](const V& x) { return x[0].narrow(0, 0, 2) * x[0].narrow(0, 2, 2); },
                });
TANGENT_OP_CASE(
    shape_split_with_sizes,
    {
        .name = "split_with_sizes",
        .inputs =
            [] {
              return V{r64({3, 6})};
            },
        .fn =
            [](const V& x) {
              const std::vector<Tensor> p = tangent::split_with_sizes(x[0], {1, 3, 2}, 1);
              return tangent::cat({p[1] * 0.5, p[0] * 2.0, p[2]}, 1);
            },
        .reference =
            [](const V& x) {
              return tangent::cat({x[0].narrow(1, 1, 3) * 0.5, x[0].narrow(1, 0, 1) * 2.0, x[0].narrow(1, 4, 2)}, 1);
            },
    });
TANGENT_OP_CASE(shape_unsqueeze, {
                                     .name = "unsqueeze",
                                     .inputs =
                                         [] {
                                           return V{r64({2, 3})};
                                         },
                                     .fn =
                                         [](const V& x) {
                                           return tangent::unsqueeze(x[0], -1) *
                                                  tangent::unsqueeze(x[0], 0).sum({1}).unsqueeze(-1);
                                         },
                                 });
TANGENT_OP_CASE(shape_clone, {
                                 .name = "clone",
                                 .inputs =
                                     [] {
                                       return V{r64({2, 3})};
                                     },
                                 .fn = [](const V& x) { return tangent::clone(x[0]) * 2.0; },
                                 .reference = [](const V& x) { return x[0] * 2.0; },
                                 .dtypes = tangent::testing::all_float_dtypes(),
                                 .check =
                                     [](const V& in, const Tensor& out) {
                                       tangent::NoGradGuard guard;
                                       const Tensor c = tangent::clone(in[0]);
                                       EXPECT_TRUE(c.is_contiguous());
                                       EXPECT_NE(c.storage()->data(), in[0].storage()->data())
                                           << "clone shares storage";
                                       (void)out;
                                     },
                             });
TANGENT_OP_CASE(shape_contiguous,
                {
                    .name = "contiguous",
                    .inputs =
                        [] {
                          return V{r64({3, 4})};
                        },
                    .fn = [](const V& x) { return tangent::contiguous(x[0].t()) * 3.0; },
                    .reference = [](const V& x) { return x[0].t() * 3.0; },
                    .dtypes = tangent::testing::all_float_dtypes(),
                    .check = [](const V& in,
                                const Tensor&) { EXPECT_TRUE(tangent::contiguous(in[0].t()).is_contiguous()); },
                });
// Forward only: int64 indices to a float one-hot matrix.
TANGENT_OP_CASE(shape_one_hot, {
                                   .name = "one_hot",
                                   .inputs =
                                       [] {
                                         return V{tangent::tensor(std::vector<int64_t>{2, 0, 3}, {3})};
                                       },
                                   .fn = [](const V& x) { return tangent::one_hot(x[0], 4); },
                                   .reference =
                                       [](const V& x) {
                                         const std::vector<int64_t> idx = tangent::to_vector<int64_t>(x[0]);
                                         std::vector<int64_t> out(12, 0);
                                         for (size_t i = 0; i < idx.size(); ++i)
                                           out[i * 4 + static_cast<size_t>(idx[i])] = 1;
                                         return tangent::tensor(out, {3, 4});
                                       },
                                   .dtypes = {kFloat64},
                                   .first_order = false,
                               });
