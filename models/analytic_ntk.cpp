// The analytic kernel options of a models::MLP (see models/analytic_ntk.h).
#include "models/analytic_ntk.h"

#include <cmath>

#include "core/error.h"
#include "models/mlp.h"

namespace tangent::models {

ntk::AnalyticOptions analytic_options_for(const nn::Module& model) {
  const auto* mlp = dynamic_cast<const MLP*>(&model);
  TANGENT_CHECK(mlp != nullptr,
                "analytic_ntk: the analytic kernel covers fully connected networks (models::MLP) only, "
                "got a ",
                model.type_name());
  const MLPOptions& m = mlp->options;
  ntk::check_activation(m.activation, "analytic_ntk");
  ntk::AnalyticOptions o;
  o.activation = m.activation;
  o.depth = static_cast<int64_t>(m.hidden.size());
  o.bias = true;
  if (m.ntk) {
    o.parametrization = nn::Parametrization::NTK;
    o.sigma_w = m.sigma_w;
    o.sigma_b = m.sigma_b;
  } else {
    // PyTorch's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases.
    o.parametrization = nn::Parametrization::Standard;
    o.widths = m.hidden;
    o.sigma_w = std::sqrt(1.0 / 3.0);
    int64_t fan_in = m.input_shape.numel();
    for (int64_t l = 0; l <= o.depth; ++l) {
      o.sigma_b_layers.push_back(std::sqrt(1.0 / (3.0 * static_cast<double>(fan_in))));
      if (l < o.depth) fan_in = m.hidden[l];
    }
  }
  return o;
}

}  // namespace tangent::models
