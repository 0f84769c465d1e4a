// CPU batched matrix multiply out[B,M,N] = a[B,M,K] @ b[B,K,N] (+ bias[N]).
// float32 runs on oneDNN's matmul primitive: operands are described with their own strides, so a transposed view
// is never copied, and a batch-broadcast operand (batch stride 0) is given to oneDNN as batch 1. Primitives are
// cached per geometry (dnnl_common.h), so a repeated call only swaps data pointers. float16/bfloat16 are computed
// in float32 (the AVX2 build of oneDNN has no half-precision GEMM); float64 uses the blocked GEMM below. A single
// float32 row times a matrix runs on dnnl_sgemm as a GEMV (gemv_sgemm).
#include <dnnl.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "core/parallel.h"
#include "ops/cpu/cpu_backend.h"
#include "ops/cpu/dnnl_common.h"

namespace tangent::cpu {

namespace {

using namespace dnnl_util;
using dnnl::memory;

// One operand [batch, rows, cols] as oneDNN sees it.
struct MatLayout {
  int64_t batch = 1;  // B, or 1 when broadcast over the batch
  int64_t stride[3] = {0, 0, 0};
  bool copy = false;  // its strides are not GEMM-friendly: it is copied to a contiguous buffer first
};

// Row-major or column-major with a leading dimension (a transposed view) are passed as they are; anything else
// (e.g. a stride-0 broadcast row) is copied. Strides of size-1 dims are normalised.
MatLayout layout_of(int64_t B, int64_t R, int64_t C, const Shape& s, bool force_copy) {
  MatLayout L;
  L.batch = (B == 1 || s[0] == 0) ? 1 : B;
  int64_t sr = s[1], sc = s[2], extent;
  if (!force_copy && (sc == 1 || C == 1) && (R == 1 || sr >= C)) {  // row-major, leading dim sr
    sc = 1;
    sr = R == 1 ? C : sr;
    extent = R * sr;
  } else if (!force_copy && (sr == 1 || R == 1) && (C == 1 || sc >= R)) {  // column-major, leading dim sc
    sr = 1;
    sc = C == 1 ? R : sc;
    extent = C * sc;
  } else {
    L.copy = true;
    sr = C;
    sc = 1;
    extent = R * C;
  }
  L.stride[0] = (L.batch == 1 || L.copy) ? extent : s[0];
  L.stride[1] = sr;
  L.stride[2] = sc;
  return L;
}

bool is_plain_contiguous(const MatLayout& L, int64_t R, int64_t C) {
  return L.stride[2] == 1 && L.stride[1] == C && L.stride[0] == R * C;
}

Prim make_matmul_prim(memory::data_type dt, int64_t B, int64_t M, int64_t K, int64_t N, const MatLayout& la,
                      const MatLayout& lb, bool has_bias, bool* is_ref = nullptr) {
  const memory::desc a_md({la.batch, M, K}, dt, {la.stride[0], la.stride[1], la.stride[2]});
  const memory::desc b_md({lb.batch, K, N}, dt, {lb.stride[0], lb.stride[1], lb.stride[2]});
  const memory::desc c_md({B, M, N}, dt, {M * N, N, 1});
  const memory::desc bias_md({1, 1, N}, dt, {N, N, 1});
  const dnnl::matmul::desc d =
      has_bias ? dnnl::matmul::desc(a_md, b_md, bias_md, c_md) : dnnl::matmul::desc(a_md, b_md, c_md);
  const dnnl::matmul::primitive_desc pd(d, engine());
  Prim p;
  p.prim = dnnl::matmul(pd);
  p.add_arg(DNNL_ARG_SRC, a_md);
  p.add_arg(DNNL_ARG_WEIGHTS, b_md);
  p.add_arg(DNNL_ARG_DST, c_md);
  if (has_bias) p.add_arg(DNNL_ARG_BIAS, bias_md);
  if (is_ref) *is_ref = std::string(pd.impl_info_str()).rfind("ref", 0) == 0;
  return p;
}

// A contiguous copy of operand t viewed as [batch, R, C] (its first `batch` matrices).
Tensor copy_operand(Backend& be, const Tensor& t, int64_t batch, int64_t R, int64_t C) {
  const Tensor src = alias_with(t, {batch, R, C}, t.strides(), t.storage_offset());
  Tensor dst = empty({batch, R, C}, TensorOptions(t.dtype()).device(t.device()));
  be.copy(src, dst);
  return dst;
}

void matmul_dnnl(Backend& be, const Tensor& a, const Tensor& b, const Tensor* bias, const Tensor& out) {
  const int64_t B = out.size(0), M = out.size(1), N = out.size(2), K = a.size(2);
  memory::data_type dt;
  TANGENT_CHECK(to_dnnl_type(out.dtype(), &dt), "matmul: no oneDNN type for ", out.dtype());
  Tensor bias_c;
  if (bias && N > 1 && bias->stride(0) != 1) bias_c = dnnl_util::to_float32(*bias);  // float32 path only
  const Tensor* bias_p = bias ? (bias_c.defined() ? &bias_c : bias) : nullptr;

  const MatLayout la = layout_of(a.size(0), M, K, a.strides(), false);
  const MatLayout lb = layout_of(b.size(0), K, N, b.strides(), false);
  Key key;
  key.add(kMatmul).add(static_cast<int64_t>(out.dtype())).add(get_num_threads()).add(B).add(M).add(K).add(N);
  key.add(la.batch).add(la.stride[0]).add(la.stride[1]).add(la.stride[2]).add(la.copy);
  key.add(lb.batch).add(lb.stride[0]).add(lb.stride[1]).add(lb.stride[2]).add(lb.copy).add(bias_p != nullptr);
  // The entry's flags say which operands are copied to contiguous buffers before running (bit 1: a, bit 2: b).
  Prim& p = cache().get(key, [&] {
    return guarded("matmul", [&] {
      bool is_ref = false;
      Prim prim = make_matmul_prim(dt, B, M, K, N, la, lb, bias_p != nullptr, &is_ref);
      const bool ca = !is_plain_contiguous(la, M, K), cb = !is_plain_contiguous(lb, K, N);
      if (is_ref && (ca || cb)) {
        // The reference implementation is far slower than copying the odd-strided operands.
        prim = make_matmul_prim(dt, B, M, K, N, layout_of(a.size(0), M, K, a.strides(), ca),
                                layout_of(b.size(0), K, N, b.strides(), cb), bias_p != nullptr);
        prim.flags = (ca ? 1 : 0) | (cb ? 2 : 0);
      } else {
        prim.flags = (la.copy ? 1 : 0) | (lb.copy ? 2 : 0);
      }
      return prim;
    });
  });
  const Tensor ac = (p.flags & 1) ? copy_operand(be, a, la.batch, M, K) : a;
  const Tensor bc = (p.flags & 2) ? copy_operand(be, b, lb.batch, K, N) : b;
  guarded("matmul", [&] {
    if (bias_p) {
      p.run({{DNNL_ARG_SRC, ac.raw_data()},
             {DNNL_ARG_WEIGHTS, bc.raw_data()},
             {DNNL_ARG_DST, out.raw_data()},
             {DNNL_ARG_BIAS, bias_p->raw_data()}});
    } else {
      p.run({{DNNL_ARG_SRC, ac.raw_data()}, {DNNL_ARG_WEIGHTS, bc.raw_data()}, {DNNL_ARG_DST, out.raw_data()}});
    }
  });
}

// One row times one matrix (M == 1, no batch: a decoding step's projections) on dnnl_sgemm, which runs it as a GEMV
// on the operands where they are. oneDNN's matmul primitive repacks a transposed B (every Linear's weight) on every
// call, which at M == 1 costs more than the product. Returns false when the primitive must run it.
bool gemv_sgemm(const Tensor& a, const Tensor& b, const Tensor* bias, const Tensor& out) {
  const int64_t K = a.size(2), N = out.size(2);
  if (out.size(0) != 1 || out.size(1) != 1) return false;
  const MatLayout la = layout_of(1, 1, K, a.strides(), false), lb = layout_of(1, K, N, b.strides(), false);
  if (la.copy || lb.copy) return false;
  float* c = out.data_ptr<float>();
  if (bias) {
    const float* bp = bias->data_ptr<float>();
    for (int64_t j = 0; j < N; ++j) c[j] = bp[j * bias->stride(0)];
  }
  const bool ta = la.stride[2] != 1, tb = lb.stride[2] != 1;
  const dnnl_status_t st =
      dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', 1, N, K, 1.0f, a.data_ptr<float>(), ta ? la.stride[2] : la.stride[1],
                 b.data_ptr<float>(), tb ? lb.stride[2] : lb.stride[1], bias ? 1.0f : 0.0f, c, N);
  TANGENT_CHECK(st == dnnl_success, "matmul: dnnl_sgemm failed with status ", static_cast<int>(st), " for [1, ", K,
                "] @ [", K, ", ", N, "]");
  return true;
}

// Our own GEMM for dtypes oneDNN lacks (float64): b is packed row-major per batch, then each task computes a
// 4-row by 256-column tile of out in a local accumulator, adding a[i,k] * (row k of packed b) for every k (the
// contiguous column loop is innermost and vectorises).
template <typename T>
void gemm_fallback(const Tensor& a, const Tensor& b, const Tensor* bias, const Tensor& out) {
  const int64_t B = out.size(0), M = out.size(1), N = out.size(2), K = a.size(2);
  const int64_t bb = (b.size(0) == 1 || b.stride(0) == 0) ? 1 : B;
  std::vector<T> packed(static_cast<size_t>(bb * K * N));
  const T* bp = b.data_ptr<T>();
  for (int64_t i = 0; i < bb; ++i)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t n = 0; n < N; ++n)
        packed[static_cast<size_t>((i * K + k) * N + n)] = bp[i * b.stride(0) + k * b.stride(1) + n * b.stride(2)];

