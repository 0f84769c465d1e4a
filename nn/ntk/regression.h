#pragma once
// Kernel regression with the NTK (nn/ntk/regression.cpp): the predictions of the linearised network trained by
// gradient flow on the MSE loss L = |f(X) - Y|^2 / (2 N O) (neural-tangents' predict.gradient_descent_mse):
//   f_train(t) = Y + exp(-eta Theta t / (N O)) (f_train0 - Y)
//   f_test(t)  = f_test0 + Theta_te,tr Theta^-1 (I - exp(-eta Theta t / (N O))) (Y - f_train0)
// t = inf solves with a Cholesky factorisation; finite t diagonalises Theta (eigh; eigenvalues clamped at >= 0,
// so a singular Theta is fine for finite t). A diagonal regulariser diag_reg is added to Theta_tr,tr, scaled by
// trace / dim unless diag_reg_absolute (then f_train(inf) is kernel ridge regression, no longer Y).
//
// Kernels are [N1, N2] (meaning kernel (x) I_O, as the trace mode or the analytic kernel give them) or the full
// [N1, N2, O, O]; targets and initial outputs are [N, O] (or [N], O = 1). Results are float64.
#include <limits>

#include "core/tensor.h"

namespace tangent::ntk {

struct RegressionOptions {
  double t = std::numeric_limits<double>::infinity();  // training time (in steps of learning_rate)
  double learning_rate = 1.0;
  double diag_reg = 0.0;
  bool diag_reg_absolute = false;
};

struct RegressionResult {
  Tensor train;            // f_train(t), [N, O]
  Tensor test;             // f_test(t), [M, O] (undefined without a test kernel)
  double regularizer = 0;  // the absolute value added to the diagonal
};

// k_train_train: Theta(X_train, X_train); k_test_train: Theta(X_test, X_train) or undefined; fx_train_0 and
// fx_test_0: the network's outputs at initialisation (undefined: zeros).
RegressionResult gradient_descent_mse(const Tensor& k_train_train, const Tensor& y_train,
                                      const Tensor& k_test_train = Tensor(), const Tensor& fx_train_0 = Tensor(),
                                      const Tensor& fx_test_0 = Tensor(), const RegressionOptions& options = {});

// Fraction of rows whose argmax matches the int64 labels [N].
double accuracy(const Tensor& predictions, const Tensor& labels);

}  // namespace tangent::ntk
