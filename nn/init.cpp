#include "nn/init.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "ops/elementwise.h"
#include "ops/factory.h"

namespace tangent::nn::init {

std::pair<int64_t, int64_t> fans(const Tensor& w) {
  TANGENT_CHECK(w.dim() >= 2, "init: fan in/out need a weight with at least 2 dims, got shape ", w.shape());
  int64_t receptive = 1;
  for (int64_t d = 2; d < w.dim(); ++d) receptive *= w.size(d);
  return {w.size(1) * receptive, w.size(0) * receptive};
}

double calculate_gain(const std::string& nonlinearity, double param) {
  if (nonlinearity == "linear" || nonlinearity == "sigmoid" || nonlinearity.rfind("conv", 0) == 0) return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1.0 + param * param));
  if (nonlinearity == "selu") return 0.75;
  TANGENT_FAIL("calculate_gain: unknown nonlinearity '", nonlinearity, "'");
}

namespace {
void assign(Tensor& t, const Tensor& values) {
  NoGradGuard guard;
  t.copy_(values);
}
}  // namespace

void uniform_(Tensor& t, double low, double high, Generator* gen) {
  assign(t, add(mul(rand(t.shape(), t.options(), gen), high - low), low));
}
void normal_(Tensor& t, double mean, double std, Generator* gen) {
  assign(t, add(mul(randn(t.shape(), t.options(), gen), std), mean));
}
void constant_(Tensor& t, double value) {
  NoGradGuard guard;
  t.fill_(value);
}
void zeros_(Tensor& t) { constant_(t, 0.0); }
void ones_(Tensor& t) { constant_(t, 1.0); }

namespace {
double kaiming_std(const Tensor& t, double a, const std::string& mode, const std::string& nonlinearity) {
  const auto [fan_in, fan_out] = fans(t);
  TANGENT_CHECK(mode == "fan_in" || mode == "fan_out", "kaiming init: mode must be fan_in or fan_out, got ", mode);
  const double fan = static_cast<double>(mode == "fan_in" ? fan_in : fan_out);
  return calculate_gain(nonlinearity, a) / std::sqrt(fan);
}
}  // namespace

void kaiming_uniform_(Tensor& t, double a, const std::string& mode, const std::string& nonlinearity, Generator* gen) {
  const double bound = std::sqrt(3.0) * kaiming_std(t, a, mode, nonlinearity);
  uniform_(t, -bound, bound, gen);
}
void kaiming_normal_(Tensor& t, double a, const std::string& mode, const std::string& nonlinearity, Generator* gen) {
  normal_(t, 0.0, kaiming_std(t, a, mode, nonlinearity), gen);
}
void xavier_uniform_(Tensor& t, double gain, Generator* gen) {
  const auto [fan_in, fan_out] = fans(t);
  const double bound = gain * std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  uniform_(t, -bound, bound, gen);
}
void xavier_normal_(Tensor& t, double gain, Generator* gen) {
  const auto [fan_in, fan_out] = fans(t);
  normal_(t, 0.0, gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out)), gen);
}

}  // namespace tangent::nn::init
