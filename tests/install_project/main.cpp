// Uses the installed headers and library: y = 3 x^2 at x = (1, 2, 3), and its gradient 6 x (a vector-Jacobian
// product with ones).
#include <cstdio>

#include <tangent/tangent.h>

int main() {
  using namespace tangent;
  Tensor x = tensor(std::vector<float>{1, 2, 3}, {3}).requires_grad_();
  Tensor y = x * x * 3.0;
  y.backward(ones_like(y));
  const std::vector<float> v = to_vector<float>(y), g = to_vector<float>(x.grad());
  std::printf("y: %g %g %g\ngrad: %g %g %g\n", v[0], v[1], v[2], g[0], g[1], g[2]);
  std::printf("cuda available: %s\n", cuda::is_available() ? "yes" : "no");
  return 0;
}
