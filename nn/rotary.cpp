#include "nn/rotary.h"

#include <cmath>
#include <vector>

#include "core/error.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/shape_ops.h"

namespace tangent::nn::functional {

RotaryTables rotary_tables(int64_t offset, int64_t t, int64_t d, double base) {
  TANGENT_CHECK(t >= 0 && d % 2 == 0 && d > 0 && offset >= 0 && base > 0, "rotary_tables: expected T >= 0, an even ",
                "head dim, offset >= 0 and base > 0, got ", t, ", ", d, ", ", offset, " and ", base);
  const int64_t half = d / 2;
  std::vector<double> c(static_cast<size_t>(t * d)), s(static_cast<size_t>(t * d));
  for (int64_t p = 0; p < t; ++p)
    for (int64_t i = 0; i < half; ++i) {
      const double angle = static_cast<double>(offset + p) * std::pow(base, -2.0 * static_cast<double>(i) / d);
      for (int64_t j : {i, i + half}) {
        c[static_cast<size_t>(p * d + j)] = std::cos(angle);
        s[static_cast<size_t>(p * d + j)] = std::sin(angle);
      }
    }
  return {tensor(c, {t, d}), tensor(s, {t, d})};
}

Tensor rotary_embedding(const Tensor& x, int64_t offset, double base) {
  TANGENT_CHECK(x.defined() && x.dim() >= 2, "rotary_embedding: expected x [..., T, D], got ",
                x.defined() ? x.shape() : Shape{});
  TANGENT_CHECK(x.is_floating_point(), "rotary_embedding: x must be floating point, got ", x.dtype());
  const int64_t t = x.size(-2), d = x.size(-1);
  TANGENT_CHECK(d % 2 == 0 && d > 0, "rotary_embedding: the head dim must be even, got ", d, " (x ", x.shape(), ")");
  TANGENT_CHECK(offset >= 0 && base > 0, "rotary_embedding: offset must be >= 0 and base > 0, got ", offset, " and ",
                base);
  const int64_t half = d / 2;
  const RotaryTables tables = rotary_tables(offset, t, d, base);
  const Tensor cos_t = tables.cos.to(x.dtype()).to(x.device());
  const Tensor sin_t = tables.sin.to(x.dtype()).to(x.device());
  const Tensor x1 = narrow(x, -1, 0, half), x2 = narrow(x, -1, half, half);
  const Tensor rotated = cat({neg(x2), x1}, -1);
  return add(mul(x, cos_t), mul(rotated, sin_t));
}

}  // namespace tangent::nn::functional
