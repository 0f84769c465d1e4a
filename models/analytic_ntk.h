#pragma once
// The infinite-width kernel of a ready-made model: the options of nn/ntk/analytic.h (ntk::analytic_ntk,
// ntk::analytic_nngp) that describe it. Fully connected networks (models::MLP) only.
#include "nn/module.h"
#include "nn/ntk/analytic.h"

namespace tangent::models {

// The options describing a models::MLP (its hidden widths, activation, parametrisation and scales). Raises an
// Error for any other model, or an activation without a closed form.
ntk::AnalyticOptions analytic_options_for(const nn::Module& model);

}  // namespace tangent::models
