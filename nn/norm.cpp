#include "nn/norm.h"

#include <sstream>

#include "autograd/grad_mode.h"
#include "nn/functional.h"
#include "ops/elementwise.h"
#include "ops/factory.h"

namespace tangent::nn {

namespace F = functional;

BatchNorm::BatchNorm(int64_t n, int64_t lo, int64_t hi, const char* name, double eps, double momentum, bool affine)
    : num_features(n), eps(eps), momentum(momentum), lo_(lo), hi_(hi), name_(name) {
  TANGENT_CHECK(n > 0, name, ": num_features must be positive, got ", n);
  if (affine) {
    weight = register_parameter("weight", ones({n}));
    bias = register_parameter("bias", zeros({n}));
  }
  running_mean = register_buffer("running_mean", zeros({n}));
  running_var = register_buffer("running_var", ones({n}));
  num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, kInt64));
}

Tensor BatchNorm::forward(const Tensor& x) {
  TANGENT_CHECK(x.dim() >= lo_ && x.dim() <= hi_ && x.size(1) == num_features, name_, ": expected input with ",
                lo_ == hi_ ? std::to_string(lo_) : std::to_string(lo_) + " or " + std::to_string(hi_),
                " dims and ", num_features, " channels at dim 1, got ", x.shape());
  Tensor y = F::batch_norm(x, running_mean, running_var, weight, bias, is_training(), momentum, eps);
  if (is_training()) {  // counted only once the batch was accepted
    NoGradGuard guard;
    num_batches_tracked.add_(ones({}, kInt64));
  }
  return y;
}

std::string BatchNorm::extra_repr() const {
  std::ostringstream os;
  os << num_features << ", eps=" << eps << ", momentum=" << momentum;
  return os.str();
}

LayerNorm::LayerNorm(const Shape& shape, double eps, bool affine) : normalized_shape(shape), eps(eps) {
  TANGENT_CHECK(!shape.empty(), "LayerNorm: normalized_shape must not be empty");
  if (affine) {
    weight = register_parameter("weight", ones(shape));
    bias = register_parameter("bias", zeros(shape));
  }
}

namespace {
// x must end with `shape` (checked even without affine parameters, which would otherwise catch it).
void check_trailing(const Tensor& x, const Shape& shape, const char* name) {
  const int64_t k = static_cast<int64_t>(shape.size());
  TANGENT_CHECK(x.dim() >= k && Shape(x.shape().begin() + (x.dim() - k), x.shape().end()) == shape, name,
                ": expected an input ending with the normalised shape ", shape, ", got ", x.shape());
}
}  // namespace

Tensor LayerNorm::forward(const Tensor& x) {
  check_trailing(x, normalized_shape, "LayerNorm");
  return F::layer_norm(x, static_cast<int64_t>(normalized_shape.size()), weight, bias, eps);
}

std::string LayerNorm::extra_repr() const {
  std::ostringstream os;
  os << normalized_shape << ", eps=" << eps;
  return os.str();
}

RMSNorm::RMSNorm(const Shape& shape, double eps, bool affine) : normalized_shape(shape), eps(eps) {
  TANGENT_CHECK(!shape.empty(), "RMSNorm: normalized_shape must not be empty");
  if (affine) weight = register_parameter("weight", ones(shape));
}

Tensor RMSNorm::forward(const Tensor& x) {
  check_trailing(x, normalized_shape, "RMSNorm");
  return F::rms_norm(x, static_cast<int64_t>(normalized_shape.size()), weight, eps);
}

std::string RMSNorm::extra_repr() const {
  std::ostringstream os;
  os << normalized_shape << ", eps=" << eps;
  return os.str();
}

}  // namespace tangent::nn
