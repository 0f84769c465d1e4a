// Fits a small MLP to a synthetic regression task with autograd and plain SGD, printing the loss as it falls.
#include <cmath>
#include <cstdio>

#include <tangent/tangent.h>

using namespace tangent;

int main() {
  manual_seed(0);
  const int64_t n = 256, d = 8, h = 32;
  Tensor x = randn({n, d});
  Tensor y = sin(x.sum({1}, true));  // target: a smooth function of the inputs

  Tensor w1 = (randn({h, d}) * (1.0 / std::sqrt(d))).requires_grad_();
  Tensor b1 = zeros({h}).requires_grad_();
  Tensor w2 = (randn({1, h}) * (1.0 / std::sqrt(h))).requires_grad_();
  Tensor b2 = zeros({1}).requires_grad_();

  const double lr = 0.1;
  for (int step = 0; step <= 300; ++step) {
    Tensor pred = linear(tanh(linear(x, w1, b1)), w2, b2);
    Tensor loss = ((pred - y) * (pred - y)).mean();
    loss.backward();
    {
      NoGradGuard no_grad;
      for (Tensor* p : {&w1, &b1, &w2, &b2}) {
        p->sub_(p->grad() * lr);
        p->set_grad(Tensor());
      }
    }
    if (step % 50 == 0) std::printf("step %3d  loss %.5f\n", step, loss.item<double>());
  }
  return 0;
}
