#pragma once
// Parameter initialisers, in place and without recording history (like torch.nn.init). Each draws from the
// global generator unless given one.
#include <string>

#include "core/generator.h"
#include "core/tensor.h"

namespace tangent::nn::init {

// fan_in and fan_out of a weight: [out, in] or [out, in/groups, kH, kW].
std::pair<int64_t, int64_t> fans(const Tensor& weight);
// The recommended gain for a nonlinearity: "linear", "relu" (sqrt 2), "tanh" (5/3), "leaky_relu", "sigmoid" (1).
double calculate_gain(const std::string& nonlinearity, double param = 0.01);

void uniform_(Tensor& t, double low = 0.0, double high = 1.0, Generator* gen = nullptr);
void normal_(Tensor& t, double mean = 0.0, double std = 1.0, Generator* gen = nullptr);
void constant_(Tensor& t, double value);
void zeros_(Tensor& t);
void ones_(Tensor& t);
// mode "fan_in" or "fan_out".
void kaiming_uniform_(Tensor& t, double a = 0.0, const std::string& mode = "fan_in",
                      const std::string& nonlinearity = "leaky_relu", Generator* gen = nullptr);
void kaiming_normal_(Tensor& t, double a = 0.0, const std::string& mode = "fan_in",
                     const std::string& nonlinearity = "leaky_relu", Generator* gen = nullptr);
void xavier_uniform_(Tensor& t, double gain = 1.0, Generator* gen = nullptr);
void xavier_normal_(Tensor& t, double gain = 1.0, Generator* gen = nullptr);

}  // namespace tangent::nn::init
