// CPU reductions (sum, prod, max, min over any set of dims), arg max/min along a dim, and fused (log_)softmax.
//
// reduce() coalesces the input into "kept" dims (one per output element; `out` is contiguous over them) and
// "reduced" dims, then picks one of two loops:
// - inner (the innermost reduced dim is the closest in memory, e.g. a row sum): each output reduces runs with
//   several independent accumulators, explicit SIMD (vector extensions) when contiguous; floating sums and
//   products accumulate in double, so float32 sums of millions of elements stay accurate;
// - columns (the innermost kept dim is the closest, e.g. the bias gradient, a [B, N] tensor summed over B):
//   a tile of neighbouring outputs is updated row by row, vectorised across the tile.
// Either does the same arithmetic for any strides, so a strided copy reduces to bit-identical values (the op
// table checks this). Large reductions run in parallel over outputs, or,
// when there are few outputs, over fixed-size chunks of the reduction whose partials are merged in order, so
// the result does not depend on the number of threads.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>

#include "ops/cpu/cpu_backend.h"
#include "ops/cpu/loops.h"

namespace tangent::cpu {

namespace {

// ---------------------------------------------------------------------------------------------------------------
// Combining two partial results.

template <typename V>
constexpr bool is_float_v = std::is_floating_point_v<V>;

// c ? a : b for floating values, written with integer masks: GCC (with its default -ftrapping-math) will not
// if-convert a floating `?:` in a loop, which blocks vectorisation; this form vectorises to a blend.
template <typename V>
inline V select(bool c, V a, V b) {
  if constexpr (is_float_v<V>) {
    using I = std::conditional_t<sizeof(V) == 4, int32_t, int64_t>;
    I ia, ib;
    std::memcpy(&ia, &a, sizeof(V));
    std::memcpy(&ib, &b, sizeof(V));
    const I m = -static_cast<I>(c);
    const I r = (ia & m) | (ib & ~m);
    V out;
    std::memcpy(&out, &r, sizeof(V));
    return out;
  } else {
    return c ? a : b;
  }
}

template <ReduceOp op>
struct Combine {
  template <typename V>
  static V apply(V a, V b) {
    if constexpr (op == ReduceOp::Sum) {
      return static_cast<V>(a + b);
    } else if constexpr (op == ReduceOp::Prod) {
      return static_cast<V>(a * b);
    } else if constexpr (op == ReduceOp::Max) {
      if constexpr (is_float_v<V>)
        return select((b > a) | (b != b), b, a);  // NaN wins and then stays
      else
        return b > a ? b : a;
    } else {
      if constexpr (is_float_v<V>)
        return select((b < a) | (b != b), b, a);
      else
        return b < a ? b : a;
    }
  }
  template <typename V>
  static V identity() {
    if constexpr (op == ReduceOp::Sum)
      return V(0);
    else if constexpr (op == ReduceOp::Prod)
      return V(1);
    else if constexpr (is_float_v<V>)
      return op == ReduceOp::Max ? -std::numeric_limits<V>::infinity() : std::numeric_limits<V>::infinity();
    else
      return op == ReduceOp::Max ? std::numeric_limits<V>::lowest() : std::numeric_limits<V>::max();
  }
};

// Accumulator type A: Sum/Prod of floating types accumulate in double (float lanes drift measurably over
// millions of elements); Max/Min in the compute type (float for the 16-bit types); int64 in int64; bool (Max/Min
// only) in bool.
template <typename T, ReduceOp op>
struct Acc {
  static constexpr bool kFloat = std::is_floating_point_v<acc_t<T>>;
  static constexpr bool kWide = op == ReduceOp::Sum || op == ReduceOp::Prod;
  using A = std::conditional_t<kFloat && kWide, double, acc_t<T>>;
};

// ---------------------------------------------------------------------------------------------------------------
// Geometry.

struct ReduceGeometry {
  int nk = 0, nr = 0;  // kept and reduced dims after coalescing (each >= 1)
  int64_t ksize[Shape::kMaxDims] = {}, kstride[Shape::kMaxDims] = {};  // outermost first; x strides (elements)
  int64_t rsize[Shape::kMaxDims] = {}, rstride[Shape::kMaxDims] = {};  // sorted by decreasing stride
  int64_t n_out = 1, n_red = 1;
};

ReduceGeometry make_reduce_geometry(const Tensor& x, const Shape& dims) {
  ReduceGeometry g;
  bool reduced[Shape::kMaxDims] = {};
  for (int64_t d : dims) reduced[d] = true;
  const Shape& shape = x.shape();
  const Shape& strides = x.strides();
  // Kept dims in tensor order (out is row-major over them); merge neighbours whose strides chain.
  for (size_t d = 0; d < shape.size(); ++d) {
    if (reduced[d] || shape[d] == 1) continue;
    if (g.nk > 0 && g.kstride[g.nk - 1] == strides[d] * shape[d]) {
      g.ksize[g.nk - 1] *= shape[d];
      g.kstride[g.nk - 1] = strides[d];
    } else {
      g.ksize[g.nk] = shape[d];
      g.kstride[g.nk] = strides[d];
      ++g.nk;
    }
  }
  // Reduced dims: the order does not matter, so sort by decreasing stride and merge.
  int64_t rs[Shape::kMaxDims], rt[Shape::kMaxDims];
  int n = 0;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (!reduced[d] || shape[d] == 1) continue;
    rs[n] = shape[d];
    rt[n] = strides[d];
    ++n;
  }
  for (int i = 1; i < n; ++i)  // insertion sort, stable
    for (int j = i; j > 0 && rt[j - 1] < rt[j]; --j) {
      std::swap(rt[j - 1], rt[j]);
      std::swap(rs[j - 1], rs[j]);
    }
  for (int i = 0; i < n; ++i) {
    if (g.nr > 0 && g.rstride[g.nr - 1] == rt[i] * rs[i]) {
      g.rsize[g.nr - 1] *= rs[i];
      g.rstride[g.nr - 1] = rt[i];
    } else {
      g.rsize[g.nr] = rs[i];
      g.rstride[g.nr] = rt[i];
      ++g.nr;
    }
  }
  if (g.nk == 0) {
    g.ksize[0] = 1;
    g.kstride[0] = 0;
    g.nk = 1;
  }
  if (g.nr == 0) {
    g.rsize[0] = 1;
    g.rstride[0] = 0;
    g.nr = 1;
  }
  for (int i = 0; i < g.nk; ++i) g.n_out *= g.ksize[i];
  for (int i = 0; i < g.nr; ++i) g.n_red *= g.rsize[i];
  return g;
}

// Offset (in elements) of output `o` in x.
inline int64_t kept_offset(const ReduceGeometry& g, int64_t o) {
  int64_t off = 0;
  for (int d = g.nk - 1; d >= 0; --d) {
    off += (o % g.ksize[d]) * g.kstride[d];
    o /= g.ksize[d];
  }
  return off;
}

// Calls fn(offset, n) for each run of the flat reduced range [rb, re) along the innermost reduced dim (stride
// g.rstride[nr - 1]).
template <typename F>
void for_each_run(const ReduceGeometry& g, int64_t rb, int64_t re, const F& fn) {
  const int nd = g.nr;
  if (nd == 1) {
    fn(rb * g.rstride[0], re - rb);
    return;
  }
  int64_t idx[Shape::kMaxDims];
  int64_t rem = rb, off = 0;
  for (int d = nd - 1; d >= 0; --d) {
    idx[d] = rem % g.rsize[d];
    rem /= g.rsize[d];
    off += idx[d] * g.rstride[d];
  }
  const int64_t inner = g.rsize[nd - 1], is = g.rstride[nd - 1];
  int64_t pos = rb;
  while (pos < re) {
    const int64_t n = std::min(inner - idx[nd - 1], re - pos);
    fn(off, n);
    pos += n;
    idx[nd - 1] += n;
    off += n * is;
    for (int d = nd - 1; d > 0 && idx[d] == g.rsize[d]; --d) {
      off -= idx[d] * g.rstride[d];
      idx[d] = 0;
      ++idx[d - 1];
      off += g.rstride[d - 1];
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Kernels.

constexpr int64_t kLanes = 16;        // softmax: independent float accumulators of exp(x - max) ...
constexpr int64_t kLaneBlock = 1024;  // ... over blocks of this many elements, each folded into a double
// Column kernels keep one accumulator per column of a tile and read the tile's rows in turn. Wide tiles keep the
// reads long and sequential (narrow ones jump a page per row, which defeats the hardware prefetcher).
constexpr int64_t kTile = 1024;

// The tile width for `inner` columns in `outer` independent blocks: as wide as possible while still giving
// every thread work. (Each column's result does not depend on the tiling.)
int64_t column_tile(int64_t inner, int64_t outer) {
  const int64_t threads = get_num_threads();
  if (outer >= threads) return std::min(inner, kTile);
  const int64_t per_block = (threads + outer - 1) / outer;
  const int64_t w = ((inner + per_block - 1) / per_block + 15) / 16 * 16;
  return std::min(std::min(inner, kTile), std::max<int64_t>(w, 64));
}

// Explicit SIMD for contiguous float32/float64 runs, with GCC/Clang vector extensions (portable: they lower to
// whatever vector unit the target has). GCC does not vectorise the lane loops below on its own for Max/Min.
typedef float f32x4 __attribute__((vector_size(16)));
typedef float f32x8 __attribute__((vector_size(32)));
typedef double f64x4 __attribute__((vector_size(32)));

template <ReduceOp op, typename VA>
inline VA vapply(VA a, VA b) {
  if constexpr (op == ReduceOp::Sum)
    return a + b;
  else if constexpr (op == ReduceOp::Prod)
    return a * b;
  else if constexpr (op == ReduceOp::Max)
    return ((b > a) | (b != b)) ? b : a;
  else
    return ((b < a) | (b != b)) ? b : a;
}

template <typename VA, typename T>
inline VA vload(const T* p) {
  if constexpr (sizeof(VA) / sizeof(VA{}[0]) * sizeof(T) == sizeof(VA)) {
    VA v;
    std::memcpy(&v, p, sizeof(VA));
    return v;
  } else {  // 4 floats widened to 4 doubles
    f32x4 v;
    std::memcpy(&v, p, sizeof(v));
    return __builtin_convertvector(v, f64x4);
  }
}

// Every run is reduced in the same order whatever its stride, so that a strided copy of a tensor reduces to
// bit-identical values: 4 * K lanes (lane j takes elements j, j + 4K, j + 8K, ...), folded as
// ((lane k) op (lane K + k)) op ((lane 2K + k) op (lane 3K + k)) for k = 0 .. K - 1, then the tail in order.
// K is the vector width when the run has SIMD (float32/float64) and 4 otherwise.
template <typename T, typename A>
constexpr bool kHasSimd = (std::is_same_v<T, float> || std::is_same_v<T, double>)&&is_float_v<A>;
template <typename T, typename A>
constexpr int64_t kRunLanes = kHasSimd<T, A> ? int64_t{32} / static_cast<int64_t>(sizeof(A)) : 4;

// The contiguous SIMD version; returns how many elements it consumed (a multiple of 4K, at least 4K).
template <typename T, ReduceOp op, typename A>
int64_t simd_run(const T* p, int64_t n, A& acc) {
  if constexpr (kHasSimd<T, A>) {
    using VA = std::conditional_t<std::is_same_v<A, float>, f32x8, f64x4>;
    constexpr int64_t K = kRunLanes<T, A>;
    VA v0 = vload<VA>(p), v1 = vload<VA>(p + K), v2 = vload<VA>(p + 2 * K), v3 = vload<VA>(p + 3 * K);
    int64_t i = 4 * K;
    for (; i + 4 * K <= n; i += 4 * K) {
      v0 = vapply<op>(v0, vload<VA>(p + i));
      v1 = vapply<op>(v1, vload<VA>(p + i + K));
      v2 = vapply<op>(v2, vload<VA>(p + i + 2 * K));
      v3 = vapply<op>(v3, vload<VA>(p + i + 3 * K));
    }
    const VA v = vapply<op>(vapply<op>(v0, v1), vapply<op>(v2, v3));
    for (int64_t k = 0; k < K; ++k) acc = Combine<op>::apply(acc, static_cast<A>(v[k]));
    return i;
  } else {
    (void)p;
    (void)n;
    (void)acc;
    return 0;
  }
}

// The same arithmetic with scalar lanes, for any stride.
template <typename T, ReduceOp op, typename A>
int64_t lane_run(const T* p, int64_t n, int64_t stride, A& acc) {
  using C = Combine<op>;
  constexpr int64_t K = kRunLanes<T, A>;
  auto load = [&](int64_t i) { return static_cast<A>(static_cast<acc_t<T>>(p[i * stride])); };
  A l[4 * K];
  for (int64_t j = 0; j < 4 * K; ++j) l[j] = load(j);
  int64_t i = 4 * K;
  for (; i + 4 * K <= n; i += 4 * K)
    for (int64_t j = 0; j < 4 * K; ++j) l[j] = C::apply(l[j], load(i + j));
  for (int64_t k = 0; k < K; ++k)
    acc = C::apply(acc, C::apply(C::apply(l[k], l[K + k]), C::apply(l[2 * K + k], l[3 * K + k])));
  return i;
}

// Reduces n elements at p with the given stride into acc.
template <typename T, ReduceOp op>
typename Acc<T, op>::A reduce_run(const T* p, int64_t n, int64_t stride, typename Acc<T, op>::A acc) {
  using A = typename Acc<T, op>::A;
  using C = Combine<op>;
  int64_t i = 0;
  if (n >= 4 * kRunLanes<T, A>)
    i = kHasSimd<T, A> && stride == 1 ? simd_run<T, op>(p, n, acc) : lane_run<T, op>(p, n, stride, acc);
  for (; i < n; ++i) acc = C::apply(acc, static_cast<A>(static_cast<acc_t<T>>(p[i * stride])));
  return acc;
}

// acc[j] = acc[j] (op) row[j * stride] for j < w: the column kernel's step (vectorised when stride is 1).
template <typename T, ReduceOp op>
inline void combine_row(typename Acc<T, op>::A* __restrict acc, const T* __restrict row, int64_t w, int64_t stride) {
  using A = typename Acc<T, op>::A;
  if (stride == 1) {
    for (int64_t j = 0; j < w; ++j) acc[j] = Combine<op>::apply(acc[j], static_cast<A>(static_cast<acc_t<T>>(row[j])));
  } else {
    for (int64_t j = 0; j < w; ++j)
      acc[j] = Combine<op>::apply(acc[j], static_cast<A>(static_cast<acc_t<T>>(row[j * stride])));
  }
}

// Outputs [ob, oe) over the reduced range [rb, re), merged into dst[0 .. oe - ob).
template <typename T, ReduceOp op>
void reduce_block(const T* x, const ReduceGeometry& g, bool columns, int64_t ob, int64_t oe, int64_t rb, int64_t re,
                  typename Acc<T, op>::A* dst) {
  using A = typename Acc<T, op>::A;
  using C = Combine<op>;
  const int64_t rs = g.rstride[g.nr - 1];
  if (!columns) {
    for (int64_t o = ob; o < oe; ++o) {
      const T* base = x + kept_offset(g, o);
      A acc = dst[o - ob];
      for_each_run(g, rb, re, [&](int64_t off, int64_t n) { acc = reduce_run<T, op>(base + off, n, rs, acc); });
      dst[o - ob] = acc;
    }
    return;
  }
  // Column kernel: the innermost kept dim is contiguous; walk it in tiles.
  const int64_t K = g.ksize[g.nk - 1], ks = g.kstride[g.nk - 1];
  int64_t o = ob;
  while (o < oe) {
    const int64_t col = o % K;
    const int64_t seg_end = std::min(oe, o - col + K);
    const T* base = x + kept_offset(g, o - col);
    for (int64_t c0 = col; c0 < col + (seg_end - o); c0 += kTile) {
      const int64_t w = std::min(kTile, col + (seg_end - o) - c0);
      A tile[kTile];
      for (int64_t j = 0; j < w; ++j) tile[j] = C::template identity<A>();
      for_each_run(g, rb, re, [&](int64_t off, int64_t n) {
        for (int64_t k = 0; k < n; ++k) combine_row<T, op>(tile, base + off + k * rs + c0 * ks, w, ks);
      });
      A* d = dst + (o - ob) + (c0 - col);
      for (int64_t j = 0; j < w; ++j) d[j] = C::apply(d[j], tile[j]);
    }
    o = seg_end;
  }
}

template <typename T, ReduceOp op>
void reduce_typed(const Tensor& xt, const ReduceGeometry& g, const Tensor& out) {
  using A = typename Acc<T, op>::A;
  using C = Combine<op>;
  const T* x = static_cast<const T*>(xt.raw_data());
  T* y = static_cast<T*>(out.raw_data());
  const int64_t n_out = g.n_out, n_red = g.n_red;
  // Column order when the innermost kept dim is closer in memory than the innermost reduced dim. Decided by
  // the stride order, not by stride == 1, so that a strided copy gets the same arithmetic (bit-identical).
  const bool columns = g.ksize[g.nk - 1] > 1 && g.kstride[g.nk - 1] < g.rstride[g.nr - 1];
  // Few outputs and a long reduction: split the reduction into fixed chunks (independent of the thread count).
  const int64_t chunk = std::max<int64_t>(16384, (n_red + 255) / 256);
  const int64_t nchunks = (n_red + chunk - 1) / chunk;
  if (n_out < 64 && nchunks > 1) {
    std::unique_ptr<A[]> partial(new A[static_cast<size_t>(nchunks * n_out)]);  // not vector: A may be bool
    std::fill(partial.get(), partial.get() + nchunks * n_out, C::template identity<A>());
    parallel_for(nchunks, 1, [&](int64_t b, int64_t e) {
      for (int64_t c = b; c < e; ++c)
        reduce_block<T, op>(x, g, columns, 0, n_out, c * chunk, std::min(n_red, (c + 1) * chunk),
                            partial.get() + c * n_out);
    });
    for (int64_t o = 0; o < n_out; ++o) {
      A acc = partial[static_cast<size_t>(o)];
      for (int64_t c = 1; c < nchunks; ++c) acc = C::apply(acc, partial[static_cast<size_t>(c * n_out + o)]);
      y[o] = static_cast<T>(static_cast<acc_t<T>>(acc));
    }
    return;
  }
  const int64_t grain = std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(n_red, 1));
  parallel_for(n_out, grain, [&](int64_t b, int64_t e) {
    constexpr int64_t kStep = 1024;  // bounded scratch per call, on the stack
    A acc[kStep];
    for (int64_t s = b; s < e; s += kStep) {
      const int64_t se = std::min(e, s + kStep);
      for (int64_t i = 0; i < se - s; ++i) acc[i] = C::template identity<A>();
      reduce_block<T, op>(x, g, columns, s, se, 0, n_red, acc);
      for (int64_t i = 0; i < se - s; ++i) y[s + i] = static_cast<T>(static_cast<acc_t<T>>(acc[i]));
    }
  });
}

const char* reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum:
      return "sum";
    case ReduceOp::Prod:
      return "prod";
    case ReduceOp::Max:
      return "max";
    case ReduceOp::Min:
      return "min";
  }
  return "reduce";
}

// x viewed as [outer, n, inner] around `dim`, made contiguous first when it is not.
struct Around {
  Tensor x;
  int64_t outer = 1, n = 1, inner = 1;
};

Around around_dim(CpuBackend& be, const Tensor& x, int64_t dim) {
  Around a;
  a.x = x;
  if (!x.is_contiguous()) {
    a.x = empty(x.shape(), TensorOptions(x.dtype()).device(x.device()));
    be.copy(x, a.x);
  }
  for (int64_t d = 0; d < x.dim(); ++d) {
    const int64_t s = x.shape()[static_cast<size_t>(d)];
    if (d < dim)
      a.outer *= s;
    else if (d == dim)
      a.n = s;
    else
      a.inner *= s;
  }
  return a;
}

template <typename V>
inline bool is_nan(V v) {
  if constexpr (std::is_floating_point_v<V>)
    return v != v;
  else
    return false;
}

template <typename T>
void arg_reduce_typed(bool is_max, const Around& a, T* values, int64_t* indices) {
  using V = acc_t<T>;
  const T* x = static_cast<const T*>(a.x.raw_data());
  const int64_t n = a.n, inner = a.inner;
  // v beats the current best (NaN beats everything, and nothing beats a NaN; ties keep the first).
  auto better = [is_max](V v, V best) {
    if (is_nan(best)) return false;
    return is_nan(v) || (is_max ? v > best : v < best);
  };
  if (inner == 1) {
    const int64_t grain = std::max<int64_t>(1, kParallelGrain / n);
    parallel_for(a.outer, grain, [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        const T* p = x + o * n;
        V best = static_cast<V>(p[0]);
        int64_t bi = 0;
        for (int64_t i = 1; i < n && !is_nan(best); ++i) {
          const V v = static_cast<V>(p[i]);
          if (better(v, best)) {
            best = v;
            bi = i;
          }
        }
        values[o] = static_cast<T>(best);
        indices[o] = bi;
      }
    });
    return;
  }
  const int64_t tw = column_tile(inner, a.outer);
  const int64_t tiles = (inner + tw - 1) / tw;
  const int64_t grain = std::max<int64_t>(1, kParallelGrain / (n * tw));
  parallel_for(a.outer * tiles, grain, [&](int64_t b, int64_t e) {
    V best[kTile];
    int64_t bi[kTile];
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / tiles, c0 = (t % tiles) * tw, w = std::min(tw, inner - c0);
      const T* p = x + o * n * inner + c0;
      for (int64_t j = 0; j < w; ++j) {
        best[j] = static_cast<V>(p[j]);
        bi[j] = 0;
      }
      for (int64_t i = 1; i < n; ++i) {
        const T* row = p + i * inner;
        for (int64_t j = 0; j < w; ++j) {
          const V v = static_cast<V>(row[j]);
          if (better(v, best[j])) {
            best[j] = v;
            bi[j] = i;
          }
        }
      }
      for (int64_t j = 0; j < w; ++j) {
        values[o * inner + c0 + j] = static_cast<T>(best[j]);
        indices[o * inner + c0 + j] = bi[j];
      }
    }
  });
}

