// The CPU MoBA kernels: routing (gate, top-k, CSC index), the fused forward and the fused backward. See
// ops/cpu/moba_attention.h for the scheme.
#include "ops/cpu/moba_attention.h"

#include <dnnl.h>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "core/parallel.h"
#include "ops/cpu/cpu_backend.h"

namespace tangent::cpu {

namespace {

// Query rows per gathered tile (bounds the per-worker buffers independently of N).
constexpr int64_t kTileRows = 128;

// Row-major C[M, N] = alpha * op(A) op(B) + beta * C; op(A) is [M, K] (A stored [K, M] when ta), op(B) is [K, N]
// (B stored [N, K] when tb).
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  const dnnl_status_t st = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  TANGENT_CHECK(st == dnnl_success, "moba_attention: oneDNN sgemm failed with status ", static_cast<int>(st));
}

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
          const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  for (int64_t m = 0; m < M; ++m) {
    double* c = C + m * ldc;
    for (int64_t n = 0; n < N; ++n) c[n] = beta == 0.0 ? 0.0 : beta * c[n];
    for (int64_t kk = 0; kk < K; ++kk) {
      const double a = alpha * (ta ? A[kk * lda + m] : A[m * lda + kk]);
      if (tb) {
        for (int64_t n = 0; n < N; ++n) c[n] += a * B[n * ldb + kk];
      } else {
        const double* b = B + kk * ldb;
        for (int64_t n = 0; n < N; ++n) c[n] += a * b[n];
      }
    }
  }
}

// x[j] = exp(x[j] - shift) for j < n; returns the sum. The float path uses an AVX2 Cephes-style expf (a
// degree-6 polynomial after range reduction by ln 2, about 1 ulp; inputs below -87.3 give ~1e-38, not 0).
double exp_shifted(double* x, int64_t n, double shift) {
  double sum = 0;
  for (int64_t j = 0; j < n; ++j) sum += (x[j] = std::exp(x[j] - shift));
  return sum;
}

float exp_shifted(float* x, int64_t n, float shift) {
  int64_t j = 0;
  float sum = 0;
#if defined(__AVX2__) && defined(__FMA__)
  const __m256 vshift = _mm256_set1_ps(shift), lo = _mm256_set1_ps(-87.3365f), hi = _mm256_set1_ps(88.0f);
  const __m256 log2e = _mm256_set1_ps(1.44269504088896341f), c1 = _mm256_set1_ps(0.693359375f),
               c2 = _mm256_set1_ps(-2.12194440e-4f), one = _mm256_set1_ps(1.0f);
  __m256 acc = _mm256_setzero_ps();
  for (; j + 8 <= n; j += 8) {
    __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j), vshift), lo), hi);
    const __m256 fx = _mm256_round_ps(_mm256_mul_ps(v, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    v = _mm256_fnmadd_ps(fx, c1, v);
    v = _mm256_fnmadd_ps(fx, c2, v);
    __m256 y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_fmadd_ps(y, v, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, v, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, v, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, v, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, v, _mm256_set1_ps(5.0000001201e-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(v, v), _mm256_add_ps(v, one));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
    y = _mm256_mul_ps(y, _mm256_castsi256_ps(e));
    _mm256_storeu_ps(x + j, y);
    acc = _mm256_add_ps(acc, y);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc);
  for (float l : lanes) sum += l;
#endif
  for (; j < n; ++j) sum += (x[j] = std::exp(x[j] - shift));
  return sum;
}

// The rows attending to key block n, restricted to queries in [r0, r1): the block's own rows (when inside the
// range; they attend causally), then the queries that selected it as a past block (all later than the block).
void rows_for_block(const MobaRoutingView& r, int64_t bh, int64_t n, int64_t r0, int64_t r1,
                    std::vector<int64_t>& list) {
  list.clear();
  const int64_t N = r.length, kn0 = n * r.block, kn1 = std::min(N, kn0 + r.block);
  for (int64_t t = std::max(kn0, r0); t < std::min(kn1, r1); ++t) list.push_back(static_cast<int64_t>(t));
  if (r.past == 0) return;
  const int64_t* off = r.col_offsets + bh * (r.nblocks + 1);
  const int64_t* seg = r.rows + bh * N * r.past;
  const int64_t* b = std::lower_bound(seg + off[n], seg + off[n + 1], static_cast<int64_t>(r0));
  const int64_t* e = std::lower_bound(b, seg + off[n + 1], static_cast<int64_t>(r1));
  list.insert(list.end(), b, e);
}

// How many leading keys of block [kn0, kn0 + kn) query t may see (token-causal inside its own block).
inline int64_t visible_keys(int64_t t, int64_t kn0, int64_t kn) { return std::min(kn, t - kn0 + 1); }

}  // namespace

