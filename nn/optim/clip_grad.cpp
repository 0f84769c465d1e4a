// Gradient clipping by total norm and by value. CPU float32/float64 contiguous gradients are handled with raw loops
// (the norm summed in double over fixed blocks, so the result does not depend on the thread count); anything else
// is copied to a CPU float64 tensor for the norm and updated with tensor ops.
#include "nn/optim/clip_grad.h"

#include <algorithm>
#include <cmath>

#include "autograd/grad_mode.h"
#include "core/parallel.h"
#include "ops/elementwise.h"
#include "ops/shape_ops.h"

namespace tangent::optim {

namespace {

bool raw_ok(const Tensor& g) {
  return g.device().is_cpu() && (g.dtype() == kFloat32 || g.dtype() == kFloat64) && g.is_contiguous();
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

double grad_partial(const Tensor& g, double p) {
  Tensor h = g;
  if (!raw_ok(h)) h = contiguous(g.to(Device(kCPU)).to(kFloat64));
  return h.dtype() == kFloat32 ? norm_partial(h.data_ptr<float>(), h.numel(), p)
                               : norm_partial(h.data_ptr<double>(), h.numel(), p);
}

template <typename T, typename F>
void map_inplace(T* x, int64_t n, const F& f) {
  parallel_for(n, kParallelGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) x[i] = f(x[i]);
  });
}

}  // namespace

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type, bool error_if_nonfinite) {
  TANGENT_CHECK(norm_type > 0.0, "clip_grad_norm_: norm_type must be positive or infinity, got ", norm_type);
  TANGENT_CHECK(!std::isnan(max_norm), "clip_grad_norm_: max_norm is NaN");
  NoGradGuard no_grad;
  std::vector<Tensor> grads;
  for (const auto& p : params) {
    if (!p.defined()) continue;
    Tensor g = p.grad();
    if (g.defined()) grads.push_back(g);
  }
  if (grads.empty()) return 0.0;
  const bool inf = std::isinf(norm_type);
  double acc = 0.0;
  for (const auto& g : grads) {
    const double part = grad_partial(g, norm_type);
    acc = inf ? ((part > acc || std::isnan(part)) ? part : acc) : acc + part;
  }
  const double total = inf ? acc : norm_type == 2.0 ? std::sqrt(acc) : std::pow(acc, 1.0 / norm_type);
  TANGENT_CHECK(!error_if_nonfinite || std::isfinite(total), "clip_grad_norm_: the total norm of order ", norm_type,
                " of the gradients of ", grads.size(), " parameters is ", total,
                ", so they cannot be clipped; pass error_if_nonfinite = false to clip anyway");
  const double coef = max_norm / (total + 1e-6);
  if (coef >= 1.0) return total;  // a NaN total falls through and scales by NaN, as PyTorch does
  for (auto& g : grads) {
    if (raw_ok(g)) {
      if (g.dtype() == kFloat32) {
        const float c = static_cast<float>(coef);
        map_inplace(g.data_ptr<float>(), g.numel(), [c](float x) { return x * c; });
      } else {
        map_inplace(g.data_ptr<double>(), g.numel(), [coef](double x) { return x * coef; });
      }
      g.bump_version();
    } else {
      g.mul_(coef);
    }
  }
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  TANGENT_CHECK(clip_value >= 0.0, "clip_grad_value_: clip_value must be >= 0, got ", clip_value);
  NoGradGuard no_grad;
  for (const auto& p : params) {
    if (!p.defined()) continue;
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (raw_ok(g)) {
      auto clampf = [](auto x, auto c) { return x < -c ? -c : (x > c ? c : x); };
      if (g.dtype() == kFloat32) {
        const float c = static_cast<float>(clip_value);
        map_inplace(g.data_ptr<float>(), g.numel(), [&](float x) { return clampf(x, c); });
      } else {
        map_inplace(g.data_ptr<double>(), g.numel(), [&](double x) { return clampf(x, clip_value); });
      }
      g.bump_version();
    } else {
      clamp_(g, Scalar(-clip_value), Scalar(clip_value));
    }
  }
}

}  // namespace tangent::optim
