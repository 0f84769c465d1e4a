// SGD, Adam, AdamW and RMSprop: their options, validation and per-parameter update (the math itself is in
// nn/optim/update_rules.cpp).
#include "nn/optim/adam.h"
#include "nn/optim/rmsprop.h"
#include "nn/optim/sgd.h"
#include "nn/optim/update_rules.h"

namespace tangent::optim {

namespace {

// A single group holding `params`; none when `params` is empty (groups are then added with add_param_group).
std::vector<ParamGroup> one_group(std::vector<Tensor> params, const GroupOptions& options) {
  std::vector<ParamGroup> groups;
  if (!params.empty()) groups.push_back(ParamGroup{std::move(params), options});
  return groups;
}

}  // namespace

// ---- SGD ----
GroupOptions SGDOptions::group() const {
  GroupOptions o;
  o.lr = lr;
  o.momentum = momentum;
  o.dampening = dampening;
  o.weight_decay = weight_decay;
  o.nesterov = nesterov;
  return o;
}

SGD::SGD(std::vector<Tensor> params, const SGDOptions& options)
    : Optimizer(one_group(std::move(params), options.group()), options.group()) {
  validate_groups();
}

void SGD::check_options(const GroupOptions& o) const {
  Optimizer::check_options(o);
  TANGENT_CHECK(o.momentum >= 0.0, "SGD: invalid momentum ", o.momentum, " (must be >= 0)");
  TANGENT_CHECK(!o.nesterov || (o.momentum > 0.0 && o.dampening == 0.0),
                "SGD: nesterov momentum requires momentum > 0 and dampening = 0, got momentum ", o.momentum,
                " and dampening ", o.dampening);
}

void SGD::update(const Tensor& p, const Tensor& g, ParamState& state, const GroupOptions& options) {
  detail::sgd_update(p, g, state, options);
}

// ---- Adam / AdamW ----
GroupOptions AdamOptions::group() const {
  GroupOptions o;
  o.lr = lr;
  o.beta1 = beta1;
  o.beta2 = beta2;
  o.eps = eps;
  o.weight_decay = weight_decay;
  o.amsgrad = amsgrad;
  return o;
}

Adam::Adam(std::vector<Tensor> params, const AdamOptions& options) : Adam(std::move(params), options, false) {}

Adam::Adam(std::vector<Tensor> params, const AdamOptions& options, bool decoupled)
    : Optimizer(one_group(std::move(params), options.group()), options.group()), decoupled_(decoupled) {
  validate_groups();
}

AdamW::AdamW(std::vector<Tensor> params, const AdamOptions& options) : Adam(std::move(params), options, true) {}

void Adam::check_options(const GroupOptions& o) const {
  Optimizer::check_options(o);
  TANGENT_CHECK(o.eps >= 0.0, kind(), ": invalid eps ", o.eps, " (must be >= 0)");
  TANGENT_CHECK(o.beta1 >= 0.0 && o.beta1 < 1.0, kind(), ": invalid beta1 ", o.beta1, " (must be in [0, 1))");
  TANGENT_CHECK(o.beta2 >= 0.0 && o.beta2 < 1.0, kind(), ": invalid beta2 ", o.beta2, " (must be in [0, 1))");
}

void Adam::update(const Tensor& p, const Tensor& g, ParamState& state, const GroupOptions& options) {
  detail::adam_update(p, g, state, options, decoupled_);
}

// ---- RMSprop ----
GroupOptions RMSpropOptions::group() const {
  GroupOptions o;
  o.lr = lr;
  o.alpha = alpha;
  o.eps = eps;
  o.weight_decay = weight_decay;
  o.momentum = momentum;
  o.centered = centered;
  return o;
}

RMSprop::RMSprop(std::vector<Tensor> params, const RMSpropOptions& options)
    : Optimizer(one_group(std::move(params), options.group()), options.group()) {
  validate_groups();
}

void RMSprop::check_options(const GroupOptions& o) const {
  Optimizer::check_options(o);
  TANGENT_CHECK(o.eps >= 0.0, "RMSprop: invalid eps ", o.eps, " (must be >= 0)");
  TANGENT_CHECK(o.momentum >= 0.0, "RMSprop: invalid momentum ", o.momentum, " (must be >= 0)");
  TANGENT_CHECK(o.alpha >= 0.0, "RMSprop: invalid alpha ", o.alpha, " (must be >= 0)");
}

void RMSprop::update(const Tensor& p, const Tensor& g, ParamState& state, const GroupOptions& options) {
  detail::rmsprop_update(p, g, state, options);
}

}  // namespace tangent::optim
