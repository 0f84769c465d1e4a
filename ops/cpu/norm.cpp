// Layer norm and RMS norm over the last dim of [R, N] rows (Primitive::Norm): the forward is two passes per row
// (statistics in double, then the affine output); the backward one pass per row for grad_x, and grad_weight /
// grad_bias summed over fixed blocks of rows (so the result does not depend on the thread count).
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "ops/cpu/cpu_backend.h"

namespace tangent::cpu {

namespace {

constexpr int64_t kRowBlock = 32;  // rows per partial sum of grad_weight / grad_bias

int64_t row_grain(int64_t n) { return std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(n, 1)); }

template <typename T>
void forward(const Tensor& x, const Tensor* weight, const Tensor* bias, bool rms, double eps, const Tensor& out,
             const Tensor& mean, const Tensor& rstd) {
  const int64_t R = x.size(0), N = x.size(1);
  const T* X = x.data_ptr<T>();
  const T* W = weight ? weight->data_ptr<T>() : nullptr;
  const T* B = bias ? bias->data_ptr<T>() : nullptr;
  T* Y = out.data_ptr<T>();
  T* M = rms ? nullptr : mean.data_ptr<T>();
  T* RS = rstd.data_ptr<T>();
  parallel_for(R, row_grain(N), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* x = X + r * N;
      T* y = Y + r * N;
      double mu = 0;
      if (!rms) {
        for (int64_t j = 0; j < N; ++j) mu += static_cast<double>(x[j]);
        mu /= static_cast<double>(N);
      }
      double ss = 0;
      for (int64_t j = 0; j < N; ++j) {
        const double d = static_cast<double>(x[j]) - mu;
        ss += d * d;
      }
      const double rs = 1.0 / std::sqrt(ss / static_cast<double>(N) + eps);
      if (M) M[r] = static_cast<T>(mu);
      RS[r] = static_cast<T>(rs);
      const T m = static_cast<T>(mu), s = static_cast<T>(rs);
      for (int64_t j = 0; j < N; ++j) {
        T v = (x[j] - m) * s;
        if (W) v *= W[j];
        if (B) v += B[j];
        y[j] = v;
      }
    }
  });
}

template <typename T>
void backward(const Tensor& grad_out, const Tensor& x, const Tensor* weight, const Tensor& mean, const Tensor& rstd,
              bool rms, const Tensor& grad_x, const Tensor* grad_weight, const Tensor* grad_bias) {
  const int64_t R = x.size(0), N = x.size(1);
  const T* G = grad_out.data_ptr<T>();
  const T* X = x.data_ptr<T>();
  const T* W = weight ? weight->data_ptr<T>() : nullptr;
  const T* M = rms ? nullptr : mean.data_ptr<T>();
  const T* RS = rstd.data_ptr<T>();
  T* DX = grad_x.data_ptr<T>();
  parallel_for(R, row_grain(N), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* g = G + r * N;
      const T* xr = X + r * N;
      T* dx = DX + r * N;
      const T m = M ? M[r] : T(0), s = RS[r];
      double sum_gy = 0, sum_gy_xhat = 0;
      for (int64_t j = 0; j < N; ++j) {
        const T gy = W ? g[j] * W[j] : g[j];
        sum_gy += static_cast<double>(gy);
        sum_gy_xhat += static_cast<double>(gy) * static_cast<double>((xr[j] - m) * s);
      }
      const T a = rms ? T(0) : static_cast<T>(sum_gy / static_cast<double>(N));
      const T b = static_cast<T>(sum_gy_xhat / static_cast<double>(N));
      for (int64_t j = 0; j < N; ++j) {
        const T gy = W ? g[j] * W[j] : g[j];
        dx[j] = s * (gy - a - (xr[j] - m) * s * b);
      }
    }
  });
  if (!grad_weight && !grad_bias) return;
  const int64_t blocks = (R + kRowBlock - 1) / kRowBlock;
  std::vector<double> pw(grad_weight ? static_cast<size_t>(blocks * N) : 0, 0.0);
  std::vector<double> pb(grad_bias ? static_cast<size_t>(blocks * N) : 0, 0.0);
  parallel_for(blocks, std::max<int64_t>(1, row_grain(N) / kRowBlock), [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      double* w = grad_weight ? pw.data() + blk * N : nullptr;
      double* bb = grad_bias ? pb.data() + blk * N : nullptr;
      for (int64_t r = blk * kRowBlock; r < std::min(R, (blk + 1) * kRowBlock); ++r) {
        const T* g = G + r * N;
        const T* xr = X + r * N;
        const T m = M ? M[r] : T(0), s = RS[r];
        if (w)
          for (int64_t j = 0; j < N; ++j) w[j] += static_cast<double>(g[j] * ((xr[j] - m) * s));
        if (bb)
          for (int64_t j = 0; j < N; ++j) bb[j] += static_cast<double>(g[j]);
      }
    }
  });
  auto finish = [&](const std::vector<double>& part, const Tensor& dst) {
    T* d = dst.data_ptr<T>();
    for (int64_t j = 0; j < N; ++j) {
      double acc = 0;
      for (int64_t blk = 0; blk < blocks; ++blk) acc += part[static_cast<size_t>(blk * N + j)];
      d[j] = static_cast<T>(acc);
    }
  };
  if (grad_weight) finish(pw, *grad_weight);
  if (grad_bias) finish(pb, *grad_bias);
}

}  // namespace

void CpuBackend::norm_forward(const Tensor& x, const Tensor* weight, const Tensor* bias, bool rms, double eps,
                              const Tensor& out, const Tensor& mean, const Tensor& rstd) {
  if (x.dtype() == kFloat32)
    forward<float>(x, weight, bias, rms, eps, out, mean, rstd);
  else
    forward<double>(x, weight, bias, rms, eps, out, mean, rstd);
}

void CpuBackend::norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor* weight, const Tensor& mean,
                               const Tensor& rstd, bool rms, const Tensor& grad_x, const Tensor* grad_weight,
                               const Tensor* grad_bias) {
  if (x.dtype() == kFloat32)
    backward<float>(grad_out, x, weight, mean, rstd, rms, grad_x, grad_weight, grad_bias);
  else
    backward<double>(grad_out, x, weight, mean, rstd, rms, grad_x, grad_weight, grad_bias);
}

}  // namespace tangent::cpu
