// The fused optimizer updates (Primitive::OptimizerStep: one pass over raw pointers per parameter, no
// temporaries; the formulas are in ops/optimizer_step.h) and power_sum, the reduction behind clip_grad_norm_.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>
#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "core/parallel.h"
#include "ops/cpu/cpu_backend.h"

namespace tangent::cpu {

namespace {

template <typename F>
void with_flag(bool flag, const F& f) {
  if (flag)
    f(std::true_type{});
  else
    f(std::false_type{});
}

// The fused loops run over blocks of this many elements, so that a block's temporaries stay in L1.
constexpr int64_t kBlock = 256;

// x = sqrt(x) over a block. GCC keeps std::sqrt scalar inside a loop (it must be able to set errno), so the block
// is done with AVX when available.
inline void sqrt_block(float* x, int64_t n) {
  int64_t i = 0;
#if defined(__AVX__)
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_sqrt_ps(_mm256_loadu_ps(x + i)));
#endif
  for (; i < n; ++i) x[i] = std::sqrt(x[i]);
}
inline void sqrt_block(double* x, int64_t n) {
  int64_t i = 0;
#if defined(__AVX__)
  for (; i + 4 <= n; i += 4) _mm256_storeu_pd(x + i, _mm256_sqrt_pd(_mm256_loadu_pd(x + i)));
#endif
  for (; i < n; ++i) x[i] = std::sqrt(x[i]);
}

// Runs fn(begin, length) over [0, n) in blocks of at most kBlock elements, in parallel for large n.
template <typename F>
void for_blocks(int64_t n, const F& fn) {
  parallel_for(n, kParallelGrain, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; b += kBlock) fn(b, std::min(kBlock, end - b));
  });
}

template <typename T>
void sgd_loop(T* p, const T* g, T* buf, int64_t n, const SgdStep& o) {
  with_flag(o.weight_decay != 0.0, [&](auto has_wd) {
    with_flag(o.momentum != 0.0, [&](auto has_mu) {
      with_flag(o.nesterov, [&](auto nesterov) {
        with_flag(o.first_step, [&](auto first) {
          parallel_for(n, kParallelGrain, [&](int64_t begin, int64_t end) {
            const T lr = static_cast<T>(o.lr), wd = static_cast<T>(o.weight_decay), mu = static_cast<T>(o.momentum);
            const T keep = static_cast<T>(1.0 - o.dampening);
            T* __restrict P = p + begin;
            const T* __restrict G = g + begin;
            T* __restrict B = has_mu ? buf + begin : nullptr;
            for (int64_t i = 0; i < end - begin; ++i) {
              T d = G[i];
              if constexpr (has_wd) d += wd * P[i];
              if constexpr (has_mu) {
                T b = d;  // the buffer starts as the first step's gradient
                if constexpr (!first) b = mu * B[i] + keep * d;
                B[i] = b;
                if constexpr (nesterov)
                  d += mu * b;
                else
                  d = b;
              }
              P[i] -= lr * d;
            }
          });
        });
      });
    });
  });
}

