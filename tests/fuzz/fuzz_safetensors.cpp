// Fuzzes read_safetensors (nn/safetensors.h).
#include "fuzz_input.h"
#include "nn/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tangent::fuzz::write_input(data, size, ".safetensors");
  tangent::fuzz::accept_errors([&] { tangent::nn::read_safetensors(path); });
  return 0;
}
