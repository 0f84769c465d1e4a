// Fused CPU attention (softmax and sigmoid), FlashAttention-2 scheme, float32 and float64.
//
// Forward, per (batch, head, query tile), over key tiles: S = scale * Q K^T (+ bias for sigmoid), masked entries
// -inf; softmax keeps the running row max m and sum l and rescales the output rows (online softmax), sigmoid just
// accumulates sigmoid(S) V. The output rows in `out` are the accumulator; the row LSE = m + log l is saved for
// backward (+inf and O = 0 on rows with no allowed key). Causal key tiles entirely after the query tile are
// skipped; a tile that crosses the diagonal runs in slices of rows, each against only the keys it can see, and
// only such tiles (and padded keys) are masked.
//
// Backward, per (batch, kv head, key tile): for every query head of the group and every query tile that sees the
// key tile, P is recomputed (softmax: exp(S - LSE); sigmoid: sigmoid(S)), then dV += P^T dO, dP = dO V^T,
// dS = P (dP - Delta) with Delta = rowsum(dO * O) (softmax) or P (1 - P) dP (sigmoid), dQ += scale dS K and
// dK += scale dS^T Q. dK and dV of a key tile belong to one work item; dQ rows are shared between key tiles, so
// every thread but the first accumulates dQ into its own buffer, summed at the end.
//
// Extra memory: per thread two tiles of scores; Delta [B, H, Lq]; in backward one dQ-sized buffer per extra
// thread. Never Lq x Lk. Tile GEMMs run on oneDNN's dnnl_sgemm (float32) or the loops below (float64).
#include <dnnl.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/parallel.h"
#include "ops/cpu/cpu_backend.h"

namespace tangent::cpu {

namespace {

// Tile sizes (rows of Q by rows of K), chosen by measurement (tools/bench/bench_attention.cpp): a tile of scores
// and the operand tiles stay in L2 at D = 64..128.
constexpr int64_t kFwdBlockQ = 128;
constexpr int64_t kFwdBlockK = 128;
constexpr int64_t kBwdBlockQ = 128;
constexpr int64_t kBwdBlockK = 128;
// Tiles that cross the causal diagonal run in slices of this many rows, each against only the keys it sees.
constexpr int64_t kDiagRows = 32;

// ---- tile GEMM: C[M, N] = alpha * op(A) op(B) + beta * C, row-major, op = transpose when t* is true ----

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc) {
  const dnnl_status_t st = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  TANGENT_CHECK(st == dnnl_success, "attention: dnnl_sgemm failed with status ", static_cast<int>(st));
}

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
          const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  for (int64_t m = 0; m < M; ++m) {
    double* c = C + m * ldc;
    if (beta == 0.0) {
      std::fill(c, c + N, 0.0);
    } else if (beta != 1.0) {
      for (int64_t n = 0; n < N; ++n) c[n] *= beta;
    }
    for (int64_t k = 0; k < K; ++k) {
      const double a = alpha * (ta ? A[k * lda + m] : A[m * lda + k]);
      if (a == 0.0) continue;
      if (tb) {
        for (int64_t n = 0; n < N; ++n) c[n] += a * B[n * ldb + k];
      } else {
        const double* b = B + k * ldb;
        for (int64_t n = 0; n < N; ++n) c[n] += a * b[n];
      }
    }
  }
}

// ---- row kernels: exact exp for float64, a vectorised exp (Cephes polynomial, ~2 ulp) for float32 ----

