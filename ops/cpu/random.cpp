// Random fills from the Philox stream: element i draws from counter (offset + i) (two counters for float64
// normals), so results do not depend on the thread count.
#include <cmath>

#include "core/generator.h"
#include "core/parallel.h"
#include "ops/cpu/cpu_backend.h"

namespace tangent::cpu {

namespace {
// A uniform double in [0, 1) and a second independent one, from element i's Philox block.
inline void uniform_pair(PhiloxState s, int64_t i, double* u0, double* u1) {
  const auto r = philox4x32(s.offset + static_cast<uint64_t>(i), 0, s.seed);
  *u0 = uints_to_unit_double(r[0], r[1]);
  *u1 = uints_to_unit_double(r[2], r[3]);
}
}  // namespace

void CpuBackend::random(RandomKind kind, const Tensor& out, PhiloxState state, double p0, double p1) {
  TANGENT_CHECK(out.is_contiguous(), "random: the output must be contiguous");
  const int64_t n = out.numel();
  TANGENT_DISPATCH_ALL(out.dtype(), "random", [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(out.raw_data());
    parallel_for(n, 4096, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        double u0, u1;
        uniform_pair(state, i, &u0, &u1);
        double v = 0.0;
        switch (kind) {
          case RandomKind::Uniform:
            v = p0 + (p1 - p0) * u0;
            break;
          case RandomKind::Normal: {
            // Box-Muller on (u0, u1); 1 - u0 keeps the log argument in (0, 1].
            const double r = std::sqrt(-2.0 * std::log(1.0 - u0));
            v = p0 + p1 * r * std::cos(2.0 * 3.14159265358979323846 * u1);
            break;
          }
          case RandomKind::Bernoulli:
            v = u0 < p0 ? 1.0 : 0.0;
            break;
          case RandomKind::RandInt:
            v = std::floor(p0 + (p1 - p0) * u0);
            break;
        }
        if constexpr (std::is_same_v<T, bool>) {
          p[i] = v != 0.0;
        } else if constexpr (std::is_same_v<T, int64_t>) {
          p[i] = static_cast<int64_t>(v);
        } else {
          T t = T(static_cast<acc_t<T>>(v));
          // Rounding to a narrow type must not push a uniform draw onto its upper bound.
          if (kind == RandomKind::Uniform && static_cast<double>(static_cast<acc_t<T>>(t)) >= p1)
            t = T(static_cast<acc_t<T>>(p0));
          p[i] = t;
        }
      }
    });
  });
}

}  // namespace tangent::cpu
