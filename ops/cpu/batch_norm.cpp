// Batch normalisation in training mode over [N, C, S] (Primitive::BatchNorm). One channel per task: the forward
// sums each channel's N planes for the mean, then the squared deviations for the variance (two reads, no
// cancellation), then writes y = x * scale + shift; the backward sums g and g * (x - mean) in one pass and writes
// grad_x in a second. Within a plane the sums run in 16 interleaved lanes of T (vectorised), the plane sums add up in
// double, so the order is fixed and does not depend on the thread count.
#include <algorithm>
#include <cmath>

#include "core/parallel.h"
#include "ops/cpu/cpu_backend.h"

namespace tangent::cpu {

namespace {

constexpr int kLanes = 16;

// sum over j < n of f(j), in kLanes interleaved partial sums of T added up in double.
template <typename T, typename F>
double plane_sum(int64_t n, const F& f) {
  T acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int k = 0; k < kLanes; ++k) acc[k] += f(j + k);
  double s = 0;
  for (; j < n; ++j) s += static_cast<double>(f(j));
  for (int k = 0; k < kLanes; ++k) s += static_cast<double>(acc[k]);
  return s;
}

int64_t channel_grain(int64_t per_channel) {
  return std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(per_channel, 1));
}

template <typename T>
void forward(const Tensor& x, const Tensor* weight, const Tensor* bias, double eps, const Tensor& out,
             const Tensor& mean, const Tensor& var) {
  const int64_t N = x.size(0), C = x.size(1), S = x.size(2);
  const T* X = x.data_ptr<T>();
  const T* W = weight ? weight->data_ptr<T>() : nullptr;
  const T* B = bias ? bias->data_ptr<T>() : nullptr;
  T* Y = out.data_ptr<T>();
  T* MU = mean.data_ptr<T>();
  T* VAR = var.data_ptr<T>();
  const double count = static_cast<double>(N * S);
  parallel_for(C, channel_grain(N * S), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double s = 0;
      for (int64_t n = 0; n < N; ++n) {
        const T* p = X + (n * C + c) * S;
        s += plane_sum<T>(S, [p](int64_t j) { return p[j]; });
      }
      const T mu = static_cast<T>(s / count);
      double ss = 0;
      for (int64_t n = 0; n < N; ++n) {
        const T* p = X + (n * C + c) * S;
        ss += plane_sum<T>(S, [p, mu](int64_t j) {
          const T d = p[j] - mu;
          return d * d;
        });
      }
      const double v = ss / count;
      MU[c] = mu;
      VAR[c] = static_cast<T>(v);
      const T rstd = static_cast<T>(1.0 / std::sqrt(v + eps));
      const T scale = W ? rstd * W[c] : rstd;
      const T shift = B ? B[c] : T(0);
      for (int64_t n = 0; n < N; ++n) {
        const T* p = X + (n * C + c) * S;
        T* y = Y + (n * C + c) * S;
        for (int64_t j = 0; j < S; ++j) y[j] = (p[j] - mu) * scale + shift;
      }
    }
  });
}

template <typename T>
void backward(const Tensor& grad_out, const Tensor& x, const Tensor* weight, const Tensor& mean, const Tensor& var,
              double eps, const Tensor* grad_x, const Tensor* grad_weight, const Tensor* grad_bias) {
  const int64_t N = x.size(0), C = x.size(1), S = x.size(2);
  const T* G = grad_out.data_ptr<T>();
  const T* X = x.data_ptr<T>();
  const T* W = weight ? weight->data_ptr<T>() : nullptr;
  const T* MU = mean.data_ptr<T>();
  const T* VAR = var.data_ptr<T>();
  T* DX = grad_x ? grad_x->data_ptr<T>() : nullptr;
  T* DW = grad_weight ? grad_weight->data_ptr<T>() : nullptr;
  T* DB = grad_bias ? grad_bias->data_ptr<T>() : nullptr;
  const double count = static_cast<double>(N * S);
  parallel_for(C, channel_grain(N * S), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const T mu = MU[c];
      const double rstd = 1.0 / std::sqrt(static_cast<double>(VAR[c]) + eps);
      double sg = 0, sgx = 0;  // sum g, sum g (x - mean)
      for (int64_t n = 0; n < N; ++n) {
        const T* g = G + (n * C + c) * S;
        const T* p = X + (n * C + c) * S;
        sg += plane_sum<T>(S, [g](int64_t j) { return g[j]; });
        sgx += plane_sum<T>(S, [g, p, mu](int64_t j) { return g[j] * (p[j] - mu); });
      }
      if (DB) DB[c] = static_cast<T>(sg);
      if (DW) DW[c] = static_cast<T>(sgx * rstd);
      if (!DX) continue;
      // dx = w rstd (g - mean(g) - xhat mean(g xhat)) = k1 g + k2 (x - mean) + k3
      const double w = W ? static_cast<double>(W[c]) : 1.0;
      const T k1 = static_cast<T>(w * rstd);
      const T k2 = static_cast<T>(-w * rstd * rstd * rstd * sgx / count);
      const T k3 = static_cast<T>(-w * rstd * sg / count);
      for (int64_t n = 0; n < N; ++n) {
        const T* g = G + (n * C + c) * S;
        const T* p = X + (n * C + c) * S;
        T* dx = DX + (n * C + c) * S;
        for (int64_t j = 0; j < S; ++j) dx[j] = k1 * g[j] + k2 * (p[j] - mu) + k3;
      }
    }
  });
}

}  // namespace

void CpuBackend::batch_norm_forward(const Tensor& x, const Tensor* weight, const Tensor* bias, double eps,
                                    const Tensor& out, const Tensor& mean, const Tensor& var) {
  if (x.dtype() == kFloat32)
    forward<float>(x, weight, bias, eps, out, mean, var);
  else
    forward<double>(x, weight, bias, eps, out, mean, var);
}

void CpuBackend::batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor* weight, const Tensor& mean,
                                     const Tensor& var, double eps, const Tensor* grad_x, const Tensor* grad_weight,
                                     const Tensor* grad_bias) {
  if (x.dtype() == kFloat32)
    backward<float>(grad_out, x, weight, mean, var, eps, grad_x, grad_weight, grad_bias);
  else
    backward<double>(grad_out, x, weight, mean, var, eps, grad_x, grad_weight, grad_bias);
}

}  // namespace tangent::cpu