template <typename T>
T row_max(const T* x, int64_t n) {
  T m = -std::numeric_limits<T>::infinity();
  for (int64_t i = 0; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

// x = exp(x - shift); returns the sum. exp(-inf) = 0.
template <typename T>
T exp_shift_sum(T* x, int64_t n, T shift) {
  T s = 0;
  for (int64_t i = 0; i < n; ++i) s += (x[i] = std::exp(x[i] - shift));
  return s;
}

// x = sigmoid(x + bias); sigmoid(-inf) = 0.
template <typename T>
void sigmoid_bias(T* x, int64_t n, T bias) {
  for (int64_t i = 0; i < n; ++i) x[i] = T(1) / (T(1) + std::exp(-(x[i] + bias)));
}

#if defined(__AVX2__) && defined(__FMA__)

inline __m256 exp256(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.3762626647949f), lo = _mm256_set1_ps(-87.3365447504019f);
  const __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
  const __m256 fx = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
  y = _mm256_mul_ps(y, _mm256_castsi256_ps(e));
  y = _mm256_andnot_ps(_mm256_cmp_ps(x, lo, _CMP_LT_OQ), y);  // below the range (and -inf): exactly 0
  return _mm256_blendv_ps(y, _mm256_set1_ps(std::numeric_limits<float>::infinity()), _mm256_cmp_ps(x, hi, _CMP_GT_OQ));
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// The same value as exp256 for one float (the tails of the rows), so results do not depend on the position.
inline float exp1(float x) {
  alignas(32) float buf[8] = {x, 0, 0, 0, 0, 0, 0, 0};
  _mm256_store_ps(buf, exp256(_mm256_load_ps(buf)));
  return buf[0];
}

template <>
float row_max<float>(const float* x, int64_t n) {
  __m256 m = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(x + i));
  float r = hmax(m);
  for (; i < n; ++i) r = x[i] > r ? x[i] : r;
  return r;
}

template <>
float exp_shift_sum<float>(float* x, int64_t n, float shift) {
  const __m256 sh = _mm256_set1_ps(shift);
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), sh));
    _mm256_storeu_ps(x + i, e);
    acc = _mm256_add_ps(acc, e);
  }
  float s = hsum(acc);
  for (; i < n; ++i) s += (x[i] = exp1(x[i] - shift));
  return s;
}

template <>
void sigmoid_bias<float>(float* x, int64_t n, float bias) {
  // 1 / (1 + e) by a reciprocal estimate and one Newton step (about 1 ulp short of a division, much cheaper). e is
  // kept finite (exp of at most 88), so 1 + e stays finite and rcp gives exactly 0 where sigmoid underflows.
  const __m256 nb = _mm256_set1_ps(-bias), one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f);
  const __m256 cap = _mm256_set1_ps(88.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 d = _mm256_add_ps(one, exp256(_mm256_min_ps(_mm256_sub_ps(nb, _mm256_loadu_ps(x + i)), cap)));
    const __m256 r = _mm256_rcp_ps(d);
    _mm256_storeu_ps(x + i, _mm256_mul_ps(r, _mm256_fnmadd_ps(d, r, two)));
  }
  for (; i < n; ++i) x[i] = 1.0f / (1.0f + exp1(-bias - x[i]));
}

#endif

// ---- geometry shared by forward and backward ----

template <typename T>
struct Geometry {
  int64_t B, H, Hkv, group, Lq, Lk, D;
  const bool* pad;  // [B, Lk] or null
  bool causal, sigmoid;
  T scale, bias;
};

template <typename T>
Geometry<T> geometry(const Tensor& q, const Tensor& k, const Tensor* pad, const AttentionParams& p) {
  Geometry<T> g;
  g.B = q.size(0);
  g.H = q.size(1);
  g.Hkv = k.size(1);
  g.group = g.H / g.Hkv;
  g.Lq = q.size(2);
  g.Lk = k.size(2);
  g.D = q.size(3);
  g.pad = pad ? pad->data_ptr<bool>() : nullptr;
  g.causal = p.causal;
  g.sigmoid = p.sigmoid;
  g.scale = static_cast<T>(p.scale);
  g.bias = static_cast<T>(p.bias);
  return g;
}

// Sets the masked entries of the score tile S [rows, cols] (leading dim ld) for queries i0.. and keys j0.. to -inf.
template <typename T>
void apply_mask(const Geometry<T>& g, const bool* pad_row, int64_t i0, int64_t rows, int64_t j0, int64_t cols, T* S,
                int64_t ld) {
  const T ninf = -std::numeric_limits<T>::infinity();
  if (g.causal && j0 + cols - 1 > i0) {  // the tile crosses the diagonal
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t c0 = std::max<int64_t>(i0 + r - j0 + 1, 0);
      for (int64_t c = c0; c < cols; ++c) S[r * ld + c] = ninf;
    }
  }
  if (pad_row) {
    for (int64_t c = 0; c < cols; ++c)
      if (pad_row[j0 + c])
        for (int64_t r = 0; r < rows; ++r) S[r * ld + c] = ninf;
  }
}