// exp(x) for x <= 0 (or NaN) in float, written to vectorise (integer-mask selects, no calls): Cody-Waite
// reduction to r in [-ln2/2, ln2/2] with n rounded by the 1.5 * 2^23 trick, and a degree-7 Taylor polynomial
// (relative error about 1e-7); results below the normal range flush to 0.
inline float exp_nonpositive(float x) {
  const float kLog2e = 1.44269504088896341f, kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
  const float kRound = 12582912.0f;          // 1.5 * 2^23
  float xc = select(x > -87.0f, x, -87.0f);  // NaN becomes -87 here ...
  xc = select(xc < 0.0f, xc, 0.0f);
  const float t = xc * kLog2e + kRound;  // the nearest integer n to x / ln2 sits in t's low mantissa bits
  const float n = t - kRound;
  int32_t ti;
  std::memcpy(&ti, &t, sizeof(ti));
  const float r = (xc - n * kLn2Hi) - n * kLn2Lo;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = (ti - 0x4B400000 + 127) * (1 << 23);  // 2^n
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  const float flushed = select(x < -87.0f, 0.0f, p * scale);
  return select(x != x, x, flushed);  // ... and comes back here
}
inline double exp_nonpositive(double x) { return std::exp(x); }

// Softmax over one contiguous row of n elements.
template <typename T>
void softmax_row(const T* x, T* y, int64_t n, bool log) {
  using V = acc_t<T>;
  const V m = reduce_run<T, ReduceOp::Max>(x, n, 1, Combine<ReduceOp::Max>::identity<V>());
  // Sum of exp(x - max) in lanes, folded into a double.
  double total = 0.0;
  int64_t i = 0;
  while (n - i >= kLanes) {
    V s[kLanes] = {};
    const int64_t end = i + std::min<int64_t>(kLaneBlock, (n - i) / kLanes * kLanes);
    for (; i < end; i += kLanes)
      for (int64_t j = 0; j < kLanes; ++j) s[j] += exp_nonpositive(static_cast<V>(x[i + j]) - m);
    for (int64_t j = 0; j < kLanes; ++j) total += s[j];
  }
  for (; i < n; ++i) total += exp_nonpositive(static_cast<V>(x[i]) - m);
  if (log) {
    const V shift = static_cast<V>(m + static_cast<V>(std::log(total)));
    for (i = 0; i < n; ++i) y[i] = static_cast<T>(static_cast<V>(x[i]) - shift);
  } else {
    const V inv = static_cast<V>(1.0 / total);
    for (i = 0; i < n; ++i) y[i] = static_cast<T>(exp_nonpositive(static_cast<V>(x[i]) - m) * inv);
  }
}

