// safetensors reading and writing (see nn/safetensors.h), with nlohmann::json for the header.
#include "nn/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <set>

#include "nn/checkpoint.h"
#include "nn/data/file_io.h"
#include "ops/factory.h"

namespace tangent::nn {

namespace {

// Larger headers are refused (as the reference implementation does): a corrupted length must not allocate GBs.
constexpr uint64_t kMaxHeaderBytes = 100u << 20;

const char* dtype_code(DType t) {
  switch (t) {
    case DType::Float32:
      return "F32";
    case DType::Float64:
      return "F64";
    case DType::Float16:
      return "F16";
    case DType::BFloat16:
      return "BF16";
    case DType::Int64:
      return "I64";
    case DType::Bool:
      return "BOOL";
  }
  return "?";
}

bool dtype_from_code(const std::string& code, DType* out) {
  static const std::pair<const char*, DType> table[] = {{"F32", DType::Float32}, {"F64", DType::Float64},
                                                        {"F16", DType::Float16}, {"BF16", DType::BFloat16},
                                                        {"I64", DType::Int64},   {"BOOL", DType::Bool}};
  for (const auto& [c, t] : table)
    if (code == c) {
      *out = t;
      return true;
    }
  return false;
}

}  // namespace

std::string serialize_safetensors(const StateDict& tensors, const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  std::set<std::string> names;
  std::string data;
  for (const auto& [name, t] : tensors) {
    TANGENT_CHECK(!name.empty() && name != "__metadata__", "write_safetensors: invalid tensor name '", name, "'");
    TANGENT_CHECK(names.insert(name).second, "write_safetensors: duplicate tensor name '", name, "'");
    TANGENT_CHECK(t.defined(), "write_safetensors: tensor '", name, "' is undefined");
    const Tensor h = t.detach().to(Device(DeviceType::CPU)).contiguous();
    const size_t begin = data.size();
    const size_t bytes = static_cast<size_t>(h.numel()) * element_size(h.dtype());
    data.append(static_cast<const char*>(h.raw_data()), bytes);
    if (h.dtype() == DType::Bool)  // canonical 0/1 bytes
      for (size_t i = begin; i < data.size(); ++i) data[i] = data[i] ? 1 : 0;
    header[name] = {
        {"dtype", dtype_code(h.dtype())}, {"shape", h.shape().vec()}, {"data_offsets", {begin, data.size()}}};
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  std::string out(8, '\0');
  const uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  out += text;
  out += data;
  return out;
}

void write_safetensors(const std::string& path, const StateDict& tensors,
                       const std::map<std::string, std::string>& metadata) {
  data::write_atomically(path, "write_safetensors", serialize_safetensors(tensors, metadata));
}

SafeTensors parse_safetensors(const std::string& bytes, const std::string& what) {
  TANGENT_CHECK(bytes.size() >= 8, "read_safetensors: ", what, " is truncated: ", bytes.size(),
                " bytes, too short for the 8-byte header length");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i)
    n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[static_cast<size_t>(i)])) << (8 * i);
  TANGENT_CHECK(n <= kMaxHeaderBytes, "read_safetensors: ", what, " has a header length of ", n,
                " bytes (more than the ", kMaxHeaderBytes, " allowed): not a safetensors file or corrupted");
  TANGENT_CHECK(n <= bytes.size() - 8, "read_safetensors: ", what, " is truncated: the header needs ", n,
                " bytes but only ", bytes.size() - 8, " follow the length");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  } catch (const nlohmann::json::exception& e) {
    TANGENT_FAIL("read_safetensors: ", what, " has a header that is not valid JSON: ", e.what());
  }
  TANGENT_CHECK(header.is_object(), "read_safetensors: ", what, " has a JSON header that is not an object");
  const uint64_t data_size = bytes.size() - 8 - n;
  const char* data = bytes.data() + 8 + n;

  SafeTensors out;
  struct Entry {
    uint64_t begin, end;
    std::string name;
    DType dtype;
    Shape shape;
  };
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& v = it.value();
    if (name == "__metadata__") {
      TANGENT_CHECK(v.is_object(), "read_safetensors: ", what, ": __metadata__ must be an object of strings");
      for (auto m = v.begin(); m != v.end(); ++m) {
        TANGENT_CHECK(m.value().is_string(), "read_safetensors: ", what, ": __metadata__ value of '", m.key(),
                      "' is not a string");
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& why) { TANGENT_FAIL("read_safetensors: ", what, ": tensor '", name, "' ", why); };
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      bad("needs an object with dtype, shape and data_offsets");
    Entry e{0, 0, name, DType::Float32, Shape()};
    if (!v["dtype"].is_string() || !dtype_from_code(v["dtype"].get<std::string>(), &e.dtype))
      bad("has an unsupported dtype " + v["dtype"].dump() + " (supported: F32, F64, F16, BF16, I64, BOOL)");
    const nlohmann::json& shape = v["shape"];
    if (!shape.is_array() || shape.size() > Shape::kMaxDims) bad("has an invalid shape " + shape.dump());
    for (const auto& d : shape) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > (uint64_t{1} << 40))
        bad("has an invalid shape " + shape.dump());
      e.shape.push_back(d.get<int64_t>());
    }
    // Zero dims count as 1 here (as strides do): [0, 2^40, 2^40, ...] must not overflow either.
    const int64_t layout = layout_bytes(e.shape, element_size(e.dtype));
    if (layout < 0 || layout > (int64_t{1} << 40)) bad("has a shape too large: " + shape.dump());
    const uint64_t numel = static_cast<uint64_t>(layout) / element_size(e.dtype);
    const nlohmann::json& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      bad("has invalid data_offsets " + off.dump());
    e.begin = off[0].get<uint64_t>();
    e.end = off[1].get<uint64_t>();
    if (e.begin > e.end || e.end > data_size)
      bad("has data_offsets " + off.dump() + " out of range of the " + std::to_string(data_size) +
          "-byte data section (truncated file?)");
    if (e.end - e.begin != numel * element_size(e.dtype))
      bad("has data_offsets " + off.dump() + " spanning " + std::to_string(e.end - e.begin) + " bytes, but " +
          v["dtype"].get<std::string>() + " " + shape.dump() + " needs " +
          std::to_string(numel * element_size(e.dtype)));
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  uint64_t at = 0;
  for (const Entry& e : entries) {
    TANGENT_CHECK(e.begin == at, "read_safetensors: ", what, ": tensor '", e.name, "' starts at byte ", e.begin,
                  " but the previous tensor ends at ", at, " (overlapping or non-contiguous data)");
    at = e.end;
  }
  TANGENT_CHECK(at == data_size, "read_safetensors: ", what, ": the tensors cover ", at,
                " bytes but the data section has ", data_size, " (trailing bytes)");
  for (const Entry& e : entries) {
    Tensor t = empty(e.shape, e.dtype);
    if (e.end > e.begin) std::memcpy(t.raw_data(), data + e.begin, e.end - e.begin);
    if (e.dtype == DType::Bool) {
      const unsigned char* p = static_cast<const unsigned char*>(t.raw_data());
      for (int64_t i = 0; i < t.numel(); ++i)
        TANGENT_CHECK(p[i] <= 1, "read_safetensors: ", what, ": BOOL tensor '", e.name, "' holds byte ", int(p[i]),
                      " (expected 0 or 1)");
    }
    out.tensors.emplace_back(e.name, t);
  }
  return out;
}

SafeTensors read_safetensors(const std::string& path) { return parse_safetensors(read_file(path), "'" + path + "'"); }

}  // namespace tangent::nn
