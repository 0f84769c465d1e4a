// The jacobian method: per-example Jacobians through autograd (one forward per example, one backward per output
// with the graph retained), held per parameter tensor as J [n, O, numel] for a tile of n examples and contracted
// tile pair by tile pair. Exact for any model built from differentiable ops whose examples do not interact (the
// model runs in eval mode, and each example is run alone).
//
// Memory: a tile's Jacobians take n * O * P elements. When the Jacobians of all of x1 and x2 fit in
// options.max_memory_mb they are computed once and contracted as one tile pair (the widest GEMMs; with x2 = x1 a
// symmetric product, see contract.cpp); otherwise the tile is the largest n for which two of them (the row and the
// column tile) fit, and the column tiles are recomputed for each row tile.
#include <algorithm>
#include <vector>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "core/error.h"
#include "nn/ntk/ntk_internal.h"
#include "ops/factory.h"

namespace tangent::ntk::detail {

namespace {

using Jacobians = std::vector<Tensor>;  // one [n, O, numel] per parameter

Jacobians tile_jacobians(nn::Module& model, const Tensor& x, const JacobianPlan& plan) {
  const int64_t n = x.size(0), O = plan.outputs;
  std::vector<Tensor> inputs;
  Jacobians J;
  for (const auto& [name, p] : plan.params) {
    inputs.push_back(p);
    J.push_back(empty({n, O, p.numel()}, p.dtype()));  // every row is written below (no zero fill pass)
  }
  AutoGradMode grad_on(true);
  for (int64_t i = 0; i < n; ++i) {
    const Tensor out = model(rows(x, i, 1));
    TANGENT_CHECK(out.defined() && out.numel() == O, "empirical_ntk: the model gave ", out.shape(),
                  " for one example but ", O, " outputs per example for the batch");
    TANGENT_CHECK(out.requires_grad(), "empirical_ntk: the model output does not depend on its parameters");
    for (int64_t o = 0; o < O; ++o) {
      std::vector<double> seed(static_cast<size_t>(O), 0.0);
      seed[static_cast<size_t>(o)] = 1.0;
      const Tensor s = tensor(seed, out.shape()).to(out.dtype());
      const std::vector<Tensor> g = autograd::grad({out}, inputs, {s}, o + 1 < O, false, true);
      for (size_t k = 0; k < g.size(); ++k)
        if (g[k].defined())
          J[k].select(0, i).select(0, o).copy_(g[k].reshape({-1}));
        else
          J[k].select(0, i).select(0, o).zero_();
    }
  }
  return J;
}

int64_t bytes_of(const Jacobians& J) {
  int64_t b = 0;
  for (const auto& t : J) b += t.numel() * static_cast<int64_t>(element_size(t.dtype()));
  return b;
}

}  // namespace

int64_t jacobian_ntk(nn::Module& model, const Tensor& x1, const Tensor& x2, bool symmetric, const JacobianPlan& plan,
                     const NtkOptions& options, KernelAccumulator& acc, const NtkProgress& progress) {
  if (plan.params.empty()) return 0;
  const int64_t O = plan.outputs, N1 = x1.size(0), N2 = symmetric ? N1 : x2.size(0);
  int64_t P = 0;
  for (const auto& kv : plan.params) P += kv.second.numel();
  const int64_t es = static_cast<int64_t>(element_size(plan.params.front().second.dtype()));
  const int64_t budget = options.max_memory_mb * (int64_t{1} << 20);
  const int64_t out_per_pair = O * O * 8 * 3;  // the float64 product, its permuted copy and the accumulation
  const bool fits_all = (N1 + (symmetric ? 0 : N2)) * O * P * es <= budget;
  int64_t tile = options.tile;
  if (tile <= 0) {
    // Every Jacobian held at once: one tile pair (the fewest, widest GEMMs); else two tiles in the budget.
    tile = fits_all ? std::max(N1, N2) : std::max<int64_t>(1, budget / std::max<int64_t>(1, 2 * O * P * es));
    while (tile > 1 && tile * tile * out_per_pair > budget / 2) tile /= 2;
  }
  const auto tiles1 = make_tiles(N1, tile);
  const auto tiles2 = symmetric ? tiles1 : make_tiles(N2, tile);
  const auto pairs = tile_pairs(tiles1, tiles2, symmetric, options);
  const bool cache_all = fits_all;

  std::vector<Jacobians> cache1(tiles1.size()), cache2(tiles2.size());
  auto get = [&](bool second, size_t t) -> Jacobians {
    const auto& tiles = second ? tiles2 : tiles1;
    auto& cache = second ? cache2 : cache1;
    if (cache[t].empty()) {
      Jacobians J = tile_jacobians(model, rows(second ? x2 : x1, tiles[t].first, tiles[t].second), plan);
      if (!cache_all) return J;
      cache[t] = std::move(J);
    }
    return cache[t];
  };

  int64_t peak = 0;
  Jacobians row;
  size_t row_index = static_cast<size_t>(-1);
  for (size_t k = 0; k < pairs.size(); ++k) {
    const auto [a, b] = pairs[k];
    if (a != row_index) {
      row = get(false, a);
      row_index = a;
    }
    // A diagonal tile pair reuses the row (also when not cached): contract_weight then takes the symmetric path.
    const Jacobians col = symmetric ? (a == b ? row : get(false, b)) : get(true, b);
    const int64_t n1 = tiles1[a].second, n2 = tiles2[b].second;
    for (size_t p = 0; p < plan.params.size(); ++p)
      acc.add(plan.params[p].first, tiles1[a].first, tiles2[b].first, contract_weight(row[p], col[p], options.mode));
    peak = std::max(peak, bytes_of(row) + (symmetric && a == b ? 0 : bytes_of(col)) + n1 * n2 * out_per_pair);
    if (progress) progress(static_cast<int64_t>(k + 1), static_cast<int64_t>(pairs.size()));
  }
  if (cache_all) peak = std::max(peak, (N1 + (symmetric ? 0 : N2)) * O * P * es);
  return peak;
}

}  // namespace tangent::ntk::detail
