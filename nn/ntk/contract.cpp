// Kernel assembly shared by the NTK methods: the float64 accumulator (with mirroring for x2 = x1), the weight- and
// position-space tile contractions, tiling and the eval-mode guard.
#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "nn/ntk/ntk_internal.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/linalg.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace tangent::ntk::detail {

Shape tile_shape(Mode mode, int64_t t1, int64_t t2, int64_t outputs) {
  switch (mode) {
    case Mode::Full:
      return {t1, t2, outputs, outputs};
    case Mode::Trace:
      return {t1, t2};
    case Mode::Diagonal:
      return {t1, t2, outputs};
  }
  return {};
}

KernelAccumulator::KernelAccumulator(Mode mode, int64_t n1, int64_t n2, int64_t outputs, bool symmetric,
                                     const std::vector<std::string>& names)
    : mode_(mode), n1_(n1), n2_(n2), outputs_(outputs), symmetric_(symmetric) {
  total_ = zeros(tile_shape(mode, n1, n2, outputs), kFloat64);
  for (const auto& name : names) {
    index_[name] = terms_.size();
    terms_.emplace_back(name, zeros(tile_shape(mode, n1, n2, outputs), kFloat64));
  }
}

std::vector<std::pair<std::string, Tensor>> KernelAccumulator::per_layer() const { return terms_; }

void KernelAccumulator::add(const std::string& name, int64_t i0, int64_t j0, const Tensor& tile, double scale) {
  const Tensor t = tile.to(kFloat64).contiguous();
  add_into(total_, i0, j0, t, scale);
  auto it = index_.find(name);
  if (it != index_.end()) add_into(terms_[it->second].second, i0, j0, t, scale);
}

void KernelAccumulator::add_into(const Tensor& dst, int64_t i0, int64_t j0, const Tensor& t, double scale) const {
  const int64_t t1 = t.size(0), t2 = t.size(1);
  const int64_t inner = mode_ == Mode::Full ? outputs_ * outputs_ : mode_ == Mode::Diagonal ? outputs_ : 1;
  TANGENT_CHECK(i0 + t1 <= n1_ && j0 + t2 <= n2_ && t.numel() == t1 * t2 * inner,
                "empirical_ntk: internal error, tile ", t.shape(), " at (", i0, ", ", j0, ") does not fit the kernel");
  const double* src = t.data_ptr<double>();
  double* out = dst.data_ptr<double>();
  const int64_t O = outputs_;
  for (int64_t i = 0; i < t1; ++i)
    for (int64_t j = 0; j < t2; ++j) {
      const double* s = src + (i * t2 + j) * inner;
      double* d = out + ((i0 + i) * n2_ + (j0 + j)) * inner;
      for (int64_t k = 0; k < inner; ++k) d[k] += scale * s[k];
    }
  if (!symmetric_ || i0 == j0) return;
  // Mirror: Theta[j, i, p, o] = Theta[i, j, o, p].
  for (int64_t i = 0; i < t1; ++i)
    for (int64_t j = 0; j < t2; ++j) {
      const double* s = src + (i * t2 + j) * inner;
      double* d = out + ((j0 + j) * n2_ + (i0 + i)) * inner;
      if (mode_ == Mode::Full) {
        for (int64_t o = 0; o < O; ++o)
          for (int64_t p = 0; p < O; ++p) d[p * O + o] += scale * s[o * O + p];
      } else {
        for (int64_t k = 0; k < inner; ++k) d[k] += scale * s[k];
      }
    }
}

namespace {

// a [M, K] @ b [N, K]^T as float64, chunking K for float32 operands so float32 sums stay short.
Tensor gram(const Tensor& a, const Tensor& b) {
  const int64_t K = a.size(1);
  constexpr int64_t kChunk = 32768;
  if (a.dtype() == kFloat64 || K <= kChunk) return mm(a, b.t()).to(kFloat64);
  Tensor acc;
  for (int64_t k0 = 0; k0 < K; k0 += kChunk) {
    const int64_t len = std::min(kChunk, K - k0);
    Tensor part = mm(a.narrow(1, k0, len), b.narrow(1, k0, len).t()).to(kFloat64);
    acc = acc.defined() ? add(acc, part) : part;
  }
  return acc;
}

// a [M, K] @ a^T, exploiting symmetry: of two row blocks, the products (0, 0), (0, 1) and (1, 1) only (3/4 of the
// GEMM work), (1, 0) mirrored. More blocks save more flops on paper but lose more to narrower GEMMs (measured
// slower with four on the MLP benchmark).
Tensor gram_symmetric(const Tensor& a) {
  const int64_t M = a.size(0);
  constexpr int64_t kBlocks = 2;
  if (M < 32 * kBlocks) return gram(a, a);  // narrow blocks would lose more to GEMM efficiency than they save
  const int64_t step = (M + kBlocks - 1) / kBlocks;
  Tensor out = empty({M, M}, kFloat64);
  for (int64_t r = 0; r < M; r += step) {
    const int64_t rl = std::min(step, M - r);
    for (int64_t c = r; c < M; c += step) {
      const int64_t cl = std::min(step, M - c);
      const Tensor block = gram(a.narrow(0, r, rl), a.narrow(0, c, cl));
      out.narrow(0, r, rl).narrow(1, c, cl).copy_(block);
      if (c != r) out.narrow(0, c, cl).narrow(1, r, rl).copy_(block.t());
    }
  }
  return out;
}

// gram(a, b), symmetric when a and b are the same tensor.
Tensor gram_of(const Tensor& a, const Tensor& b) {
  const bool same = a.raw_data() == b.raw_data() && a.shape() == b.shape() && a.strides() == b.strides();
  return same ? gram_symmetric(a) : gram(a, b);
}

}  // namespace