// Softmax along the middle dim of a contiguous [n, inner] block, for columns [c0, c0 + w).
template <typename T>
void softmax_columns(const T* x, T* y, int64_t n, int64_t inner, int64_t c0, int64_t w, bool log) {
  using V = acc_t<T>;
  using C = Combine<ReduceOp::Max>;
  V m[kTile];
  double s[kTile];
  for (int64_t j = 0; j < w; ++j) {
    m[j] = C::identity<V>();
    s[j] = 0.0;
  }
  for (int64_t i = 0; i < n; ++i) {
    const T* row = x + i * inner + c0;
    for (int64_t j = 0; j < w; ++j) m[j] = C::apply(m[j], static_cast<V>(row[j]));
  }
  for (int64_t i = 0; i < n; ++i) {
    const T* row = x + i * inner + c0;
    for (int64_t j = 0; j < w; ++j) s[j] += exp_nonpositive(static_cast<V>(row[j]) - m[j]);
  }
  for (int64_t j = 0; j < w; ++j) s[j] = log ? static_cast<double>(m[j]) + std::log(s[j]) : 1.0 / s[j];
  for (int64_t i = 0; i < n; ++i) {
    const T* row = x + i * inner + c0;
    T* orow = y + i * inner + c0;
    if (log) {
      for (int64_t j = 0; j < w; ++j) orow[j] = static_cast<T>(static_cast<V>(row[j]) - static_cast<V>(s[j]));
    } else {
      for (int64_t j = 0; j < w; ++j)
        orow[j] = static_cast<T>(exp_nonpositive(static_cast<V>(row[j]) - m[j]) * static_cast<V>(s[j]));
    }
  }
}

}  // namespace

