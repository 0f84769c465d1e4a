#pragma once
// The IDX format of MNIST and Fashion-MNIST: a big-endian header (two zero bytes, a type code, the number of
// dims, then each dim as a 32-bit integer) followed by the elements in row-major order, big-endian. Files may be
// gzip-compressed (.gz) or plain; both are read the same way. Every header, size and length is validated: a
// truncated or corrupted file raises tangent::Error naming the file and the problem.
#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace tangent::data {

// Type codes of the IDX format.
enum class IdxType : uint8_t { UInt8 = 0x08, Int8 = 0x09, Int16 = 0x0B, Int32 = 0x0C, Float32 = 0x0D, Float64 = 0x0E };

// The whole array: integer types become int64, float32 and float64 keep their type. limit >= 0 reads only
// the first `limit` entries of the first dim (the rest of the file is then not checked).
Tensor read_idx(const std::string& path, int64_t limit = -1);
// An image file (uint8, 3 dims [N, H, W], magic 0x00000803) as float32 [N, 1, H, W] scaled to [0, 1].
Tensor read_idx_images(const std::string& path, int64_t limit = -1);
// A label file (uint8, 1 dim [N], magic 0x00000801) as int64 [N].
Tensor read_idx_labels(const std::string& path, int64_t limit = -1);

// Writes `t` (on any device, at least 1 dim) as IDX, atomically; gzip-compressed when the path ends in ".gz".
// int64 and bool tensors are written as uint8 (every value must lie in 0..255), float32 and float64 as such.
void write_idx(const std::string& path, const Tensor& t);

}  // namespace tangent::data