// Keys [0, end) are seen by some query of the tile starting at i0 with `rows` rows.
template <typename T>
int64_t key_end(const Geometry<T>& g, int64_t i0, int64_t rows) {
  return g.causal ? std::min(g.Lk, i0 + rows) : g.Lk;
}

template <typename T>
void forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor* pad, const AttentionParams& p,
             const Tensor& out, const Tensor& lse) {
  const Geometry<T> g = geometry<T>(q, k, pad, p);
  const T* Q = q.data_ptr<T>();
  const T* K = k.data_ptr<T>();
  const T* V = v.data_ptr<T>();
  T* O = out.data_ptr<T>();
  T* L = g.sigmoid ? nullptr : lse.data_ptr<T>();
  const int64_t D = g.D, nqt = (g.Lq + kFwdBlockQ - 1) / kFwdBlockQ;
  const T inf = std::numeric_limits<T>::infinity();
  parallel_for(g.B * g.H * nqt, 1, [&](int64_t begin, int64_t end) {
    std::vector<T> S(static_cast<size_t>(kFwdBlockQ * kFwdBlockK)), m(kFwdBlockQ), l(kFwdBlockQ);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t bh = item / nqt, b = bh / g.H, h = bh % g.H;
      const int64_t i0 = (item % nqt) * kFwdBlockQ, rows = std::min(kFwdBlockQ, g.Lq - i0);
      const T* q_tile = Q + (bh * g.Lq + i0) * D;
      const int64_t kv = (b * g.Hkv + h / g.group) * g.Lk * D;
      T* o_tile = O + (bh * g.Lq + i0) * D;
      const bool* pad_row = g.pad ? g.pad + b * g.Lk : nullptr;
      std::fill(o_tile, o_tile + rows * D, T(0));
      std::fill(m.begin(), m.end(), -inf);
      std::fill(l.begin(), l.end(), T(0));
      // Rows [r0, r0 + rs) of the tile against keys [j0, j0 + kc).
      const auto block = [&](int64_t r0, int64_t rs, int64_t j0, int64_t kc) {
        T* St = S.data() + r0 * kFwdBlockK;
        gemm(false, true, rs, kc, D, g.scale, q_tile + r0 * D, D, K + kv + j0 * D, D, T(0), St, kFwdBlockK);
        apply_mask(g, pad_row, i0 + r0, rs, j0, kc, St, kFwdBlockK);
        for (int64_t r = r0; r < r0 + rs; ++r) {
          T* s = S.data() + r * kFwdBlockK;
          if (g.sigmoid) {
            sigmoid_bias(s, kc, g.bias);
            continue;
          }
          const T m_new = std::max(m[r], row_max(s, kc));
          if (m_new == -inf) {  // every key so far masked
            std::fill(s, s + kc, T(0));
            continue;
          }
          const T alpha = std::exp(m[r] - m_new);  // 0 when m was -inf
          l[r] = l[r] * alpha + exp_shift_sum(s, kc, m_new);
          m[r] = m_new;
          if (alpha != T(1)) {
            T* o = o_tile + r * D;
            for (int64_t d = 0; d < D; ++d) o[d] *= alpha;
          }
        }
        gemm(false, false, rs, D, kc, T(1), St, kFwdBlockK, V + kv + j0 * D, D, T(1), o_tile + r0 * D, D);
      };
      const int64_t kend = key_end(g, i0, rows);
      for (int64_t j0 = 0; j0 < kend; j0 += kFwdBlockK) {
        const int64_t cols = std::min(kFwdBlockK, kend - j0);
        if (!g.causal || i0 >= j0 + cols - 1) {
          block(0, rows, j0, cols);
          continue;
        }
        for (int64_t r0 = 0; r0 < rows; r0 += kDiagRows) {  // crosses the diagonal: see the backward
          const int64_t rs = std::min(kDiagRows, rows - r0);
          const int64_t kc = std::min(cols, i0 + r0 + rs - j0);
          if (kc > 0) block(r0, rs, j0, kc);
        }
      }
      if (g.sigmoid) continue;
      for (int64_t r = 0; r < rows; ++r) {
        T* o = o_tile + r * D;
        if (l[r] == T(0)) {  // no allowed key: O = 0, LSE = +inf (so backward recomputes P = 0)
          std::fill(o, o + D, T(0));
          L[bh * g.Lq + i0 + r] = inf;
          continue;
        }
        const T inv = T(1) / l[r];
        for (int64_t d = 0; d < D; ++d) o[d] *= inv;
        L[bh * g.Lq + i0 + r] = m[r] + std::log(l[r]);
      }
    }
  });
}

