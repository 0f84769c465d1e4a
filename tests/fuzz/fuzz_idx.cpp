// Fuzzes the IDX readers (nn/data/idx.h) with files as they are on disk, plain or gzip-compressed (the reader
// tells them apart by content); fuzz_idx_gz compresses the input first, to reach the IDX parser behind gzip.
#include "fuzz_input.h"
#include "nn/data/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tangent::fuzz::write_input(data, size, ".idx");
  tangent::fuzz::accept_errors([&] { tangent::data::read_idx(path); });
  tangent::fuzz::accept_errors([&] { tangent::data::read_idx(path, 1); });
  tangent::fuzz::accept_errors([&] { tangent::data::read_idx_images(path, 2); });
  tangent::fuzz::accept_errors([&] { tangent::data::read_idx_labels(path); });
  return 0;
}