template <typename T>
void moba_route(const T* q, const T* k, int64_t D, const MobaRoutingView& r) {
  const int64_t B = r.batch, H = r.heads, Hkv = r.kv_heads, N = r.length, block = r.block, nb = r.nblocks;
  const int64_t past = r.past;
  std::fill(r.selected, r.selected + B * H * N * past, int64_t{-1});
  std::fill(r.col_offsets, r.col_offsets + B * H * (nb + 1), int64_t{0});
  std::fill(r.rows, r.rows + B * H * N * past, int64_t{0});
  if (past == 0) return;
  const int64_t G = H / Hkv;
  parallel_for(B * H, 1, [&](int64_t w0, int64_t w1) {
    std::vector<T> ct(static_cast<size_t>(D * nb));  // centroids, transposed [D, nb]
    std::vector<T> gates(static_cast<size_t>(kTileRows * nb));
    std::vector<T> best_v(static_cast<size_t>(past));
    std::vector<int64_t> best_i(static_cast<size_t>(past));
    std::vector<int64_t> fill_pos(static_cast<size_t>(nb));
    for (int64_t bh = w0; bh < w1; ++bh) {
      const int64_t b = bh / H, h = bh % H;
      const T* kp = k + (b * Hkv + h / G) * N * D;
      const T* qp = q + bh * N * D;
      std::fill(ct.begin(), ct.end(), T(0));
      for (int64_t n = 0; n < nb; ++n) {
        const int64_t len = std::min(block, N - n * block);
        for (int64_t j = 0; j < len; ++j)
          for (int64_t d = 0; d < D; ++d) ct[d * nb + n] += kp[(n * block + j) * D + d];
        for (int64_t d = 0; d < D; ++d) ct[d * nb + n] /= static_cast<T>(len);
      }
      int64_t* sel = r.selected + bh * N * past;
      for (int64_t t0 = 0; t0 < N; t0 += kTileRows) {
        const int64_t t1 = std::min(N, t0 + kTileRows);
        const int64_t ncols = (t1 - 1) / block;  // blocks wholly before the tile's last row
        if (ncols == 0) continue;
        gemm(false, false, t1 - t0, ncols, D, T(1), qp + t0 * D, D, ct.data(), nb, T(0), gates.data(), ncols);
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t c = t / block, m = std::min(past, c);
          if (m == 0) continue;
          std::fill(best_v.begin(), best_v.begin() + m, -std::numeric_limits<T>::infinity());
          std::fill(best_i.begin(), best_i.begin() + m, -1);
          const T* g = gates.data() + (t - t0) * ncols;
          // Insertion into a descending list; `>=` lets a later block displace an earlier one with an equal gate.
          for (int64_t i = 0; i < c; ++i) {
            const T val = g[i];
            if (!(val >= best_v[m - 1])) continue;
            int64_t p = m - 1;
            while (p > 0 && val >= best_v[p - 1]) {
              best_v[p] = best_v[p - 1];
              best_i[p] = best_i[p - 1];
              --p;
            }
            best_v[p] = val;
            best_i[p] = static_cast<int64_t>(i);
          }
          std::copy(best_i.begin(), best_i.begin() + m, sel + t * past);
        }
      }
      // The CSC index: count per block, prefix sum, then fill in query order (so each list is ascending).
      int64_t* off = r.col_offsets + bh * (nb + 1);
      for (int64_t i = 0; i < N * past; ++i)
        if (sel[i] >= 0) ++off[sel[i] + 1];
      for (int64_t n = 0; n < nb; ++n) off[n + 1] += off[n];
      std::copy(off, off + nb, fill_pos.begin());
      int64_t* rows = r.rows + bh * N * past;
      for (int64_t t = 0; t < N; ++t)
        for (int64_t s = 0; s < past; ++s)
          if (sel[t * past + s] >= 0) rows[fill_pos[sel[t * past + s]]++] = static_cast<int64_t>(t);
    }
  });
}