template <typename T>
void backward(const Tensor& grad_out, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
              const Tensor& lse, const Tensor* pad, const AttentionParams& p, const Tensor& grad_q,
              const Tensor& grad_k, const Tensor& grad_v) {
  const Geometry<T> g = geometry<T>(q, k, pad, p);
  const T* Q = q.data_ptr<T>();
  const T* K = k.data_ptr<T>();
  const T* V = v.data_ptr<T>();
  const T* dO = grad_out.data_ptr<T>();
  const T* L = g.sigmoid ? nullptr : lse.data_ptr<T>();
  T* dQ = grad_q.data_ptr<T>();
  T* dK = grad_k.data_ptr<T>();
  T* dV = grad_v.data_ptr<T>();
  const int64_t D = g.D, nq = g.B * g.H * g.Lq;

  // Delta = rowsum(dO * O) (softmax only).
  std::vector<T> delta;
  if (!g.sigmoid) {
    delta.resize(static_cast<size_t>(nq));
    const T* O = out.data_ptr<T>();
    parallel_for(nq, 256, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        T s = 0;
        for (int64_t d = 0; d < D; ++d) s += dO[i * D + d] * O[i * D + d];
        delta[static_cast<size_t>(i)] = s;
      }
    });
  }
  std::fill(dQ, dQ + nq * D, T(0));
  const int nthreads = std::max(get_num_threads(), 1);
  std::vector<std::vector<T>> dq_extra(static_cast<size_t>(nthreads - 1));

  const int64_t nkt = (g.Lk + kBwdBlockK - 1) / kBwdBlockK;
  const bool nested = detail::in_parallel_region();  // then parallel_for runs on this thread alone
  parallel_for(g.B * g.Hkv * nkt, 1, [&](int64_t begin, int64_t end) {
    const int tid = !nested && detail::in_parallel_region() ? detail::omp_thread_num() : 0;
    T* dq_acc = dQ;
    if (tid > 0) {
      TANGENT_CHECK(tid < nthreads, "attention_backward: thread ", tid, " of ", nthreads);
      std::vector<T>& buf = dq_extra[static_cast<size_t>(tid - 1)];
      buf.assign(static_cast<size_t>(nq * D), T(0));
      dq_acc = buf.data();
    }
    std::vector<T> P(static_cast<size_t>(kBwdBlockQ * kBwdBlockK)), dS(static_cast<size_t>(kBwdBlockQ * kBwdBlockK));
    for (int64_t item = begin; item < end; ++item) {
      const int64_t bk = item / nkt, b = bk / g.Hkv, hk = bk % g.Hkv;
      const int64_t j0 = (item % nkt) * kBwdBlockK, cols = std::min(kBwdBlockK, g.Lk - j0);
      const T* k_tile = K + (bk * g.Lk + j0) * D;
      const T* v_tile = V + (bk * g.Lk + j0) * D;
      T* dk_tile = dK + (bk * g.Lk + j0) * D;
      T* dv_tile = dV + (bk * g.Lk + j0) * D;
      std::fill(dk_tile, dk_tile + cols * D, T(0));
      std::fill(dv_tile, dv_tile + cols * D, T(0));
      const bool* pad_row = g.pad ? g.pad + b * g.Lk : nullptr;
      // Causal: the first query that sees key j0 is j0.
      const int64_t i_start = g.causal ? (j0 / kBwdBlockQ) * kBwdBlockQ : 0;
      for (int64_t h = hk * g.group; h < (hk + 1) * g.group; ++h) {
        const int64_t bh = b * g.H + h;
        // Query rows [i0, i0 + rows) against the first kc keys of the tile.
        const auto block = [&](int64_t i0, int64_t rows, int64_t kc) {
          const T* q_tile = Q + (bh * g.Lq + i0) * D;
          const T* do_tile = dO + (bh * g.Lq + i0) * D;
          gemm(false, true, rows, kc, D, g.scale, q_tile, D, k_tile, D, T(0), P.data(), kBwdBlockK);
          apply_mask(g, pad_row, i0, rows, j0, kc, P.data(), kBwdBlockK);
          for (int64_t r = 0; r < rows; ++r) {
            T* pr = P.data() + r * kBwdBlockK;
            if (g.sigmoid) {
              sigmoid_bias(pr, kc, g.bias);
            } else {
              exp_shift_sum(pr, kc, L[bh * g.Lq + i0 + r]);
            }
          }
          // dV += P^T dO
          gemm(true, false, kc, D, rows, T(1), P.data(), kBwdBlockK, do_tile, D, T(1), dv_tile, D);
          // dP = dO V^T, then dS in place
          gemm(false, true, rows, kc, D, T(1), do_tile, D, v_tile, D, T(0), dS.data(), kBwdBlockK);
          for (int64_t r = 0; r < rows; ++r) {
            const T* pr = P.data() + r * kBwdBlockK;
            T* ds = dS.data() + r * kBwdBlockK;
            if (g.sigmoid) {
              for (int64_t c = 0; c < kc; ++c) ds[c] *= pr[c] - pr[c] * pr[c];
            } else {
              const T dr = delta[static_cast<size_t>(bh * g.Lq + i0 + r)];
              for (int64_t c = 0; c < kc; ++c) ds[c] = pr[c] * (ds[c] - dr);
            }
          }
          // dQ += scale dS K ; dK += scale dS^T Q
          gemm(false, false, rows, D, kc, g.scale, dS.data(), kBwdBlockK, k_tile, D, T(1),
               dq_acc + (bh * g.Lq + i0) * D, D);
          gemm(true, false, kc, D, rows, g.scale, dS.data(), kBwdBlockK, q_tile, D, T(1), dk_tile, D);
        };
        for (int64_t i0 = i_start; i0 < g.Lq; i0 += kBwdBlockQ) {
          const int64_t rows = std::min(kBwdBlockQ, g.Lq - i0);
          if (!g.causal || i0 >= j0 + cols - 1) {
            block(i0, rows, cols);
            continue;
          }
          // The tile crosses the diagonal: in slices of rows, only the keys some row of the slice sees.
          for (int64_t r0 = 0; r0 < rows; r0 += kDiagRows) {
            const int64_t rs = std::min(kDiagRows, rows - r0);
            const int64_t kc = std::min(cols, i0 + r0 + rs - j0);
            if (kc > 0) block(i0 + r0, rs, kc);
          }
        }
      }
    }
  });
  for (const std::vector<T>& buf : dq_extra) {
    if (buf.empty()) continue;
    parallel_for(nq * D, kParallelGrain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) dQ[i] += buf[static_cast<size_t>(i)];
    });
  }
}

