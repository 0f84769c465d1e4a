// CPU indexing kernels: index_select and gather (reads through an index), index_add and scatter_add
// (accumulating writes through an index). All four reduce to two loops over aliases of the operands:
//   gather_loop:  out[p] = x[p with its `dim` coordinate replaced by idx[p]]
//   scatter_loop: out[p with its `dim` coordinate replaced by idx[p]] += src[p]
// where x/out are aliased to the iteration shape with stride 0 along `dim` and the index is added as an offset.
// Bounds are checked by the caller (ops/join.cpp).
#include <cstdlib>
#include <type_traits>

#include "ops/cpu/cpu_backend.h"
#include "ops/cpu/loops.h"

namespace tangent::cpu {

namespace {

// A history-free alias of t with the given geometry (t's storage offset).
Tensor alias(const Tensor& t, const Shape& shape, const Shape& strides) {
  return alias_with(t, shape, strides, t.storage_offset());
}

// t's strides with the one of `dim` set to 0.
Shape strides_without(const Tensor& t, int64_t dim) {
  Shape s = t.strides();
  s[static_cast<size_t>(dim)] = 0;
  return s;
}

// A 1-D index aliased to `shape`: it varies along `dim` only.
Tensor index_along(const Tensor& index, const Shape& shape, int64_t dim) {
  Shape s(shape.size(), 0);
  s[static_cast<size_t>(dim)] = index.dim() == 0 ? 0 : index.strides()[0];
  return alias(index, shape, s);
}

void check_index(const Tensor& index, const char* op) {
  TANGENT_CHECK(index.dtype() == kInt64, op, ": index must be int64, got ", index.dtype(), " (shape ", index.shape(),
                ")");
}

// out[p] = *(xs[p] + idx[p] * dim_bytes), over out's shape. xs has stride 0 along dim.
void gather_loop(const Tensor& out, const Tensor& xs, const Tensor& idx, int64_t dim_bytes, const char* op) {
  TANGENT_DISPATCH_ALL(out.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    cpu_loop<3>(
        out.shape(), {&out, &xs, &idx}, [dim_bytes](std::array<char*, 3> p, std::array<int64_t, 3> s, int64_t n) {
          for (int64_t i = 0; i < n; ++i) {
            const int64_t j = *reinterpret_cast<const int64_t*>(p[2] + i * s[2]);
            *reinterpret_cast<T*>(p[0] + i * s[0]) = *reinterpret_cast<const T*>(p[1] + i * s[1] + j * dim_bytes);
          }
        });
  });
}

// *(outs[p] + idx[p] * out.stride(dim)) += src[p], over src's shape; outs is out aliased to src's shape with
// stride 0 along dim. Writes collide only between positions that differ in their `dim` coordinate, so the loop
// is parallel over the other coordinates and serial (in increasing order) along dim: deterministic.
void scatter_loop(const Tensor& outs, const Tensor& src, const Tensor& idx, int64_t dim, int64_t out_dim_stride,
                  const char* op) {
  const size_t d = static_cast<size_t>(dim);
  const int64_t len = src.shape()[d];
  if (src.numel() == 0) return;
  Shape outer = src.shape();
  outer[d] = 1;
  const Tensor o = alias(outs, outer, outs.strides());
  const Tensor s = alias(src, outer, src.strides());
  const Tensor x = alias(idx, outer, idx.strides());
  const int64_t es = static_cast<int64_t>(element_size(src.dtype()));
  const int64_t out_bytes = out_dim_stride * es;
  const int64_t src_bytes = src.strides()[d] * es;
  const int64_t idx_bytes = idx.strides()[d] * static_cast<int64_t>(sizeof(int64_t));
  const int64_t grain = std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(len, 1));
  TANGENT_DISPATCH_ALL(src.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    cpu_loop<3>(
        outer, {&o, &s, &x},
        [=](std::array<char*, 3> p, std::array<int64_t, 3> st, int64_t n) {
          auto add = [&](int64_t i, int64_t j) {
            const int64_t k = *reinterpret_cast<const int64_t*>(p[2] + j * idx_bytes + i * st[2]);
            T* dst = reinterpret_cast<T*>(p[0] + i * st[0] + k * out_bytes);
            const T v = *reinterpret_cast<const T*>(p[1] + j * src_bytes + i * st[1]);
            if constexpr (std::is_same_v<T, bool>) {
              *dst = *dst || v;
            } else {
              *dst = T(static_cast<acc_t<T>>(*dst) + static_cast<acc_t<T>>(v));
            }
          };
          // Positions i write disjoint outputs, so either loop order gives the same sums (each output still adds
          // its sources in increasing j); the inner loop runs along the smaller source stride (max-pool's backward
          // scatters along its planes' rows: j inner; an embedding's backward along dim 0: i inner).
          if (std::abs(src_bytes) < std::abs(st[1])) {
            for (int64_t i = 0; i < n; ++i)
              for (int64_t j = 0; j < len; ++j) add(i, j);
          } else {
            for (int64_t j = 0; j < len; ++j)
              for (int64_t i = 0; i < n; ++i) add(i, j);
          }
        },
        grain);
  });
}

}  // namespace

void CpuBackend::index_select(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) {
  check_index(index, "index_select");
  TANGENT_CHECK(x.dtype() == out.dtype(), "index_select: out has dtype ", out.dtype(), " but x has ", x.dtype());
  const Tensor xs = alias(x, out.shape(), strides_without(x, dim));
  const Tensor idx = index_along(index, out.shape(), dim);
  const int64_t dim_bytes = x.strides()[static_cast<size_t>(dim)] * static_cast<int64_t>(element_size(x.dtype()));
  gather_loop(out, xs, idx, dim_bytes, "index_select");
}

void CpuBackend::index_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  check_index(index, "index_add");
  TANGENT_CHECK(src.dtype() == out.dtype(), "index_add: source has dtype ", src.dtype(), " but out has ", out.dtype());
  const Tensor outs = alias(out, src.shape(), strides_without(out, dim));
  const Tensor idx = index_along(index, src.shape(), dim);
  scatter_loop(outs, src, idx, dim, out.strides()[static_cast<size_t>(dim)], "index_add");
}

void CpuBackend::gather(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) {
  check_index(index, "gather");
  TANGENT_CHECK(x.dtype() == out.dtype(), "gather: out has dtype ", out.dtype(), " but x has ", x.dtype());
  const Tensor xs = alias(x, index.shape(), strides_without(x, dim));
  const int64_t dim_bytes = x.strides()[static_cast<size_t>(dim)] * static_cast<int64_t>(element_size(x.dtype()));
  gather_loop(out, xs, index, dim_bytes, "gather");
}

void CpuBackend::scatter_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  check_index(index, "scatter_add");
  TANGENT_CHECK(src.dtype() == out.dtype(), "scatter_add: src has dtype ", src.dtype(), " but out has ", out.dtype());
  TANGENT_CHECK(src.shape() == index.shape(), "scatter_add: src shape ", src.shape(), " must equal index shape ",
                index.shape());
  const Tensor outs = alias(out, src.shape(), strides_without(out, dim));
  scatter_loop(outs, src, index, dim, out.strides()[static_cast<size_t>(dim)], "scatter_add");
}

}  // namespace tangent::cpu
