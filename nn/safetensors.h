#pragma once
// safetensors files (the Hugging Face weight format): an 8-byte little-endian header length, a JSON header
// {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ..., "__metadata__": {"k": "v"}}
// padded with spaces to a multiple of 8 bytes, then the tensors' raw little-endian bytes, contiguous and in order.
// Dtypes: F32, F64, F16, BF16, I64, BOOL. Reading validates everything (sizes, offsets, dtypes, overlaps) and a
// bad file raises tangent::Error naming it; writing is atomic.
#include <map>
#include <string>

#include "nn/module.h"

namespace tangent::nn {

struct SafeTensors {
  StateDict tensors;  // in file (data offset) order
  std::map<std::string, std::string> metadata;
};

// Writes `tensors` (any device or layout; names must be unique and non-empty) with string `metadata`.
void write_safetensors(const std::string& path, const StateDict& tensors,
                       const std::map<std::string, std::string>& metadata = {});
// The bytes write_safetensors would write.
std::string serialize_safetensors(const StateDict& tensors, const std::map<std::string, std::string>& metadata = {});

SafeTensors read_safetensors(const std::string& path);
// Parses safetensors bytes; `what` names the source in errors.
SafeTensors parse_safetensors(const std::string& bytes, const std::string& what);

}  // namespace tangent::nn