void check_contiguous(const Tensor& t, const char* op, const char* what) {
  TANGENT_CHECK(t.is_contiguous(), op, ": ", what, " must be contiguous, got shape ", t.shape(), " strides ",
                t.strides());
}

}  // namespace

void CpuBackend::attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor* key_padding_mask,
                                   const AttentionParams& p, const Tensor& out, const Tensor& lse) {
  for (const Tensor* t : {&q, &k, &v, &out}) check_contiguous(*t, "attention_forward", "every operand");
  if (q.dtype() == DType::Float64) {
    forward<double>(q, k, v, key_padding_mask, p, out, lse);
  } else {
    TANGENT_CHECK(q.dtype() == DType::Float32, "attention_forward: expected float32 or float64, got ", q.dtype());
    forward<float>(q, k, v, key_padding_mask, p, out, lse);
  }
}

void CpuBackend::attention_backward(const Tensor& grad_out, const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& out, const Tensor& lse, const Tensor* key_padding_mask,
                                    const AttentionParams& p, const Tensor& grad_q, const Tensor& grad_k,
                                    const Tensor& grad_v) {
  for (const Tensor* t : {&grad_out, &q, &k, &v, &out, &grad_q, &grad_k, &grad_v})
    check_contiguous(*t, "attention_backward", "every operand");
  if (q.dtype() == DType::Float64) {
    backward<double>(grad_out, q, k, v, out, lse, key_padding_mask, p, grad_q, grad_k, grad_v);
  } else {
    TANGENT_CHECK(q.dtype() == DType::Float32, "attention_backward: expected float32 or float64, got ", q.dtype());
    backward<float>(grad_out, q, k, v, out, lse, key_padding_mask, p, grad_q, grad_k, grad_v);
  }
}

}  // namespace tangent::cpu