  const T* ap = a.data_ptr<T>();
  const int64_t sab = a.size(0) == 1 ? 0 : a.stride(0), sam = a.stride(1), sak = a.stride(2);
  const T* biasp = bias ? bias->data_ptr<T>() : nullptr;
  const int64_t sbias = bias ? bias->stride(0) : 0;
  T* op = out.data_ptr<T>();
  constexpr int64_t kMr = 4, kNc = 256;
  const int64_t mblocks = (M + kMr - 1) / kMr;
  const int64_t work = std::max<int64_t>(1, kMr * K * N);
  parallel_for(B * mblocks, std::max<int64_t>(1, kParallelGrain / work), [&](int64_t t0, int64_t t1) {
    T acc[kMr][kNc];
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t batch = t / mblocks, i0 = (t % mblocks) * kMr;
      const int64_t mr = std::min(kMr, M - i0);
      const T* arow = ap + batch * sab + i0 * sam;
      const T* bmat = packed.data() + (bb == 1 ? 0 : batch) * K * N;
      for (int64_t j0 = 0; j0 < N; j0 += kNc) {
        const int64_t nc = std::min(kNc, N - j0);
        for (int64_t r = 0; r < mr; ++r)
          for (int64_t j = 0; j < nc; ++j) acc[r][j] = biasp ? biasp[(j0 + j) * sbias] : T(0);
        for (int64_t k = 0; k < K; ++k) {
          const T* brow = bmat + k * N + j0;
          for (int64_t r = 0; r < mr; ++r) {
            const T av = arow[r * sam + k * sak];
            T* ar = acc[r];
            for (int64_t j = 0; j < nc; ++j) ar[j] += av * brow[j];
          }
        }
        for (int64_t r = 0; r < mr; ++r)
          std::memcpy(op + (batch * M + i0 + r) * N + j0, acc[r], static_cast<size_t>(nc) * sizeof(T));
      }
    }
  });
}

}  // namespace