Tensor contract_weight(const Tensor& GI, const Tensor& GJ, Mode mode) {
  const int64_t n1 = GI.size(0), n2 = GJ.size(0), O = GI.size(1), K = GI.size(2);
  switch (mode) {
    case Mode::Full:
      return gram_of(GI.reshape({n1 * O, K}), GJ.reshape({n2 * O, K})).reshape({n1, O, n2, O}).permute({0, 2, 1, 3});
    case Mode::Trace:
      return gram_of(GI.reshape({n1, O * K}), GJ.reshape({n2, O * K}));
    case Mode::Diagonal: {
      std::vector<Tensor> per;
      for (int64_t o = 0; o < O; ++o) per.push_back(gram_of(GI.select(1, o), GJ.select(1, o)));
      return stack(per, 2);
    }
  }
  return Tensor();
}

Tensor contract_position(const Tensor& A, const Tensor& gI, const Tensor& gJ, Mode mode) {
  const int64_t n1 = gI.size(0), n2 = gJ.size(0), O = gI.size(1), D = gI.size(2), C = gI.size(3);
  if (D == 1) {  // no sharing: Theta = (a_i . a_j) (g_io . g_jp)
    Tensor b = contract_weight(gI.reshape({n1, O, C}), gJ.reshape({n2, O, C}), mode);
    Tensor a = A.reshape(mode == Mode::Full       ? Shape{n1, n2, 1, 1}
                         : mode == Mode::Diagonal ? Shape{n1, n2, 1}
                                                  : Shape{n1, n2});
    return mul(b, a.to(kFloat64));
  }
  // One row block per output o: B[i, d, j, (p,) d'] = <gI[i, o, d], gJ[j, p, d']>, times A, summed over d, d'.
  const Tensor a64 = A.dtype() == gI.dtype() ? A : A.to(gI.dtype());
  std::vector<Tensor> per;
  for (int64_t o = 0; o < O; ++o) {
    const Tensor lhs = gI.select(1, o).reshape({n1 * D, C});
    if (mode == Mode::Full) {
      Tensor b = mm(lhs, gJ.reshape({n2 * O * D, C}).t()).reshape({n1, D, n2, O, D});
      per.push_back(sum(mul(b, a64.reshape({n1, D, n2, 1, D})), {1, 4}, false, kFloat64));  // [n1, n2, O]
    } else {
      Tensor b = mm(lhs, gJ.select(1, o).reshape({n2 * D, C}).t()).reshape({n1, D, n2, D});
      per.push_back(sum(mul(b, a64), {1, 3}, false, kFloat64));  // [n1, n2]
    }
  }
  switch (mode) {
    case Mode::Full:
      return stack(per, 2);  // [n1, n2, O, O]
    case Mode::Trace: {
      Tensor t = per[0];
      for (size_t o = 1; o < per.size(); ++o) t = add(t, per[o]);
      return t;
    }
    case Mode::Diagonal:
      return stack(per, 2);
  }
  return Tensor();
}

std::vector<std::pair<int64_t, int64_t>> make_tiles(int64_t n, int64_t tile) {
  std::vector<std::pair<int64_t, int64_t>> out;
  tile = std::max<int64_t>(1, tile);
  for (int64_t s = 0; s < n; s += tile) out.emplace_back(s, std::min(tile, n - s));
  return out;
}

std::vector<std::pair<size_t, size_t>> tile_pairs(const Tiles& tiles1, const Tiles& tiles2, bool symmetric,
                                                  const NtkOptions& options) {
  std::vector<std::pair<size_t, size_t>> all;
  for (size_t a = 0; a < tiles1.size(); ++a)
    for (size_t b = symmetric ? a : 0; b < tiles2.size(); ++b) all.emplace_back(a, b);
  const int ranks = options.group ? options.group->size() : 1;
  if (ranks == 1) return all;
  // Longest processing time first: pairs by decreasing cost (a diagonal pair of a symmetric kernel costs half:
  // the contraction takes its symmetric path), each to the least loaded rank; ties by index, so every rank
  // computes the same assignment.
  std::vector<double> cost(all.size());
  for (size_t k = 0; k < all.size(); ++k) {
    const auto [a, b] = all[k];
    cost[k] = static_cast<double>(tiles1[a].second) * static_cast<double>(tiles2[b].second) *
              (symmetric && a == b ? 0.5 : 1.0);
  }
  std::vector<size_t> by_cost(all.size());
  std::iota(by_cost.begin(), by_cost.end(), size_t{0});
  std::stable_sort(by_cost.begin(), by_cost.end(), [&](size_t i, size_t j) { return cost[i] > cost[j]; });
  std::vector<double> load(static_cast<size_t>(ranks), 0.0);
  std::vector<int> owner(all.size());
  for (size_t k : by_cost) {
    const size_t r = static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    owner[k] = static_cast<int>(r);
    load[r] += cost[k];
  }
  std::vector<std::pair<size_t, size_t>> mine;
  for (size_t k = 0; k < all.size(); ++k)
    if (owner[k] == options.group->rank()) mine.push_back(all[k]);
  return mine;
}

EvalModeGuard::EvalModeGuard(nn::Module& model) {
  for (auto& [name, m] : model.named_modules()) modes_.emplace_back(m, m->is_training());
  model.eval();
}

EvalModeGuard::~EvalModeGuard() {
  for (auto& [m, training] : modes_) {
    // train() recurses; restore parents first (their order in named_modules), then children override.
    m->train(training);
  }
}

}  // namespace tangent::ntk::detail
