#pragma once
// The ready-made models (nn::Model: a network that knows its kind and configuration) and create_model, which
// rebuilds one from a checkpoint's kind and Config.
#include <memory>
#include <string>

#include "nn/config.h"
#include "nn/model.h"

namespace tangent::models {

using Model = nn::Model;

// Builds a model of `kind` ("mlp", "cnn", "transformer", "lie") from its configuration; an unknown kind raises an Error
// listing the known ones.
std::shared_ptr<Model> create_model(const std::string& kind, const nn::Config& config);

}  // namespace tangent::models