void CpuBackend::reduce(ReduceOp op, const Tensor& x, const Shape& dims, const Tensor& out) {
  const char* name = reduce_op_name(op);
  TANGENT_CHECK(out.is_contiguous(), name, ": the output must be contiguous, got strides ", out.strides());
  for (size_t i = 0; i < dims.size(); ++i)
    TANGENT_CHECK(dims[i] >= 0 && dims[i] < x.dim() && (i == 0 || dims[i] > dims[i - 1]), name,
                  ": dims must be sorted, unique and in range, got ", dims, " for shape ", x.shape());
  const ReduceGeometry g = make_reduce_geometry(x, dims);
  if (out.numel() == 0) return;
  if (x.numel() == 0) {  // empty reduction
    TANGENT_CHECK(op == ReduceOp::Sum || op == ReduceOp::Prod, name, ": cannot reduce over a zero-size dimension",
                  " (input shape ", x.shape(), ", dims ", dims, ")");
    fill(out, op == ReduceOp::Sum ? Scalar(0) : Scalar(1));
    return;
  }
  TANGENT_DISPATCH_ALL(x.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      TANGENT_CHECK(op == ReduceOp::Max || op == ReduceOp::Min, name, ": not supported for bool tensors (shape ",
                    x.shape(), "); cast to int64 first");
      if (op == ReduceOp::Max)
        reduce_typed<bool, ReduceOp::Max>(x, g, out);
      else
        reduce_typed<bool, ReduceOp::Min>(x, g, out);
    } else {
      switch (op) {
        case ReduceOp::Sum:
          return reduce_typed<T, ReduceOp::Sum>(x, g, out);
        case ReduceOp::Prod:
          return reduce_typed<T, ReduceOp::Prod>(x, g, out);
        case ReduceOp::Max:
          return reduce_typed<T, ReduceOp::Max>(x, g, out);
        case ReduceOp::Min:
          return reduce_typed<T, ReduceOp::Min>(x, g, out);
      }
    }
  });
}

