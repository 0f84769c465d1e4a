#include "nn/activation.h"

#include <sstream>

#include "nn/functional.h"
#include "ops/elementwise.h"

namespace tangent::nn {

Tensor ReLU::forward(const Tensor& x) { return relu(x); }
Tensor GELU::forward(const Tensor& x) { return gelu(x, approximate); }
Tensor SiLU::forward(const Tensor& x) { return silu(x); }
Tensor Tanh::forward(const Tensor& x) { return tanh(x); }
Tensor Erf::forward(const Tensor& x) { return erf(x); }
Tensor Sigmoid::forward(const Tensor& x) { return sigmoid(x); }
Tensor Softplus::forward(const Tensor& x) { return softplus(x, beta, threshold); }

std::string Softplus::extra_repr() const {
  std::ostringstream os;
  os << "beta=" << beta << ", threshold=" << threshold;
  return os.str();
}

Dropout::Dropout(double p, Generator* generator) : p(p), generator(generator) {
  TANGENT_CHECK(p >= 0.0 && p <= 1.0, "Dropout: probability must be in [0, 1], got ", p);
}

Tensor Dropout::forward(const Tensor& x) { return functional::dropout(x, p, is_training(), generator); }

std::string Dropout::extra_repr() const {
  std::ostringstream os;
  os << "p=" << p;
  return os.str();
}

std::shared_ptr<Module> make_activation(const std::string& name) {
  if (name == "relu") return std::make_shared<ReLU>();
  if (name == "gelu") return std::make_shared<GELU>();
  if (name == "gelu_tanh") return std::make_shared<GELU>("tanh");
  if (name == "silu") return std::make_shared<SiLU>();
  if (name == "tanh") return std::make_shared<Tanh>();
  if (name == "sigmoid") return std::make_shared<Sigmoid>();
  if (name == "softplus") return std::make_shared<Softplus>();
  if (name == "erf") return std::make_shared<Erf>();
  TANGENT_FAIL("activation: unknown activation '", name,
               "' (expected relu, gelu, gelu_tanh, silu, tanh, sigmoid, softplus or erf)");
}

}  // namespace tangent::nn
