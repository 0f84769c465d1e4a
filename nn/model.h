#pragma once
// Model: a whole network that knows its kind and configuration, so that a checkpoint (kind + Config + weights)
// alone rebuilds it (models::create_model), and that tells the tools taking any Module (ONNX export, the NTK) the
// shape and dtype of its input. The ready-made models (models/) derive from it; nn/ code sees them only as this.
#include <string>

#include "nn/config.h"
#include "nn/module.h"

namespace tangent::nn {

class Model : public Module {
 public:
  virtual std::string kind() const = 0;
  virtual Config config() const = 0;
  // The shape of one input example (without the batch dim), e.g. [1, 28, 28].
  virtual Shape input_shape() const = 0;
  // The dtype inputs must have (int64 token ids for language models).
  virtual DType input_dtype() const { return kFloat32; }
};

}  // namespace tangent::nn
