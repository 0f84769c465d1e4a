#pragma once
// The infinite-width NTK and NNGP kernels of fully connected networks (nn/ntk/analytic.cpp), closed forms for
// ReLU (arc-cosine kernel) and erf (arcsine kernel). The network: depth hidden layers, each Linear then the
// activation, then a Linear readout; every output is i.i.d., so the kernels are [N1, N2] and the full kernel is
// kernel (x) I_O.
//
// NTK parametrisation (Jacot et al.; nn::Parametrization::NTK): z' = sigma_w / sqrt(n) W phi(z) + sigma_b b,
// W, b ~ N(0, 1), with the recursion
//   Sigma^1 = sigma_w^2 x.x'/d + sigma_b^2,              Theta^1 = Sigma^1
//   Sigma^{l+1} = sigma_w^2 E[phi(u) phi(v)] + sigma_b^2,  (u, v) ~ N(0, [[S(x,x), S(x,x')], [., S(x',x')]])
//   dSigma^{l+1} = sigma_w^2 E[phi'(u) phi'(v)],          Theta^{l+1} = Sigma^{l+1} + dSigma^{l+1} Theta^l
// Standard parametrisation (PyTorch-style, W ~ (0, sigma_w^2 / n), b ~ (0, sigma_b^2)): the NNGP is the same, but
// the weights' derivative is the activation itself, so with the actual widths n_l
//   Theta^1 = x.x' + 1,   Theta^{l+1} = n_l E[phi phi] + 1 + sigma_w^2 E[phi' phi'] Theta^l   (+1: bias present)
// and the kernel grows in proportion to the width. PyTorch's default U(-1/sqrt(n), 1/sqrt(n)) init has
// sigma_w^2 = 1/3 and bias variance 1/(3 n) per layer (models::analytic_options_for, models/analytic_ntk.h, fills
// these in for a models::MLP).
#include <string>
#include <vector>

#include "core/tensor.h"
#include "nn/linear.h"

namespace tangent::ntk {

struct AnalyticOptions {
  std::string activation = "relu";  // "relu" or "erf"
  int64_t depth = 1;                // hidden layers (Linear + activation); a readout Linear follows
  double sigma_w = 1.0;
  double sigma_b = 0.0;
  nn::Parametrization parametrization = nn::Parametrization::NTK;
  bool bias = true;                    // standard parametrisation: the bias adds 1 to each layer's NTK term
  std::vector<int64_t> widths;         // standard parametrisation: the depth hidden widths
  std::vector<double> sigma_b_layers;  // optional per-Linear bias std (depth + 1 entries), overrides sigma_b
};

struct AnalyticKernels {
  Tensor ntk;   // float64 [N1, N2]
  Tensor nngp;  // float64 [N1, N2]
};

// Inputs [N, ...] (flattened to [N, d]; d equal for both); undefined x2: x1 against itself.
AnalyticKernels analytic_kernels(const Tensor& x1, const Tensor& x2 = Tensor(), const AnalyticOptions& options = {});
Tensor analytic_ntk(const Tensor& x1, const Tensor& x2 = Tensor(), const AnalyticOptions& options = {});
Tensor analytic_nngp(const Tensor& x1, const Tensor& x2 = Tensor(), const AnalyticOptions& options = {});

// Raises an Error naming `op` unless `activation` has a closed-form kernel here (relu or erf).
void check_activation(const std::string& activation, const char* op);

// The Gaussian expectations behind the recursion, for (u, v) ~ N(0, [[q11, q12], [q12, q22]]): E[phi(u) phi(v)]
// and E[phi'(u) phi'(v)] (exposed for tests).
double expected_product(const std::string& activation, double q11, double q12, double q22);
double expected_derivative_product(const std::string& activation, double q11, double q12, double q22);

}  // namespace tangent::ntk
