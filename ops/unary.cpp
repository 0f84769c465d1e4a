// Unary elementwise ops with their backward (written with differentiable ops, so they nest).
#include <cmath>

#include "autograd/forward_ad.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/internal.h"

namespace tangent {

namespace {

constexpr double kPi = 3.14159265358979323846;

// Integer and bool inputs to floating functions compute in float32 (PyTorch's rule).
Tensor floating_input(const Tensor& x) { return x.is_floating_point() ? x : detail::cast_raw(x, kFloat32); }

Tensor unary_raw(UnaryOp op, const Tensor& x, double p0 = 0.0, double p1 = 0.0) {
  Tensor out = detail::new_empty(x.shape(), op == UnaryOp::LogicalNot ? kBool : x.dtype(), x.device());
  backend_for(x).unary(op, x, out, p0, p1);
  return out;
}

// What a unary op's backward reads: its input, its output, or neither. A node saves only that.
enum class Reads { Input, Output, Nothing };

// A floating unary op: computes, then records `backward(g, saved)` when needed, where `saved` is the input or
// the output (as `reads` says; undefined for Reads::Nothing).
template <typename F>
Tensor floating_unary(UnaryOp op, const Tensor& input, Reads reads, F backward, double p0 = 0.0, double p1 = 0.0) {
  detail::check_defined(input, unary_op_name(op));
  const Tensor x = floating_input(input);
  Tensor out = unary_raw(op, x, p0, p1);
  // jvp: the Jacobian is diagonal, so the backward applied to the tangent is the tangent's image.
  autograd::forward::rule(unary_op_name(op), out, {x}, [&](const std::vector<Tensor>& t) {
    return backward(t[0], reads == Reads::Input ? x : reads == Reads::Output ? out : Tensor());
  });
  if (autograd::needs_grad(x)) {
    auto fn = [backward, reads](const Tensor& g, autograd::Context& ctx) {
      const Tensor saved = reads == Reads::Input ? ctx.saved(0) : reads == Reads::Output ? ctx.output() : Tensor();
      return std::vector<Tensor>{backward(g, saved)};
    };
    if (reads == Reads::Input) {
      autograd::record(unary_op_name(op), out, {x}, {x}, fn);
    } else {
      autograd::record(unary_op_name(op), out, {x}, {}, fn, /*save_output=*/reads == Reads::Output);
    }
  }
  return out;
}

}  // namespace

Tensor neg(const Tensor& x) {
  detail::check_defined(x, "neg");
  TANGENT_CHECK(x.dtype() != kBool, "neg: not supported for bool tensors (shape ", x.shape(), "); use logical_not");
  Tensor out = unary_raw(UnaryOp::Neg, x);
  autograd::forward::rule("neg", out, {x}, [](const std::vector<Tensor>& t) { return neg(t[0]); });
  if (autograd::needs_grad(x))
    autograd::record("neg", out, {x}, {},
                     [](const Tensor& g, autograd::Context&) { return std::vector<Tensor>{neg(g)}; });
  return out;
}

Tensor exp(const Tensor& x) {
  return floating_unary(UnaryOp::Exp, x, Reads::Output, [](const Tensor& g, const Tensor& y) { return mul(g, y); });
}

Tensor log(const Tensor& x) {
  return floating_unary(UnaryOp::Log, x, Reads::Input, [](const Tensor& g, const Tensor& v) { return div(g, v); });
}

Tensor log1p(const Tensor& x) {
  return floating_unary(UnaryOp::Log1p, x, Reads::Input,
                        [](const Tensor& g, const Tensor& v) { return div(g, add(v, 1.0)); });
}

Tensor sqrt(const Tensor& x) {
  return floating_unary(UnaryOp::Sqrt, x, Reads::Output,
                        [](const Tensor& g, const Tensor& y) { return div(g, mul(y, 2.0)); });
}

Tensor rsqrt(const Tensor& x) {
  return floating_unary(UnaryOp::Rsqrt, x, Reads::Output,
                        [](const Tensor& g, const Tensor& y) { return mul(g, mul(pow(y, 3.0), -0.5)); });
}

Tensor abs(const Tensor& x) {
  detail::check_defined(x, "abs");
  if (!x.is_floating_point()) return unary_raw(UnaryOp::Abs, x);
  return floating_unary(UnaryOp::Abs, x, Reads::Input,
                        [](const Tensor& g, const Tensor& v) { return mul(g, sign(v)); });
}

Tensor sign(const Tensor& x) {
  detail::check_defined(x, "sign");
  if (!x.is_floating_point()) return unary_raw(UnaryOp::Sign, x);
  return floating_unary(UnaryOp::Sign, x, Reads::Nothing, [](const Tensor& g, const Tensor&) { return mul(g, 0.0); });
}

Tensor sin(const Tensor& x) {
  return floating_unary(UnaryOp::Sin, x, Reads::Input, [](const Tensor& g, const Tensor& v) { return mul(g, cos(v)); });
}

Tensor cos(const Tensor& x) {
  return floating_unary(UnaryOp::Cos, x, Reads::Input,
                        [](const Tensor& g, const Tensor& v) { return neg(mul(g, sin(v))); });
}

Tensor tanh(const Tensor& x) {
  return floating_unary(UnaryOp::Tanh, x, Reads::Output, [](const Tensor& g, const Tensor& y) {
    return mul(g, sub(scalar_tensor(1.0, y.dtype()), mul(y, y)));
  });
}

Tensor sigmoid(const Tensor& x) {
  return floating_unary(UnaryOp::Sigmoid, x, Reads::Output, [](const Tensor& g, const Tensor& y) {
    return mul(g, mul(y, sub(scalar_tensor(1.0, y.dtype()), y)));
  });
}

Tensor relu(const Tensor& x) {
  detail::check_defined(x, "relu");
  if (!x.is_floating_point()) return maximum(x, zeros({}, x.dtype()));
  // relu'(x) = [y > 0] = sign(y) for y = relu(x) >= 0 (NaN gives 0, as y > 0 would): two kernels, no scalar
  // tensor and no bool-to-float cast. The mask carries no gradient (detached), as relu'' = 0.
  return floating_unary(UnaryOp::Relu, x, Reads::Output,
                        [](const Tensor& g, const Tensor& y) { return mul(g, sign(y.detach())); });
}

namespace {

// d/dx gelu(x) = Phi(x) + x phi(x) in one kernel (GeluGrad); its own derivative is phi(x) (2 - x^2), so gelu
// has a second derivative under create_graph.
Tensor gelu_grad(const Tensor& x) {
  return floating_unary(UnaryOp::GeluGrad, x, Reads::Input, [](const Tensor& g, const Tensor& v) {
    const Tensor pdf = mul(exp(mul(mul(v, v), -0.5)), 1.0 / std::sqrt(2.0 * kPi));
    return mul(g, mul(pdf, sub(scalar_tensor(2.0, v.dtype()), mul(v, v))));
  });
}

}  // namespace

Tensor gelu(const Tensor& x, const std::string& approximate) {
  if (approximate == "tanh") {
    return floating_unary(UnaryOp::GeluTanh, x, Reads::Input, [](const Tensor& g, const Tensor& v) {
      // y = x/2 (1 + tanh u), u = k (x + c x^3): dy/dx = (1 + t)/2 + x/2 (1 - t^2) k (1 + 3 c x^2)
      const double k = std::sqrt(2.0 / kPi), c = 0.044715;
      const Tensor x2 = mul(v, v);
      const Tensor t = tanh(mul(mul(v, add(mul(x2, c), 1.0)), k));
      const Tensor one = scalar_tensor(1.0, v.dtype());
      const Tensor d =
          add(mul(add(t, 1.0), 0.5), mul(mul(mul(v, sub(one, mul(t, t))), add(mul(x2, 3.0 * c), 1.0)), 0.5 * k));
      return mul(g, d);
    });
  }
  TANGENT_CHECK(approximate == "none", "gelu: approximate must be \"none\" or \"tanh\", got \"", approximate, "\"");
  return floating_unary(UnaryOp::Gelu, x, Reads::Input,
                        [](const Tensor& g, const Tensor& v) { return mul(g, gelu_grad(v)); });
}

Tensor silu(const Tensor& x) {
  return floating_unary(UnaryOp::Silu, x, Reads::Input, [](const Tensor& g, const Tensor& v) {
    const Tensor s = sigmoid(v);
    return mul(g, mul(s, add(mul(v, sub(scalar_tensor(1.0, s.dtype()), s)), 1.0)));
  });
}

Tensor softplus(const Tensor& x, double beta, double threshold) {
  TANGENT_CHECK(beta > 0.0, "softplus: beta must be positive, got ", beta);
  return floating_unary(
      UnaryOp::Softplus, x, Reads::Input,
      [beta, threshold](const Tensor& g, const Tensor& v) {
        const Tensor bx = mul(v, beta);
        return mul(g, where(gt(bx, threshold), ones({}, v.dtype()), sigmoid(bx)));
      },
      beta, threshold);
}

Tensor erf(const Tensor& x) {
  return floating_unary(UnaryOp::Erf, x, Reads::Input, [](const Tensor& g, const Tensor& v) {
    return mul(g, mul(exp(neg(mul(v, v))), 2.0 / std::sqrt(kPi)));
  });
}

Tensor reciprocal(const Tensor& x) {
  return floating_unary(UnaryOp::Reciprocal, x, Reads::Output,
                        [](const Tensor& g, const Tensor& y) { return neg(mul(g, mul(y, y))); });
}

Tensor square(const Tensor& x) {
  detail::check_defined(x, "square");
  if (!x.is_floating_point()) return unary_raw(UnaryOp::Square, x);
  return floating_unary(UnaryOp::Square, x, Reads::Input,
                        [](const Tensor& g, const Tensor& v) { return mul(g, mul(v, 2.0)); });
}

Tensor pow(const Tensor& a, const Scalar& exponent) {
  detail::check_defined(a, "pow");
  if (!a.is_floating_point() && exponent.is_integral() && exponent.to_int() >= 0)
    return pow(a, detail::wrap_scalar(exponent, a.device()));
  const double e = exponent.to_double();
  return floating_unary(
      UnaryOp::PowScalar, a, Reads::Input,
      [e](const Tensor& g, const Tensor& v) {
        if (e == 0.0) return mul(g, 0.0);
        if (e == 1.0) return g;
        if (e == 2.0) return mul(g, mul(v, 2.0));
        return mul(g, mul(pow(v, e - 1.0), e));
      },
      e);
}

Tensor clamp(const Tensor& x, std::optional<Scalar> min, std::optional<Scalar> max) {
  detail::check_defined(x, "clamp");
  TANGENT_CHECK(min || max, "clamp: at least one of min and max must be given");
  const double lo = min ? min->to_double() : -INFINITY, hi = max ? max->to_double() : INFINITY;
  TANGENT_CHECK(x.dtype() != kBool, "clamp: not supported for bool tensors");
  Tensor out = unary_raw(UnaryOp::Clamp, x, lo, hi);
  autograd::forward::rule("clamp", out, {x},
                          [&](const std::vector<Tensor>& t) { return mul(t[0], logical_and(ge(x, lo), le(x, hi))); });
  if (autograd::needs_grad(x)) {
    autograd::record("clamp", out, {x}, {x}, [lo, hi](const Tensor& g, autograd::Context& ctx) {
      const Tensor v = ctx.saved(0);
      return std::vector<Tensor>{mul(g, logical_and(ge(v, lo), le(v, hi)))};
    });
  }
  return out;
}

Tensor clamp_min(const Tensor& x, const Scalar& min) { return clamp(x, min, std::nullopt); }
Tensor clamp_max(const Tensor& x, const Scalar& max) { return clamp(x, std::nullopt, max); }

// Piecewise constant: the gradient is zero (as PyTorch's), and the node saves nothing.
Tensor floor(const Tensor& x) {
  detail::check_defined(x, "floor");
  TANGENT_CHECK(x.dtype() != kBool, "floor: not supported for bool tensors (shape ", x.shape(), ")");
  if (!x.is_floating_point()) return unary_raw(UnaryOp::Floor, x);
  return floating_unary(UnaryOp::Floor, x, Reads::Nothing,
                        [](const Tensor& g, const Tensor&) { return zeros_like(g); });
}

Tensor round(const Tensor& x) {
  detail::check_defined(x, "round");
  TANGENT_CHECK(x.dtype() != kBool, "round: not supported for bool tensors (shape ", x.shape(), ")");
  if (!x.is_floating_point()) return unary_raw(UnaryOp::Round, x);
  return floating_unary(UnaryOp::Round, x, Reads::Nothing,
                        [](const Tensor& g, const Tensor&) { return zeros_like(g); });
}

Tensor logical_not(const Tensor& x) {
  detail::check_defined(x, "logical_not");
  return unary_raw(UnaryOp::LogicalNot, x);
}

Tensor to_dtype(const Tensor& x, DType dtype) {
  detail::check_defined(x, "to");
  if (x.dtype() == dtype) return x;
  Tensor out = detail::cast_raw(x, dtype);
  if (is_floating_point(dtype))
    autograd::forward::rule("to", out, {x}, [dtype](const std::vector<Tensor>& t) { return to_dtype(t[0], dtype); });
  if (is_floating_point(dtype) && autograd::needs_grad(x)) {
    autograd::record("to", out, {x}, {}, [](const Tensor& g, autograd::Context&) {
      return std::vector<Tensor>{g};  // the engine casts it back to the input's dtype
    });
  }
  return out;
}

}  // namespace tangent