template <typename T>
void moba_forward(const T* q, const T* k, const T* v, T* out, T* lse, const MobaRoutingView& r, int64_t D, int64_t Dv,
                  T scale) {
  const int64_t B = r.batch, H = r.heads, Hkv = r.kv_heads, N = r.length, bs = r.block, nb = r.nblocks;
  if (N == 0 || B * H == 0) return;
  const int64_t G = H / Hkv;
  // Work items: (batch, head, run of query blocks); split heads only when there are too few to feed the threads.
  const int64_t threads = detail::in_parallel_region() ? 1 : get_num_threads();  // nested: runs serially
  int64_t chunks = std::clamp<int64_t>((4 * threads + B * H - 1) / (B * H), 1, nb);
  if (threads == 1) chunks = 1;
  const int64_t per_chunk = (nb + chunks - 1) / chunks;
  chunks = (nb + per_chunk - 1) / per_chunk;
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  parallel_for(B * H * chunks, 1, [&](int64_t w0, int64_t w1) {
    std::vector<T> qg(static_cast<size_t>(kTileRows * D)), s(static_cast<size_t>(kTileRows * bs)),
        pv(static_cast<size_t>(kTileRows * Dv)), alpha(static_cast<size_t>(kTileRows));
    std::vector<T> row_max(static_cast<size_t>(per_chunk * bs)), row_sum(static_cast<size_t>(per_chunk * bs));
    std::vector<int64_t> list;
    for (int64_t w = w0; w < w1; ++w) {
      const int64_t bh = w / chunks, c0 = (w % chunks) * per_chunk, c1 = std::min(nb, c0 + per_chunk);
      const int64_t r0 = c0 * bs, r1 = std::min(N, c1 * bs);
      const int64_t b = bh / H, h = bh % H, kvh = b * Hkv + h / G;
      const T* qp = q + bh * N * D;
      const T* kp = k + kvh * N * D;
      const T* vp = v + kvh * N * Dv;
      T* op = out + bh * N * Dv;
      std::fill(row_max.begin(), row_max.end(), kNegInf);
      std::fill(row_sum.begin(), row_sum.end(), T(0));
      std::fill(op + r0 * Dv, op + r1 * Dv, T(0));
      for (int64_t n = 0; n < c1; ++n) {
        const int64_t kn0 = n * bs, kn = std::min(bs, N - kn0);
        rows_for_block(r, bh, n, r0, r1, list);
        for (size_t p = 0; p < list.size(); p += kTileRows) {
          const int64_t tr = std::min<int64_t>(kTileRows, static_cast<int64_t>(list.size() - p));
          const int64_t* rows = list.data() + p;
          for (int64_t i = 0; i < tr; ++i) std::memcpy(&qg[i * D], qp + rows[i] * D, sizeof(T) * D);
          gemm(false, true, tr, kn, D, scale, qg.data(), D, kp + kn0 * D, D, T(0), s.data(), kn);
          for (int64_t i = 0; i < tr; ++i) {
            const int64_t t = rows[i], jmax = visible_keys(t, kn0, kn);
            T* si = s.data() + i * kn;
            T mx = kNegInf;
            for (int64_t j = 0; j < jmax; ++j) mx = std::max(mx, si[j]);
            const T m_old = row_max[t - r0], m_new = std::max(m_old, mx);
            // m_new is finite: every tile row sees at least one key (its own block's first key, or a whole block).
            const T sum = exp_shifted(si, jmax, m_new);
            for (int64_t j = jmax; j < kn; ++j) si[j] = 0;
            alpha[i] = std::exp(m_old - m_new);
            row_sum[t - r0] = row_sum[t - r0] * alpha[i] + sum;
            row_max[t - r0] = m_new;
          }
          gemm(false, false, tr, Dv, kn, T(1), s.data(), kn, vp + kn0 * Dv, Dv, T(0), pv.data(), Dv);
          for (int64_t i = 0; i < tr; ++i) {
            T* o = op + rows[i] * Dv;
            const T a = alpha[i];
            const T* pi = pv.data() + i * Dv;
            for (int64_t d = 0; d < Dv; ++d) o[d] = o[d] * a + pi[d];
          }
        }
      }
      for (int64_t t = r0; t < r1; ++t) {
        const T inv = T(1) / row_sum[t - r0];
        T* o = op + t * Dv;
        for (int64_t d = 0; d < Dv; ++d) o[d] *= inv;
        lse[bh * N + t] = row_max[t - r0] + std::log(row_sum[t - r0]);
      }
    }
  });
}

