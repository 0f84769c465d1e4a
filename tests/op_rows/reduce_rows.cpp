// Op-table rows for the reductions and softmax (ops/reduce.h): one row per differentiable op, several with
// non-trivial dims, each with a reference computed by a plain loop over the values or by another composition.
// Inputs avoid kinks: prod and norm inputs stay away from 0, max/min inputs are continuous (no ties).
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

TANGENT_OP_CASE(reduce_sum_all, {
    .name = "reduce/sum_all",
    .inputs = [] { return Inputs{normal({3, 4})}; },
    .fn = [](const Inputs& x) { return sum(x[0]); },
    .reference = [](const Inputs& x) { return scalar_tensor(total(to_vector<double>(x[0])), kFloat64); },
});

TANGENT_OP_CASE(reduce_sum_dims_keepdim, {
    .name = "reduce/sum_dims_keepdim",
    .inputs = [] { return Inputs{normal({2, 3, 4})}; },
    .fn = [](const Inputs& x) { return sum(x[0], {0, -1}, true); },
    .reference = [](const Inputs& x) { return sum(sum(x[0], {2}, true), {0}, true); },
});

TANGENT_OP_CASE(reduce_mean, {
    .name = "reduce/mean_dim1",
    .inputs = [] { return Inputs{normal({3, 5})}; },
    .fn = [](const Inputs& x) { return mean(x[0], {1}); },
    .reference = rows_ref([](const std::vector<double>& v) { return total(v) / static_cast<double>(v.size()); }),
});

TANGENT_OP_CASE(reduce_var, {
    .name = "reduce/var_dim1",
    .inputs = [] { return Inputs{normal({3, 5})}; },
    .fn = [](const Inputs& x) { return var(x[0], {1}); },
    .reference = rows_ref([](const std::vector<double>& v) {
      const double m = total(v) / static_cast<double>(v.size());
      double s = 0;
      for (double e : v) s += (e - m) * (e - m);
      return s / static_cast<double>(v.size() - 1);
    }),
});

TANGENT_OP_CASE(reduce_var_multi, {
    .name = "reduce/var_dims_0_2_keepdim",
    .inputs = [] { return Inputs{normal({2, 3, 4})}; },
    .fn = [](const Inputs& x) { return var(x[0], {0, 2}, 0, true); },
    .reference = [](const Inputs& x) {
      const Tensor d = sub(x[0], mean(x[0], {0, 2}, true));
      return div(sum(mul(d, d), {0, 2}, true), 8.0);
    },
});

TANGENT_OP_CASE(reduce_std, {
    .name = "reduce/std_dim0",
    .inputs = [] { return Inputs{normal({4, 3})}; },
    .fn = [](const Inputs& x) { return tangent::std(x[0], {0}); },
    .reference = [](const Inputs& x) { return sqrt(var(x[0], {0})); },
});

TANGENT_OP_CASE(reduce_prod, {
    .name = "reduce/prod_dim1",
    .inputs = [] { return Inputs{signed_away_from_zero({3, 4})}; },
    .fn = [](const Inputs& x) { return prod(x[0], {1}); },
    .reference = rows_ref([](const std::vector<double>& v) {
      double p = 1;
      for (double e : v) p *= e;
      return p;
    }),
});

TANGENT_OP_CASE(reduce_amax, {
    .name = "reduce/amax_dim1",
    .inputs = [] { return Inputs{normal({3, 5})}; },
    .fn = [](const Inputs& x) { return amax(x[0], {1}); },
    .reference = rows_ref([](const std::vector<double>& v) {
      double m = v[0];
      for (double e : v) m = std::max(m, e);
      return m;
    }),
});

TANGENT_OP_CASE(reduce_amin_keepdim, {
    .name = "reduce/amin_dim0_keepdim",
    .inputs = [] { return Inputs{normal({4, 3})}; },
    .fn = [](const Inputs& x) { return amin(x[0], {0}, true); },
    .reference = [](const Inputs& x) { return neg(amax(neg(x[0]), {0}, true)); },
});

TANGENT_OP_CASE(reduce_max_dim_values, {
    .name = "reduce/max_dim_values",
    .inputs = [] { return Inputs{normal({3, 4, 2})}; },
    .fn = [](const Inputs& x) { return std::get<0>(max(x[0], 1)); },
    .reference = [](const Inputs& x) { return amax(x[0], {1}); },
});

TANGENT_OP_CASE(reduce_logsumexp, {
    .name = "reduce/logsumexp_dim1",
    .inputs = [] { return Inputs{normal({3, 5})}; },
    .fn = [](const Inputs& x) { return logsumexp(x[0], {1}); },
    .reference = rows_ref([](const std::vector<double>& v) {
      double s = 0;
      for (double e : v) s += std::exp(e);
      return std::log(s);
    }),
});

TANGENT_OP_CASE(reduce_norm2, {
    .name = "reduce/norm_p2_dim1",
    .inputs = [] { return Inputs{normal({3, 4})}; },
    .fn = [](const Inputs& x) { return norm(x[0], 2.0, {1}); },
    .reference = rows_ref([](const std::vector<double>& v) {
      double s = 0;
      for (double e : v) s += e * e;
      return std::sqrt(s);
    }),
});

TANGENT_OP_CASE(reduce_norm1, {
    .name = "reduce/norm_p1_all",
    .inputs = [] { return Inputs{signed_away_from_zero({3, 4})}; },
    .fn = [](const Inputs& x) { return norm(x[0], 1.0); },
    .reference = [](const Inputs& x) {
      double s = 0;
      for (double e : to_vector<double>(x[0])) s += std::abs(e);
      return scalar_tensor(s, kFloat64);
    },
});

TANGENT_OP_CASE(reduce_norm3, {
    .name = "reduce/norm_p3_dim0",
    .inputs = [] { return Inputs{positive({4, 3})}; },
    .fn = [](const Inputs& x) { return norm(x[0], 3.0, {0}); },
    .reference = [](const Inputs& x) { return pow(sum(pow(x[0], 3.0), {0}), 1.0 / 3.0); },
});

TANGENT_OP_CASE(reduce_softmax, {
    .name = "reduce/softmax_last",
    .inputs = [] { return Inputs{normal({3, 5})}; },
    .fn = [](const Inputs& x) { return softmax(x[0], -1); },
    .reference = [](const Inputs& x) {
      const Tensor e = exp(x[0]);
      return div(e, sum(e, {1}, true));
    },
});

TANGENT_OP_CASE(reduce_softmax_mid, {
    .name = "reduce/softmax_dim1_of_3d",
    .inputs = [] { return Inputs{normal({2, 4, 3})}; },
    .fn = [](const Inputs& x) { return softmax(x[0], 1); },
    .reference = [](const Inputs& x) {
      const Tensor e = exp(x[0]);
      return div(e, sum(e, {1}, true));
    },
});

TANGENT_OP_CASE(reduce_log_softmax, {
    .name = "reduce/log_softmax_dim0",
    .inputs = [] { return Inputs{normal({4, 3})}; },
    .fn = [](const Inputs& x) { return log_softmax(x[0], 0); },
    .reference = [](const Inputs& x) { return sub(x[0], log(sum(exp(x[0]), {0}, true))); },
});
