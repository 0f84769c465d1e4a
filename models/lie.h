#pragma once
// LieNet (kind "lie"): an affine-equivariant classifier with Lie-group convolutions over R^2 x| SL(2,R) or
// R^2 x| GL+(2,R) (nn/lie/), in the shape of Mironenco & Forre's GResNet:
//   (x - .5)/.5 -> lift (k x k, no padding) -> LN -> GELU
//   -> residual block: [group conv (padding k/2) -> LN -> GELU] x 2 on the block input's samples, + input, GELU
//   -> LN -> 2x2 max-pool -> GELU -> group conv (no padding, fresh samples) -> LN -> GELU
//   -> global max over samples and plane -> Linear(C, hidden, no bias) -> LayerNorm -> GELU -> Dropout -> Linear.
// LN is a layer norm over (C, N, H, W) without affine parameters. No conv biases.
#include <string>

#include "models/model.h"
#include "nn/container.h"
#include "nn/lie/layers.h"

namespace tangent::models {

struct LieNetOptions {
  Shape input_shape = {1, 40, 40};  // [C, H, W]
  std::string group = "sl2";        // sl2 or gl2 (so2 also works)
  int64_t samples = 4;              // N per layer
  int64_t channels = 16;            // C
  int64_t kernel_size = 5;          // odd
  int64_t hidden = 256;             // the head's
  int64_t num_classes = 10;
  double dropout = 0.3;
  std::string angles = "grid";  // grid or uniform
  double spd_std = 0.31622776601683794;
  int64_t eval_seed = 0;  // the eval-mode samples

  nn::Config to_config() const;
  static LieNetOptions from_config(const nn::Config& config);
  // The parameter count a LieNet with these options has (checked against num_parameters in the tests).
  int64_t parameter_count() const;
};

class LieNet : public Model {
 public:
  explicit LieNet(const LieNetOptions& options);
  Tensor forward(const Tensor& x) override;
  // The invariant features [B, C] (before the head).
  Tensor features(const Tensor& x);
  // Moves every layer's samples by u (g -> u g); identity undoes it. For the equivariance tests.
  void set_transport(const lie::Mat2& u);
  std::string type_name() const override { return "LieNet"; }
  std::string kind() const override { return "lie"; }
  nn::Config config() const override { return options.to_config(); }
  Shape input_shape() const override { return options.input_shape; }

  LieNetOptions options;
  std::shared_ptr<lie::LiftConv2d> lift;
  std::shared_ptr<lie::GroupConv2d> block1, block2, conv;
  std::shared_ptr<nn::Sequential> head;
};

}  // namespace tangent::models