void CpuBackend::matmul(const Tensor& a, const Tensor& b, const Tensor* bias, const Tensor& out) {
  TANGENT_CHECK(a.dim() == 3 && b.dim() == 3 && out.dim() == 3, "matmul (cpu): expected a [B,M,K], b [B,K,N] and out ",
                "[B,M,N], got ", a.shape(), ", ", b.shape(), " and ", out.shape());
  const int64_t B = out.size(0), M = out.size(1), N = out.size(2), K = a.size(2);
  TANGENT_CHECK(a.size(1) == M && b.size(1) == K && b.size(2) == N && (a.size(0) == B || a.size(0) == 1) &&
                    (b.size(0) == B || b.size(0) == 1),
                "matmul (cpu): shapes ", a.shape(), " @ ", b.shape(), " do not give ", out.shape());
  TANGENT_CHECK(a.dtype() == out.dtype() && b.dtype() == out.dtype() && (!bias || bias->dtype() == out.dtype()),
                "matmul (cpu): operands must share a dtype, got ", a.dtype(), ", ", b.dtype(), " and out ",
                out.dtype());
  TANGENT_CHECK(!bias || (bias->dim() == 1 && bias->size(0) == N), "matmul (cpu): bias of shape ",
                bias ? bias->shape() : Shape{}, " does not match ", N, " output columns");
  TANGENT_CHECK(out.is_contiguous(), "matmul (cpu): out must be contiguous");
  if (out.numel() == 0) return;
  if (K == 0) {  // an empty sum: out = bias (or 0)
    if (bias)
      copy(alias_with(*bias, {B, M, N}, {0, 0, bias->stride(0)}, bias->storage_offset()), out);
    else
      fill(out, 0);
    return;
  }
  const DType dt = out.dtype();
  if (dt == kFloat64) return gemm_fallback<double>(a, b, bias, out);
  if (dt == kFloat16 || dt == kBFloat16) {
    Tensor out32 = empty(out.shape(), TensorOptions(kFloat32).device(out.device()));
    Tensor bias32 = bias ? dnnl_util::to_float32(*bias) : Tensor();
    matmul(dnnl_util::to_float32(a), dnnl_util::to_float32(b), bias ? &bias32 : nullptr, out32);
    copy(out32, out);
    return;
  }
  TANGENT_CHECK(dt == kFloat32, "matmul (cpu): expected a floating dtype, got ", dt);
  const bool a_bcast = a.size(0) == 1 || a.stride(0) == 0, b_bcast = b.size(0) == 1 || b.stride(0) == 0;
  if (B > 1 && a_bcast && b_bcast) {
    // Every batch is the same product: compute it once and replicate.
    const Tensor first = alias_with(out, {1, M, N}, out.strides(), out.storage_offset());
    matmul_dnnl(*this, alias_with(a, {1, M, K}, a.strides(), a.storage_offset()),
                alias_with(b, {1, K, N}, b.strides(), b.storage_offset()), bias, first);
    const Tensor rest = alias_with(out, {B - 1, M, N}, out.strides(), out.storage_offset() + M * N);
    copy(alias_with(out, {B - 1, M, N}, {0, N, 1}, out.storage_offset()), rest);
    return;
  }
  if (gemv_sgemm(a, b, bias, out)) return;
  matmul_dnnl(*this, a, b, bias, out);
}

}  // namespace tangent::cpu
