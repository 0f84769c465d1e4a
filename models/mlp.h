#pragma once
// MLP: flatten, then Linear layers with an activation (and optional dropout) between them.
#include <string>
#include <vector>

#include "models/model.h"
#include "nn/container.h"

namespace tangent::models {

struct MLPOptions {
  Shape input_shape;            // per-example input shape, flattened to its product
  std::vector<int64_t> hidden;  // hidden widths
  int64_t out_features = 10;
  std::string activation = "relu";
  double dropout = 0.0;
  bool ntk = false;  // NTK parametrisation (see nn/linear.h)
  double sigma_w = 1.0;
  double sigma_b = 0.0;

  nn::Config to_config() const;
  static MLPOptions from_config(const nn::Config& config);
};

class MLP : public Model {
 public:
  explicit MLP(const MLPOptions& options);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "MLP"; }
  std::string kind() const override { return "mlp"; }
  nn::Config config() const override { return options.to_config(); }
  Shape input_shape() const override { return options.input_shape; }

  MLPOptions options;
  std::shared_ptr<nn::Sequential> layers;
};

}  // namespace tangent::models
