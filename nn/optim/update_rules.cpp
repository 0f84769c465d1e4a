// The math of every optimizer, in one place: for each, the fused CPU loop (contiguous float32/float64: one pass
// over raw pointers, no temporaries) and, right after it, the same rule written with tensor ops for every other
// case. The formulas follow PyTorch's torch.optim (d is the gradient after L2 weight decay, t the step count):
//   SGD      d = g + wd p;  b = d (first step) or mu b + (1 - dampening) d;  d = nesterov ? d + mu b : b;  p -= lr d
//   Adam     d = g + wd p;  m = b1 m + (1 - b1) d;  v = b2 v + (1 - b2) d^2;  (amsgrad: vmax = max(vmax, v), used as v)
//            p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
//   AdamW    p *= 1 - lr wd, then Adam with d = g
//   RMSprop  d = g + wd p;  s = a s + (1 - a) d^2;  avg = sqrt(s - ga^2) + eps with ga = a ga + (1 - a) d (centered),
//            else sqrt(s) + eps;  momentum: b = mu b + d / avg, p -= lr b;  else p -= lr d / avg
#include "nn/optim/update_rules.h"

#include <algorithm>
#include <cmath>
#include <type_traits>
#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "core/parallel.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/shape_ops.h"

namespace tangent::optim::detail {

namespace {

// Whether the fused loop applies: p on the CPU, contiguous, float32 or float64.
bool fusable(const Tensor& p) {
  return p.device().is_cpu() && (p.dtype() == kFloat32 || p.dtype() == kFloat64) && p.is_contiguous();
}

// The gradient as a contiguous tensor of p's dtype (g itself in the common case).
Tensor dense(const Tensor& g, const Tensor& p) {
  Tensor out = g.dtype() == p.dtype() ? g : g.to(p.dtype());
  return out.is_contiguous() ? out : contiguous(out);
}

// State buffer i of a parameter, matching p's shape, device and dtype, contiguous; zeros when new. A buffer left
// on another device or dtype (the module was moved after the optimizer was built) is converted.
Tensor& buffer(Optimizer::ParamState& st, size_t i, const Tensor& p, const char* op) {
  Tensor& b = st.buffers[i];
  if (!b.defined()) {
    b = zeros_like(p);
    return b;
  }
  TANGENT_CHECK(b.shape() == p.shape(), op, ": the optimizer state of a parameter has shape ", b.shape(),
                " but the parameter now has shape ", p.shape());
  if (b.device() != p.device()) b = b.to(p.device());
  if (b.dtype() != p.dtype()) b = b.to(p.dtype());
  if (!b.is_contiguous()) b = contiguous(b);
  return b;
}

template <typename T>
T* ptr(const Tensor& t) {
  return t.data_ptr<T>();
}

// Calls f(std::true_type) or f(std::false_type): runtime options become compile-time constants, so each loop is
// compiled without branches and vectorizes.
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

// ---------------------------------------------------------------------------------------------------------------
// SGD
template <typename T>
void sgd_loop(T* p, const T* g, T* buf, int64_t n, const GroupOptions& o, bool first_step) {
  with_flag(o.weight_decay != 0.0, [&](auto has_wd) {
    with_flag(o.momentum != 0.0, [&](auto has_mu) {
      with_flag(o.nesterov, [&](auto nesterov) {
        with_flag(first_step, [&](auto first) {
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
                if constexpr (nesterov) d += mu * b;
                else d = b;
              }
              P[i] -= lr * d;
            }
          });
        });
      });
    });
  });
}

}  // namespace

void sgd_update(const Tensor& p, const Tensor& g, Optimizer::ParamState& st, const GroupOptions& o) {
  const bool has_mu = o.momentum != 0.0;
  const bool first = has_mu && !st.buffers[0].defined();
  if (fusable(p)) {
    const Tensor gd = dense(g, p);
    if (first) st.buffers[0] = empty_like(p);  // written by the loop (b = d on the first step)
    Tensor buf = has_mu ? buffer(st, 0, p, "SGD") : Tensor();
    if (p.dtype() == kFloat32)
      sgd_loop(ptr<float>(p), ptr<float>(gd), has_mu ? ptr<float>(buf) : nullptr, p.numel(), o, first);
    else
      sgd_loop(ptr<double>(p), ptr<double>(gd), has_mu ? ptr<double>(buf) : nullptr, p.numel(), o, first);
    p.bump_version();
    ++st.step;
    return;
  }
  Tensor d = o.weight_decay != 0.0 ? add(g, p, o.weight_decay) : g;
  if (has_mu) {
    if (first) {
      st.buffers[0] = clone(d);
    } else {
      Tensor& b = buffer(st, 0, p, "SGD");
      b.copy_(add(mul(b, o.momentum), d, 1.0 - o.dampening));
    }
    d = o.nesterov ? add(d, st.buffers[0], o.momentum) : st.buffers[0];
  }
  Tensor target = p;
  sub_(target, d, o.lr);
  ++st.step;
}

