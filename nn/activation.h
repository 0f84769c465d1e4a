#pragma once
// Activation layers and Dropout: parameter-free modules wrapping the functional ops.
#include <string>

#include "core/generator.h"
#include "nn/module.h"

namespace tangent::nn {

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ReLU"; }
};

class GELU : public Module {
 public:
  explicit GELU(std::string approximate = "none") : approximate(std::move(approximate)) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "GELU"; }
  std::string extra_repr() const override { return approximate == "none" ? "" : "approximate=" + approximate; }
  std::string approximate;
};

class SiLU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "SiLU"; }
};

class Tanh : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Tanh"; }
};

// erf(x): the activation whose infinite-width kernel has the arcsine closed form (nn/ntk/analytic.h).
class Erf : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Erf"; }
};

class Sigmoid : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sigmoid"; }
};

class Softplus : public Module {
 public:
  explicit Softplus(double beta = 1.0, double threshold = 20.0) : beta(beta), threshold(threshold) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Softplus"; }
  std::string extra_repr() const override;
  double beta, threshold;
};

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, Generator* generator = nullptr);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dropout"; }
  std::string extra_repr() const override;
  double p;
  Generator* generator;  // null: the global generator
};

// Makes an activation module from its name: relu, gelu, gelu_tanh, silu, tanh, sigmoid or softplus.
std::shared_ptr<Module> make_activation(const std::string& name);

}  // namespace tangent::nn
