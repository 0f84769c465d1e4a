#pragma once
// Model: a ready-made network that knows its kind and configuration, so that a checkpoint (kind + Config +
// weights) alone rebuilds it: create_model(kind, config).
#include <memory>
#include <string>

#include "nn/config.h"
#include "nn/module.h"

namespace tangent::models {

class Model : public nn::Module {
 public:
  virtual std::string kind() const = 0;
  virtual nn::Config config() const = 0;
  // The shape of one input example (without the batch dim), e.g. [1, 28, 28].
  virtual Shape input_shape() const = 0;
  // The dtype inputs must have (int64 token ids for language models).
  virtual DType input_dtype() const { return kFloat32; }
};

// Builds a model of `kind` ("mlp", "cnn", "transformer") from its configuration; an unknown kind raises an Error listing the
// known ones.
std::shared_ptr<Model> create_model(const std::string& kind, const nn::Config& config);

}  // namespace tangent::models
