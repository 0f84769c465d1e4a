#pragma once
// Adam (weight decay as L2 added to the gradient, optional AMSGrad) and AdamW (decoupled weight decay,
// p *= 1 - lr * weight_decay before the Adam step), as torch.optim.Adam / AdamW.
#include "nn/optim/optimizer.h"

namespace tangent::optim {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // AdamW's default is 1e-2 (AdamWOptions)
  bool amsgrad = false;
  GroupOptions group() const;
};

struct AdamWOptions : AdamOptions {
  AdamWOptions() { weight_decay = 1e-2; }
};

class Adam : public Optimizer {
 public:
  explicit Adam(std::vector<Tensor> params, const AdamOptions& options = {});
  std::string kind() const override { return decoupled_ ? "AdamW" : "Adam"; }

 protected:
  Adam(std::vector<Tensor> params, const AdamOptions& options, bool decoupled);
  void update(const Tensor& p, const Tensor& g, ParamState& state, const GroupOptions& options) override;
  std::vector<std::string> buffer_names() const override { return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}; }
  void check_options(const GroupOptions& options) const override;

 private:
  bool decoupled_ = false;  // AdamW
};

class AdamW : public Adam {
 public:
  explicit AdamW(std::vector<Tensor> params, const AdamOptions& options = AdamWOptions());
};

}  // namespace tangent::optim