template <typename T>
void moba_backward(const T* q, const T* k, const T* v, const T* out, const T* lse, const T* dout, T* dq, T* dk, T* dv,
                   const MobaRoutingView& r, int64_t D, int64_t Dv, T scale) {
  const int64_t B = r.batch, H = r.heads, Hkv = r.kv_heads, N = r.length, bs = r.block, nb = r.nblocks;
  if (N == 0 || B * H == 0) return;
  const int64_t G = H / Hkv;
  // Work items: (batch, kv head, part). An item owns dK and dV of its kv head's key blocks n with n % parts == part
  // and adds the dQ of the G query heads reading them into its own buffer (part 0: dq itself; the others are summed
  // into dq at the end). parts > 1 only when there are fewer kv heads than threads.
  const int64_t threads = detail::in_parallel_region() ? 1 : get_num_threads();  // nested: runs serially
  const int64_t parts =
      threads > 1 && B * Hkv < threads ? std::min(nb, (threads + B * Hkv - 1) / (B * Hkv)) : int64_t{1};
  const int64_t q_numel = B * H * N * D;
  std::vector<T> dq_parts(static_cast<size_t>((parts - 1) * q_numel), T(0));
  std::fill(dq, dq + q_numel, T(0));
  std::fill(dk, dk + B * Hkv * N * D, T(0));
  std::fill(dv, dv + B * Hkv * N * Dv, T(0));
  parallel_for(B * Hkv * parts, 1, [&](int64_t w0, int64_t w1) {
    std::vector<T> qg(static_cast<size_t>(kTileRows * D)), dog(static_cast<size_t>(kTileRows * Dv)),
        p(static_cast<size_t>(kTileRows * bs)), dp(static_cast<size_t>(kTileRows * bs)),
        dqg(static_cast<size_t>(kTileRows * D)), delta(static_cast<size_t>(N));
    std::vector<int64_t> list;
    for (int64_t w = w0; w < w1; ++w) {
      const int64_t kvh = w / parts, part = w % parts;
      const int64_t b = kvh / Hkv, hk = kvh % Hkv;
      const T* kp = k + kvh * N * D;
      const T* vp = v + kvh * N * Dv;
      T* dkp = dk + kvh * N * D;
      T* dvp = dv + kvh * N * Dv;
      T* dq_base = part == 0 ? dq : dq_parts.data() + (part - 1) * q_numel;
      for (int64_t g = 0; g < G; ++g) {
        const int64_t bh = b * H + hk * G + g;
        const T* qp = q + bh * N * D;
        const T* op = out + bh * N * Dv;
        const T* dop = dout + bh * N * Dv;
        const T* lp = lse + bh * N;
        T* dqp = dq_base + bh * N * D;
        for (int64_t t = 0; t < N; ++t) {  // D = rowsum(dO * O), with the final (combined) output
          T acc = 0;
          for (int64_t d = 0; d < Dv; ++d) acc += dop[t * Dv + d] * op[t * Dv + d];
          delta[t] = acc;
        }
        for (int64_t n = part; n < nb; n += parts) {
          const int64_t kn0 = n * bs, kn = std::min(bs, N - kn0);
          rows_for_block(r, bh, n, 0, N, list);
          for (size_t p0 = 0; p0 < list.size(); p0 += kTileRows) {
            const int64_t tr = std::min<int64_t>(kTileRows, static_cast<int64_t>(list.size() - p0));
            const int64_t* rows = list.data() + p0;
            for (int64_t i = 0; i < tr; ++i) {
              std::memcpy(&qg[i * D], qp + rows[i] * D, sizeof(T) * D);
              std::memcpy(&dog[i * Dv], dop + rows[i] * Dv, sizeof(T) * Dv);
            }
            // P = exp(S * scale - LSE), zero above the diagonal of the query's own block.
            gemm(false, true, tr, kn, D, scale, qg.data(), D, kp + kn0 * D, D, T(0), p.data(), kn);
            for (int64_t i = 0; i < tr; ++i) {
              const int64_t t = rows[i], jmax = visible_keys(t, kn0, kn);
              T* pi = p.data() + i * kn;
              exp_shifted(pi, jmax, lp[t]);
              for (int64_t j = jmax; j < kn; ++j) pi[j] = 0;
            }
            // dV += P^T dO ; dP = dO V^T ; dS = P * (dP - D) ; dK += scale dS^T Q ; dQ = scale dS K.
            gemm(true, false, kn, Dv, tr, T(1), p.data(), kn, dog.data(), Dv, T(1), dvp + kn0 * Dv, Dv);
            gemm(false, true, tr, kn, Dv, T(1), dog.data(), Dv, vp + kn0 * Dv, Dv, T(0), dp.data(), kn);
            for (int64_t i = 0; i < tr; ++i) {
              const T di = delta[rows[i]];
              T* dpi = dp.data() + i * kn;
              const T* pi = p.data() + i * kn;
              for (int64_t j = 0; j < kn; ++j) dpi[j] = pi[j] * (dpi[j] - di);
            }
            gemm(true, false, kn, D, tr, scale, dp.data(), kn, qg.data(), D, T(1), dkp + kn0 * D, D);
            gemm(false, false, tr, D, kn, scale, dp.data(), kn, kp + kn0 * D, D, T(0), dqg.data(), D);
            for (int64_t i = 0; i < tr; ++i) {
              T* dqi = dqp + rows[i] * D;
              const T* src = dqg.data() + i * D;
              for (int64_t d = 0; d < D; ++d) dqi[d] += src[d];
            }
          }
        }
      }
    }
  });
  for (int64_t part = 1; part < parts; ++part) {
    const T* src = dq_parts.data() + (part - 1) * q_numel;
    parallel_for(q_numel, kParallelGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) dq[i] += src[i];
    });
  }
}