// ---------------------------------------------------------------------------------------------------------------
// Adam / AdamW
namespace {

struct AdamCoefficients {
  double step_size;  // lr / (1 - b1^t)
  double bc2_sqrt;   // sqrt(1 - b2^t)
};

AdamCoefficients adam_coefficients(const GroupOptions& o, int64_t step) {
  const double t = static_cast<double>(step);
  return {o.lr / (1.0 - std::pow(o.beta1, t)), std::sqrt(1.0 - std::pow(o.beta2, t))};
}

template <typename T>
void adam_loop(T* p, const T* g, T* m, T* v, T* vmax, int64_t n, const GroupOptions& o, const AdamCoefficients& c,
               bool decoupled) {
  with_flag(!decoupled && o.weight_decay != 0.0, [&](auto l2) {
    with_flag(decoupled && o.weight_decay != 0.0, [&](auto decay) {
      with_flag(o.amsgrad, [&](auto amsgrad) {
        for_blocks(n, [&](int64_t begin, int64_t len) {
          const T b1 = static_cast<T>(o.beta1), b2 = static_cast<T>(o.beta2);
          const T c1 = static_cast<T>(1.0 - o.beta1), c2 = static_cast<T>(1.0 - o.beta2);
          const T step_size = static_cast<T>(c.step_size), bc2_sqrt = static_cast<T>(c.bc2_sqrt), eps = static_cast<T>(o.eps);
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

}  // namespace

void adam_update(const Tensor& p, const Tensor& g, Optimizer::ParamState& st, const GroupOptions& o, bool decoupled) {
  const char* op = decoupled ? "AdamW" : "Adam";
  ++st.step;
  const AdamCoefficients c = adam_coefficients(o, st.step);
  Tensor& m = buffer(st, 0, p, op);
  Tensor& v = buffer(st, 1, p, op);
  Tensor vmax = o.amsgrad ? buffer(st, 2, p, op) : Tensor();
  if (fusable(p)) {
    const Tensor gd = dense(g, p);
    if (p.dtype() == kFloat32)
      adam_loop(ptr<float>(p), ptr<float>(gd), ptr<float>(m), ptr<float>(v), o.amsgrad ? ptr<float>(vmax) : nullptr,
                p.numel(), o, c, decoupled);
    else
      adam_loop(ptr<double>(p), ptr<double>(gd), ptr<double>(m), ptr<double>(v),
                o.amsgrad ? ptr<double>(vmax) : nullptr, p.numel(), o, c, decoupled);
    p.bump_version();
    return;
  }
  Tensor target = p;
  if (decoupled && o.weight_decay != 0.0) target.mul_(1.0 - o.lr * o.weight_decay);
  const Tensor d = !decoupled && o.weight_decay != 0.0 ? add(g, p, o.weight_decay) : g;
  m.copy_(add(mul(m, o.beta1), d, 1.0 - o.beta1));
  v.copy_(add(mul(v, o.beta2), mul(d, d), 1.0 - o.beta2));
  Tensor vv = v;
  if (o.amsgrad) {
    vmax.copy_(maximum(vmax, v));
    vv = vmax;
  }
  const Tensor denom = add(div(sqrt(vv), c.bc2_sqrt), o.eps);
  sub_(target, div(m, denom), c.step_size);
}

// ---------------------------------------------------------------------------------------------------------------
// RMSprop
namespace {

template <typename T>
void rmsprop_loop(T* p, const T* g, T* sq, T* buf, T* ga, int64_t n, const GroupOptions& o) {
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

}  // namespace

void rmsprop_update(const Tensor& p, const Tensor& g, Optimizer::ParamState& st, const GroupOptions& o) {
  ++st.step;
  const bool has_mu = o.momentum > 0.0;
  Tensor& sq = buffer(st, 0, p, "RMSprop");
  Tensor buf = has_mu ? buffer(st, 1, p, "RMSprop") : Tensor();
  Tensor ga = o.centered ? buffer(st, 2, p, "RMSprop") : Tensor();
  if (fusable(p)) {
    const Tensor gd = dense(g, p);
    if (p.dtype() == kFloat32)
      rmsprop_loop(ptr<float>(p), ptr<float>(gd), ptr<float>(sq), has_mu ? ptr<float>(buf) : nullptr,
                   o.centered ? ptr<float>(ga) : nullptr, p.numel(), o);
    else
      rmsprop_loop(ptr<double>(p), ptr<double>(gd), ptr<double>(sq), has_mu ? ptr<double>(buf) : nullptr,
                   o.centered ? ptr<double>(ga) : nullptr, p.numel(), o);
    p.bump_version();
    return;
  }
  const Tensor d = o.weight_decay != 0.0 ? add(g, p, o.weight_decay) : g;
  sq.copy_(add(mul(sq, o.alpha), mul(d, d), 1.0 - o.alpha));
  Tensor avg;
  if (o.centered) {
    ga.copy_(add(mul(ga, o.alpha), d, 1.0 - o.alpha));
    avg = add(sqrt(sub(sq, mul(ga, ga))), o.eps);
  } else {
    avg = add(sqrt(sq), o.eps);
  }
  Tensor target = p;
  if (has_mu) {
    buf.copy_(add(mul(buf, o.momentum), div(d, avg)));
    sub_(target, buf, o.lr);
  } else {
    sub_(target, div(d, avg), o.lr);
  }
}

}  // namespace tangent::optim::detail
