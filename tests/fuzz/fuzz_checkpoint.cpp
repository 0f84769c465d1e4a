// Fuzzes load_checkpoint (nn/checkpoint.h) with whole files: magic, version, length and CRC checks first.
// fuzz_checkpoint_payload reaches the protobuf payload behind a valid frame.
#include "fuzz_input.h"
#include "nn/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tangent::fuzz::write_input(data, size, ".tgt");
  tangent::fuzz::accept_errors([&] { tangent::nn::load_checkpoint(path); });
  return 0;
}
