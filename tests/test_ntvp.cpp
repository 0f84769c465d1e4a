// NTK-vector products (nn/ntk/ntvp.h): J(x1) (J(x2)^T v) from one vjp and one jvp, against the full kernel of
// the jacobian method contracted with v, on an MLP and a ConvNet in float64; and the shape error.
#include <gtest/gtest.h>

#include <string>

#include <tangent/tangent.h>

#include "nn/ntk/ntk.h"
#include "nn/ntk/ntvp.h"
#include "support/errors.h"
#include "support/gradcheck.h"

namespace tangent::testing {
namespace {

// Theta(x1, x2) . v from the full kernel [N1, N2, O, O]: sum over j, b of Theta[i, j, a, b] v[j, b].
Tensor contracted_kernel(nn::Module& model, const Tensor& x1, const Tensor& x2, const Tensor& v) {
  ntk::NtkOptions o;
  o.mode = ntk::Mode::Full;
  o.method = ntk::Method::Jacobian;
  const Tensor k = ntk::empirical_ntk(model, x1, x2, o).kernel;  // [N1, N2, O, O]
  const int64_t n1 = k.size(0), n2 = k.size(1), out = k.size(2);
  const Tensor m = reshape(permute(k, {0, 2, 1, 3}), {n1 * out, n2 * out});
  return reshape(matmul(m, reshape(v, {-1})), {n1, out});
}

void expect_matches_kernel(nn::Module& model, const Tensor& x1, const Tensor& x2, const std::string& what) {
  model.to(kFloat64);
  const int64_t n2 = (x2.defined() ? x2 : x1).size(0);
  const Tensor v = randn({n2, 3}, kFloat64);
  const Tensor got = ntk::ntk_vector_product(model, x1, x2, v);
  const Tensor expected = contracted_kernel(model, x1, x2.defined() ? x2 : x1, v);
  ASSERT_EQ(got.shape(), expected.shape()) << what;
  EXPECT_TRUE(all_close(got, expected, 1e-9, 1e-10)) << what;
  EXPECT_GT(max_abs_diff(expected, zeros_like(expected)), 1e-3) << what;
}

TEST(Ntvp, MatchesTheJacobianKernelOnAnMlpAndAConvNet) {
  manual_seed(21);
  models::MLPOptions mo;
  mo.input_shape = {5};
  mo.hidden = {7, 6};
  mo.out_features = 3;
  mo.activation = "tanh";
  models::MLP mlp(mo);
  expect_matches_kernel(mlp, randn({4, 5}, kFloat64), randn({3, 5}, kFloat64), "mlp, x1 against x2");
  expect_matches_kernel(mlp, randn({4, 5}, kFloat64), Tensor(), "mlp, x1 against itself");

  models::ConvNetOptions co;
  co.input_shape = {1, 6, 6};
  co.channels = {2, 3};
  co.hidden = 5;
  co.num_classes = 3;
  models::ConvNet cnn(co);
  cnn.train();  // taken in eval mode (dropout off) and restored
  expect_matches_kernel(cnn, randn({3, 1, 6, 6}, kFloat64), randn({2, 1, 6, 6}, kFloat64), "cnn");
  EXPECT_TRUE(cnn.is_training());
}

TEST(Ntvp, AVectorOfTheWrongSizeIsAnError) {
  models::MLPOptions mo;
  mo.input_shape = {5};
  mo.hidden = {4};
  mo.out_features = 3;
  models::MLP mlp(mo);
  expect_error(
      [&] {
        ntk::ntk_vector_product(mlp, randn({4, 5}), randn({2, 5}), randn({4, 3}));
      },
      {"ntk_vector_product", "[4, 3]", "[2, 3]"});
}

}  // namespace
}  // namespace tangent::testing
