#pragma once
// RMSprop with optional momentum, centering and L2 weight decay (torch.optim.RMSprop's update rule).
#include "nn/optim/optimizer.h"

namespace tangent::optim {

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
  GroupOptions group() const;
};

class RMSprop : public Optimizer {
 public:
  explicit RMSprop(std::vector<Tensor> params, const RMSpropOptions& options = {});
  std::string kind() const override { return "RMSprop"; }

 protected:
  void update(const Tensor& p, const Tensor& g, ParamState& state, const GroupOptions& options) override;
  std::vector<std::string> buffer_names() const override { return {"square_avg", "momentum_buffer", "grad_avg"}; }
  void check_options(const GroupOptions& options) const override;
};

}  // namespace tangent::optim