void CpuBackend::arg_reduce(ReduceOp op, const Tensor& x, int64_t dim, const Tensor& values, const Tensor& indices) {
  const char* name = op == ReduceOp::Max ? "argmax" : "argmin";
  TANGENT_CHECK(op == ReduceOp::Max || op == ReduceOp::Min, "arg_reduce: only Max and Min are supported");
  TANGENT_CHECK(x.dim() == 0 || (dim >= 0 && dim < x.dim()), name, ": dim ", dim, " out of range for shape ",
                x.shape());
  TANGENT_CHECK(
      indices.dtype() == kInt64 && values.dtype() == x.dtype() && values.is_contiguous() && indices.is_contiguous(),
      name, ": expected contiguous values of dtype ", x.dtype(), " and int64 indices");
  if (values.numel() == 0) return;
  const Around a = around_dim(*this, x, x.dim() == 0 ? 0 : dim);
  TANGENT_CHECK(a.n > 0, name, ": cannot reduce over a zero-size dimension (input shape ", x.shape(), ", dim ", dim,
                ")");
  TANGENT_DISPATCH_ALL(x.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    arg_reduce_typed<T>(op == ReduceOp::Max, a, static_cast<T*>(values.raw_data()),
                        static_cast<int64_t*>(indices.raw_data()));
  });
}

