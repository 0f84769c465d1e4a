#pragma once
// The strided loop every CPU elementwise kernel runs on: iterates a shape over NT operands with arbitrary
// (including zero, i.e. broadcast) strides, collapsing dims that are contiguous across all operands, and calls
// the kernel once per innermost run:
//
//   kernel(std::array<char*, NT> ptrs, std::array<int64_t, NT> inner_byte_strides, int64_t n)
//
// Large loops are split across the thread pool by flat element range (deterministic for a thread count).
#include <array>
#include <cstdint>

#include "core/parallel.h"
#include "core/tensor.h"

namespace tangent::cpu {

template <size_t NT>
struct LoopGeometry {
  int64_t ndim = 0;
  int64_t shape[Shape::kMaxDims] = {};
  int64_t strides[NT][Shape::kMaxDims] = {};  // bytes
};

template <size_t NT>
LoopGeometry<NT> make_geometry(const Shape& shape, const std::array<const Tensor*, NT>& ops) {
  LoopGeometry<NT> g;
  // Drop size-1 dims, then merge neighbours whose strides chain for every operand.
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    const int64_t k = g.ndim;
    bool merge = k > 0;
    for (size_t t = 0; t < NT && merge; ++t) {
      const int64_t es = static_cast<int64_t>(element_size(ops[t]->dtype()));
      merge = g.strides[t][k - 1] == ops[t]->strides()[d] * es * shape[d];
    }
    if (merge) {
      g.shape[k - 1] *= shape[d];
      for (size_t t = 0; t < NT; ++t)
        g.strides[t][k - 1] = ops[t]->strides()[d] * static_cast<int64_t>(element_size(ops[t]->dtype()));
    } else {
      g.shape[k] = shape[d];
      for (size_t t = 0; t < NT; ++t)
        g.strides[t][k] = ops[t]->strides()[d] * static_cast<int64_t>(element_size(ops[t]->dtype()));
      ++g.ndim;
    }
  }
  if (g.ndim == 0) {  // a scalar: one element
    g.ndim = 1;
    g.shape[0] = 1;
    for (size_t t = 0; t < NT; ++t) g.strides[t][0] = 0;
  }
  return g;
}

// Runs the kernel over flat elements [begin, end) of the geometry.
template <size_t NT, typename F>
void loop_range(const LoopGeometry<NT>& g, const std::array<char*, NT>& base, int64_t begin, int64_t end,
                const F& kernel) {
  const int64_t nd = g.ndim;
  const int64_t inner = g.shape[nd - 1];
  int64_t idx[Shape::kMaxDims];
  int64_t rem = begin;
  for (int64_t d = nd - 1; d >= 0; --d) {
    idx[d] = rem % g.shape[d];
    rem /= g.shape[d];
  }
  std::array<int64_t, NT> inner_strides;
  for (size_t t = 0; t < NT; ++t) inner_strides[t] = g.strides[t][nd - 1];
  int64_t pos = begin;
  while (pos < end) {
    std::array<char*, NT> ptrs;
    for (size_t t = 0; t < NT; ++t) {
      int64_t off = 0;
      for (int64_t d = 0; d < nd; ++d) off += idx[d] * g.strides[t][d];
      ptrs[t] = base[t] + off;
    }
    const int64_t n = std::min(inner - idx[nd - 1], end - pos);
    kernel(ptrs, inner_strides, n);
    pos += n;
    idx[nd - 1] += n;
    for (int64_t d = nd - 1; d > 0 && idx[d] == g.shape[d]; --d) {
      idx[d] = 0;
      ++idx[d - 1];
    }
  }
}

// The entry point: `ops` are the operands (output first by convention), all of shape `shape`.
template <size_t NT, typename F>
void cpu_loop(const Shape& shape, const std::array<const Tensor*, NT>& ops, const F& kernel,
              int64_t grain = kParallelGrain) {
  const int64_t numel = shape.numel();
  if (numel == 0) return;
  std::array<char*, NT> base;
  for (size_t t = 0; t < NT; ++t) base[t] = static_cast<char*>(ops[t]->raw_data());
  // Fast path: everything contiguous with the same element count.
  bool flat = true;
  for (size_t t = 0; t < NT && flat; ++t) flat = ops[t]->is_contiguous() && ops[t]->numel() == numel;
  if (flat) {
    std::array<int64_t, NT> st;
    for (size_t t = 0; t < NT; ++t) st[t] = static_cast<int64_t>(element_size(ops[t]->dtype()));
    parallel_for(numel, grain, [&](int64_t b, int64_t e) {
      std::array<char*, NT> p;
      for (size_t t = 0; t < NT; ++t) p[t] = base[t] + b * st[t];
      kernel(p, st, e - b);
    });
    return;
  }
  const LoopGeometry<NT> g = make_geometry<NT>(shape, ops);
  parallel_for(numel, grain, [&](int64_t b, int64_t e) { loop_range<NT>(g, base, b, e, kernel); });
}

}  // namespace tangent::cpu
