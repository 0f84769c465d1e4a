// Fuzzes read_csv (nn/data/csv.h), with and without a header line, comma- and tab-separated.
#include "fuzz_input.h"
#include "nn/data/csv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tangent::fuzz::write_input(data, size, ".csv");
  tangent::fuzz::accept_errors([&] { tangent::data::read_csv(path, true, ','); });
  tangent::fuzz::accept_errors([&] { tangent::data::read_csv(path, false, '\t'); });
  return 0;
}
