// Fuzzes load_checkpoint (nn/checkpoint.h) behind a valid frame: the input is the protobuf payload, which this
// target wraps in the magic, format version, length and CRC-32 that save_checkpoint writes.
#include <zlib.h>

#include "fuzz_input.h"
#include "nn/checkpoint.h"

namespace {

void put_le(std::string* s, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string frame = "TGNTCKPT";
  put_le(&frame, tangent::nn::kCheckpointFormatVersion, 4);
  put_le(&frame, size, 8);
  put_le(&frame, crc32(0L, data, static_cast<uInt>(size)), 4);
  frame.append(reinterpret_cast<const char*>(data), size);
  const std::string path = tangent::fuzz::write_input(frame.data(), frame.size(), ".tgt");
  tangent::fuzz::accept_errors([&] { tangent::nn::load_checkpoint(path); });
  return 0;
}
