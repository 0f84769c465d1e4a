#include "nn/activation.h"

#include <cmath>
#include <sstream>

#include "nn/functional.h"
#include "nn/onnx_emitter.h"
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

// ---- the activations and Dropout in ONNX export (nn/onnx_emitter.h); they have no parameters, so no NTK rule ----
namespace {

constexpr double kPi = 3.14159265358979323846;

std::string emit_gelu(GELU& g, OnnxContext& c, const std::string& x) {
  if (g.approximate == "tanh") {
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    const std::string doc = "GELU (tanh approximation): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))";
    const std::string cube = c.node("Pow", {x, c.constant(3.0)}, doc);
    const std::string inner = c.node("Add", {x, c.node("Mul", {cube, c.constant(0.044715)})});
    const std::string t = c.node("Tanh", {c.node("Mul", {inner, c.constant(std::sqrt(2.0 / kPi))})});
    const std::string half_x = c.node("Mul", {x, c.constant(0.5)});
    return c.node("Mul", {half_x, c.node("Add", {t, c.constant(1.0)})});
  }
  if (g.approximate != "none") c.unsupported("unknown approximation '" + g.approximate + "'");
  const std::string doc = "GELU (exact): 0.5 x (1 + erf(x / sqrt(2)))";
  const std::string e = c.node("Erf", {c.node("Div", {x, c.constant(std::sqrt(2.0))}, doc)});
  const std::string half_x = c.node("Mul", {x, c.constant(0.5)});
  return c.node("Mul", {half_x, c.node("Add", {e, c.constant(1.0)})});
}

std::string emit_softplus(Softplus& sp, OnnxContext& c, const std::string& x) {
  // ONNX Softplus has no threshold; above it log(1 + exp(x)) equals x to float precision anyway.
  if (sp.beta == 1.0) return c.node("Softplus", {x}, "Softplus " + sp.extra_repr());
  const std::string bx =
      c.node("Mul", {x, c.constant(sp.beta)}, "Softplus " + sp.extra_repr() + ": softplus(beta x) / beta");
  return c.node("Div", {c.node("Softplus", {bx}), c.constant(sp.beta)});
}

// One ONNX operator of the same name.
template <typename M>
bool register_unary(const std::string& name, const char* op) {
  return register_onnx_emitter<M>(name, [op](M&, OnnxContext& c, const std::string& x) { return c.node(op, {x}); });
}

[[maybe_unused]] const bool kOnnx =
    register_unary<ReLU>("ReLU", "Relu") && register_unary<Sigmoid>("Sigmoid", "Sigmoid") &&
    register_unary<Tanh>("Tanh", "Tanh") && register_unary<Erf>("Erf", "Erf") &&
    register_onnx_emitter<SiLU>("SiLU",
                                [](SiLU&, OnnxContext& c, const std::string& x) {
                                  return c.node("Mul", {x, c.node("Sigmoid", {x})}, "SiLU: x * sigmoid(x)");
                                }) &&
    register_onnx_emitter<GELU>("GELU", emit_gelu) && register_onnx_emitter<Softplus>("Softplus", emit_softplus) &&
    register_onnx_emitter<Dropout>("Dropout", [](Dropout&, OnnxContext&, const std::string& x) {
      return x;  // identity at inference
    });

}  // namespace

}  // namespace tangent::nn
