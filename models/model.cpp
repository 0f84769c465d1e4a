#include "models/model.h"

#include "models/convnet.h"
#include "models/gpt.h"
#include "models/lie.h"
#include "models/mlp.h"

namespace tangent::models {

std::shared_ptr<Model> create_model(const std::string& kind, const nn::Config& config) {
  if (kind == "mlp") return std::make_shared<MLP>(MLPOptions::from_config(config));
  if (kind == "cnn") return std::make_shared<ConvNet>(ConvNetOptions::from_config(config));
  if (kind == "transformer") return std::make_shared<GPT>(GPTOptions::from_config(config));
  if (kind == "lie") return std::make_shared<LieNet>(LieNetOptions::from_config(config));
  TANGENT_FAIL("create_model: unknown model kind '", kind, "' (known: mlp, cnn, transformer, lie)");
}

}  // namespace tangent::models