template <typename T>
void adam_loop(T* p, const T* g, T* m, T* v, T* vmax, int64_t n, const AdamStep& o) {
  with_flag(!o.decoupled && o.weight_decay != 0.0, [&](auto l2) {
    with_flag(o.decoupled && o.weight_decay != 0.0, [&](auto decay) {
      with_flag(o.amsgrad, [&](auto amsgrad) {
        for_blocks(n, [&](int64_t begin, int64_t len) {
          const T b1 = static_cast<T>(o.beta1), b2 = static_cast<T>(o.beta2);
          const T c1 = static_cast<T>(1.0 - o.beta1), c2 = static_cast<T>(1.0 - o.beta2);
          const T step_size = static_cast<T>(o.step_size), bc2_sqrt = static_cast<T>(o.bc2_sqrt),
                  eps = static_cast<T>(o.eps);
          const T wd = static_cast<T>(o.weight_decay), shrink = static_cast<T>(1.0 - o.lr * o.weight_decay);
          T* __restrict P = p + begin;
          const T* __restrict G = g + begin;
          T* __restrict M = m + begin;
          T* __restrict V = v + begin;
          T* __restrict VM = amsgrad ? vmax + begin : nullptr;
          T root[kBlock];  // sqrt(v) (or sqrt(vmax)) of the block
          for (int64_t i = 0; i < len; ++i) {
            T pi = P[i];
            if constexpr (decay) pi *= shrink;
            T d = G[i];
            if constexpr (l2) d += wd * pi;
            const T mi = b1 * M[i] + c1 * d;
            T vi = b2 * V[i] + c2 * (d * d);
            M[i] = mi;
            V[i] = vi;
            if constexpr (amsgrad) {
              vi = VM[i] < vi ? vi : VM[i];
              VM[i] = vi;
            }
            root[i] = vi;
          }
          sqrt_block(root, len);
          for (int64_t i = 0; i < len; ++i) {
            T pi = P[i];
            if constexpr (decay) pi *= shrink;
            P[i] = pi - step_size * (M[i] / (root[i] / bc2_sqrt + eps));
          }
        });
      });
    });
  });
}

template <typename T>
void rmsprop_loop(T* p, const T* g, T* sq, T* buf, T* ga, int64_t n, const RmspropStep& o) {
  with_flag(o.weight_decay != 0.0, [&](auto has_wd) {
    with_flag(o.momentum > 0.0, [&](auto has_mu) {
      with_flag(o.centered, [&](auto centered) {
        for_blocks(n, [&](int64_t begin, int64_t len) {
          const T lr = static_cast<T>(o.lr), wd = static_cast<T>(o.weight_decay), mu = static_cast<T>(o.momentum);
          const T a = static_cast<T>(o.alpha), ca = static_cast<T>(1.0 - o.alpha), eps = static_cast<T>(o.eps);
          T* __restrict P = p + begin;
          const T* __restrict G = g + begin;
          T* __restrict S = sq + begin;
          T* __restrict B = has_mu ? buf + begin : nullptr;
          T* __restrict GA = centered ? ga + begin : nullptr;
          T avg[kBlock];  // the block's denominators
          for (int64_t i = 0; i < len; ++i) {
            T d = G[i];
            if constexpr (has_wd) d += wd * P[i];
            const T s = a * S[i] + ca * (d * d);
            S[i] = s;
            if constexpr (centered) {
              const T gi = a * GA[i] + ca * d;
              GA[i] = gi;
              avg[i] = s - gi * gi;
            } else {
              avg[i] = s;
            }
          }
          sqrt_block(avg, len);
          for (int64_t i = 0; i < len; ++i) {
            T d = G[i];
            if constexpr (has_wd) d += wd * P[i];
            const T ai = avg[i] + eps;
            if constexpr (has_mu) {
              const T b = mu * B[i] + d / ai;
              B[i] = b;
              P[i] -= lr * b;
            } else {
              P[i] -= lr * (d / ai);
            }
          }
        });
      });
    });
  });
}

// sum f(x[i]) over [begin, end) in double, with 8 independent partial sums so that the loop vectorizes (a single
// floating-point accumulator cannot be reordered); the summation order is fixed, so results are reproducible.
template <typename T, typename F>
double lane_sum(const T* x, int64_t begin, int64_t end, const F& f) {
  constexpr int64_t kLanes = 8;
  double lanes[kLanes] = {};
  int64_t i = begin;
  for (; i + kLanes <= end; i += kLanes)
    for (int64_t k = 0; k < kLanes; ++k) lanes[k] += f(static_cast<double>(x[i + k]));
  double acc = 0.0;
  for (; i < end; ++i) acc += f(static_cast<double>(x[i]));
  for (int64_t k = 0; k < kLanes; ++k) acc += lanes[k];
  return acc;
}

