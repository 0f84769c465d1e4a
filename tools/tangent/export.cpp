// STUB: tangent export (ONNX and safetensors), to be implemented.
#include "core/error.h"
#include "tools/tangent/commands.h"

namespace tangent::cli {

Run add_export(CLI::App& app) {
  app.allow_extras();
  return [] () -> int { TANGENT_FAIL("export: not implemented yet"); };
}

}  // namespace tangent::cli