void CpuBackend::softmax(const Tensor& x, int64_t dim, bool log, const Tensor& out) {
  const char* name = log ? "log_softmax" : "softmax";
  TANGENT_CHECK(out.is_contiguous() && out.shape() == x.shape() && out.dtype() == x.dtype(), name,
                ": out must be contiguous with the input's shape and dtype");
  if (x.numel() == 0) return;
  const Around a = around_dim(*this, x, x.dim() == 0 ? 0 : dim);
  TANGENT_DISPATCH_FLOATING(x.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    const T* xp = static_cast<const T*>(a.x.raw_data());
    T* yp = static_cast<T*>(out.raw_data());
    const int64_t n = a.n, inner = a.inner;
    if (inner == 1) {
      parallel_for(a.outer, std::max<int64_t>(1, kParallelGrain / (4 * n)), [&](int64_t b, int64_t e) {
        for (int64_t o = b; o < e; ++o) softmax_row<T>(xp + o * n, yp + o * n, n, log);
      });
      return;
    }
    const int64_t tw = column_tile(inner, a.outer);
    const int64_t tiles = (inner + tw - 1) / tw;
    const int64_t grain = std::max<int64_t>(1, kParallelGrain / (4 * n * tw));
    parallel_for(a.outer * tiles, grain, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const int64_t o = t / tiles, c0 = (t % tiles) * tw;
        softmax_columns<T>(xp + o * n * inner, yp + o * n * inner, n, inner, c0, std::min(tw, inner - c0), log);
      }
    });
  });
}

}  // namespace tangent::cpu