// sum |x|^p over x (p = 2 and p = 1 without pow), or max |x| when p is infinite.
template <typename T>
double norm_partial(const T* x, int64_t n, double p) {
  const bool inf = std::isinf(p);
  auto block = [&](int64_t begin, int64_t end) {
    double acc = 0.0;
    if (inf) {
      for (int64_t i = begin; i < end; ++i) {
        const double a = std::abs(static_cast<double>(x[i]));
        acc = (a > acc || std::isnan(a)) ? a : acc;
      }
    } else if (p == 2.0) {
      acc = lane_sum(x, begin, end, [](double v) { return v * v; });
    } else if (p == 1.0) {
      acc = lane_sum(x, begin, end, [](double v) { return std::abs(v); });
    } else {
      for (int64_t i = begin; i < end; ++i) acc += std::pow(std::abs(static_cast<double>(x[i])), p);
    }
    return acc;
  };
  const int64_t nblocks = (n + kParallelGrain - 1) / kParallelGrain;
  if (nblocks <= 1) return block(0, n);
  std::vector<double> partial(static_cast<size_t>(nblocks));
  parallel_for(nblocks, 2, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      partial[static_cast<size_t>(b)] = block(b * kParallelGrain, std::min(n, (b + 1) * kParallelGrain));
  });
  double acc = 0.0;
  for (double v : partial) acc = inf ? ((v > acc || std::isnan(v)) ? v : acc) : acc + v;
  return acc;
}

}  // namespace

void CpuBackend::sgd_step(const Tensor& p, const Tensor& g, const Tensor* momentum_buffer, const SgdStep& s) {
  if (p.dtype() == kFloat32)
    sgd_loop(p.data_ptr<float>(), g.data_ptr<float>(), momentum_buffer ? momentum_buffer->data_ptr<float>() : nullptr,
             p.numel(), s);
  else
    sgd_loop(p.data_ptr<double>(), g.data_ptr<double>(),
             momentum_buffer ? momentum_buffer->data_ptr<double>() : nullptr, p.numel(), s);
}

void CpuBackend::adam_step(const Tensor& p, const Tensor& g, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                           const Tensor* max_exp_avg_sq, const AdamStep& s) {
  if (p.dtype() == kFloat32)
    adam_loop(p.data_ptr<float>(), g.data_ptr<float>(), exp_avg.data_ptr<float>(), exp_avg_sq.data_ptr<float>(),
              max_exp_avg_sq ? max_exp_avg_sq->data_ptr<float>() : nullptr, p.numel(), s);
  else
    adam_loop(p.data_ptr<double>(), g.data_ptr<double>(), exp_avg.data_ptr<double>(), exp_avg_sq.data_ptr<double>(),
              max_exp_avg_sq ? max_exp_avg_sq->data_ptr<double>() : nullptr, p.numel(), s);
}

void CpuBackend::rmsprop_step(const Tensor& p, const Tensor& g, const Tensor& square_avg, const Tensor* momentum_buffer,
                              const Tensor* grad_avg, const RmspropStep& s) {
  if (p.dtype() == kFloat32)
    rmsprop_loop(p.data_ptr<float>(), g.data_ptr<float>(), square_avg.data_ptr<float>(),
                 momentum_buffer ? momentum_buffer->data_ptr<float>() : nullptr,
                 grad_avg ? grad_avg->data_ptr<float>() : nullptr, p.numel(), s);
  else
    rmsprop_loop(p.data_ptr<double>(), g.data_ptr<double>(), square_avg.data_ptr<double>(),
                 momentum_buffer ? momentum_buffer->data_ptr<double>() : nullptr,
                 grad_avg ? grad_avg->data_ptr<double>() : nullptr, p.numel(), s);
}

void CpuBackend::power_sum(const Tensor& x, double p, const Tensor& out) {
  const double v = x.dtype() == kFloat32 ? norm_partial(x.data_ptr<float>(), x.numel(), p)
                                         : norm_partial(x.data_ptr<double>(), x.numel(), p);
  *out.data_ptr<double>() = v;
}

}  // namespace tangent::cpu
