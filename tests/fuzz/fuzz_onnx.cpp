// Fuzzes the ONNX model reader behind `tangent export --check` (nn/onnx_export.h: inspect_onnx): protobuf parsing,
// the ONNX checker and shape inference, and the summary.
#include "fuzz_input.h"
#include "nn/onnx_export.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tangent::fuzz::write_input(data, size, ".onnx");
  tangent::fuzz::accept_errors([&] { tangent::nn::inspect_onnx(path).str(); });
  return 0;
}
