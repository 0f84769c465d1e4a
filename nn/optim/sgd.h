#pragma once
// SGD with momentum, dampening, Nesterov momentum and L2 weight decay (torch.optim.SGD's update rule).
#include "nn/optim/optimizer.h"

namespace tangent::optim {

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  GroupOptions group() const;
};

class SGD : public Optimizer {
 public:
  explicit SGD(std::vector<Tensor> params, const SGDOptions& options = {});
  std::string kind() const override { return "SGD"; }

 protected:
  void update(const Tensor& p, const Tensor& g, ParamState& state, const GroupOptions& options) override;
  std::vector<std::string> buffer_names() const override { return {"momentum_buffer"}; }
  void check_options(const GroupOptions& options) const override;
};

}  // namespace tangent::optim