#define TANGENT_MOBA_INSTANTIATE(T)                                                                                 \
  template void moba_route<T>(const T*, const T*, int64_t, const MobaRoutingView&);                                 \
  template void moba_forward<T>(const T*, const T*, const T*, T*, T*, const MobaRoutingView&, int64_t, int64_t, T); \
  template void moba_backward<T>(const T*, const T*, const T*, const T*, const T*, const T*, T*, T*, T*,            \
                                 const MobaRoutingView&, int64_t, int64_t, T);
TANGENT_MOBA_INSTANTIATE(float)
TANGENT_MOBA_INSTANTIATE(double)
#undef TANGENT_MOBA_INSTANTIATE

namespace {

MobaRoutingView view_of(const MobaRouting& r, const Tensor& q, const Tensor& k) {
  MobaRoutingView v;
  v.batch = q.size(0);
  v.heads = q.size(1);
  v.kv_heads = k.size(1);
  v.length = q.size(2);
  v.block = r.block;
  v.nblocks = r.nblocks;
  v.past = r.past;
  v.selected = r.selected.data_ptr<int64_t>();
  v.col_offsets = r.col_offsets.data_ptr<int64_t>();
  v.rows = r.rows.data_ptr<int64_t>();
  return v;
}

template <typename F>
void dispatch_floating(const Tensor& t, const char* op, const F& f) {
  if (t.dtype() == kFloat64)
    f(double{});
  else if (t.dtype() == kFloat32)
    f(float{});
  else
    TANGENT_FAIL(op, ": the CPU kernel takes float32 or float64, got ", t.dtype());
}

}  // namespace

void CpuBackend::moba_route(const Tensor& q, const Tensor& k, const MobaRouting& r) {
  dispatch_floating(q, "moba_route", [&](auto tag) {
    using T = decltype(tag);
    cpu::moba_route<T>(q.data_ptr<T>(), k.data_ptr<T>(), q.size(3), view_of(r, q, k));
  });
}

void CpuBackend::moba_forward(const Tensor& q, const Tensor& k, const Tensor& v, const MobaRouting& r, double scale,
                              const Tensor& out, const Tensor& lse) {
  dispatch_floating(q, "moba_forward", [&](auto tag) {
    using T = decltype(tag);
    cpu::moba_forward<T>(q.data_ptr<T>(), k.data_ptr<T>(), v.data_ptr<T>(), out.data_ptr<T>(), lse.data_ptr<T>(),
                         view_of(r, q, k), q.size(3), v.size(3), static_cast<T>(scale));
  });
}

void CpuBackend::moba_backward(const Tensor& grad_out, const Tensor& q, const Tensor& k, const Tensor& v,
                               const Tensor& out, const Tensor& lse, const MobaRouting& r, double scale,
                               const Tensor& grad_q, const Tensor& grad_k, const Tensor& grad_v) {
  dispatch_floating(q, "moba_backward", [&](auto tag) {
    using T = decltype(tag);
    cpu::moba_backward<T>(q.data_ptr<T>(), k.data_ptr<T>(), v.data_ptr<T>(), out.data_ptr<T>(), lse.data_ptr<T>(),
                          grad_out.data_ptr<T>(), grad_q.data_ptr<T>(), grad_k.data_ptr<T>(), grad_v.data_ptr<T>(),
                          view_of(r, q, k), q.size(3), v.size(3), static_cast<T>(scale));
  });
}

}  // namespace tangent::cpu
