// Fuzzes read_npy (nn/data/npy.h).
#include "fuzz_input.h"
#include "nn/data/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tangent::fuzz::write_input(data, size, ".npy");
  tangent::fuzz::accept_errors([&] { tangent::data::read_npy(path); });
  return 0;
}
