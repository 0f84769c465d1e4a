#include "nn/linear.h"

#include <cmath>

#include "nn/init.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/linalg.h"

namespace tangent::nn {

Linear::Linear(int64_t in_features, int64_t out_features, bool bias)
    : Linear(LinearOptions{in_features, out_features, bias}) {}

Linear::Linear(const LinearOptions& o) : options(o) {
  TANGENT_CHECK(o.in_features > 0 && o.out_features > 0, "Linear: features must be positive, got in=",
                o.in_features, " out=", o.out_features);
  Tensor w = empty({o.out_features, o.in_features});
  Tensor b = o.bias ? empty({o.out_features}) : Tensor();
  if (o.parametrization == Parametrization::NTK) {
    init::normal_(w);
    if (b.defined()) init::normal_(b);
  } else {
    const double bound = 1.0 / std::sqrt(static_cast<double>(o.in_features));
    init::uniform_(w, -bound, bound);
    if (b.defined()) init::uniform_(b, -bound, bound);
  }
  weight = register_parameter("weight", w);
  if (b.defined()) bias = register_parameter("bias", b);
}

double Linear::weight_scale() const {
  return options.parametrization == Parametrization::NTK
             ? options.sigma_w / std::sqrt(static_cast<double>(options.in_features))
             : 1.0;
}
double Linear::bias_scale() const { return options.parametrization == Parametrization::NTK ? options.sigma_b : 1.0; }

Tensor Linear::forward(const Tensor& x) {
  TANGENT_CHECK(x.dim() >= 1 && x.size(-1) == options.in_features, "Linear: expected input [..., ",
                options.in_features, "], got ", x.shape());
  if (options.parametrization == Parametrization::Standard) return linear(x, weight, bias);
  Tensor y = mul(linear(x, weight), weight_scale());
  return bias.defined() ? add(y, mul(bias, bias_scale())) : y;
}

std::string Linear::extra_repr() const {
  std::string s = "in_features=" + std::to_string(options.in_features) +
                  ", out_features=" + std::to_string(options.out_features) + ", bias=" + (options.bias ? "true" : "false");
  if (options.parametrization == Parametrization::NTK) s += ", parametrization=ntk";
  return s;
}

}  // namespace tangent::nn
