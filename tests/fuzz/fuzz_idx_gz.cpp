// Fuzzes the IDX readers (nn/data/idx.h) on gzip files: the input is the uncompressed IDX content, which this
// target gzips into a ".gz" file, so that mutations reach the IDX parser behind the decompressor.
#include <zlib.h>

#include "fuzz_input.h"
#include "nn/data/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string gz(compressBound(static_cast<uLong>(size)) + 32, '\0');
  z_stream z{};
  if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) __builtin_trap();
  z.next_in = const_cast<Bytef*>(data);
  z.avail_in = static_cast<uInt>(size);
  z.next_out = reinterpret_cast<Bytef*>(gz.data());
  z.avail_out = static_cast<uInt>(gz.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) __builtin_trap();
  gz.resize(z.total_out);
  deflateEnd(&z);
  const std::string path = tangent::fuzz::write_input(gz.data(), gz.size(), ".idx.gz");
  tangent::fuzz::accept_errors([&] { tangent::data::read_idx(path); });
  tangent::fuzz::accept_errors([&] { tangent::data::read_idx_images(path); });
  tangent::fuzz::accept_errors([&] { tangent::data::read_idx_labels(path, 3); });
  return 0;
}
