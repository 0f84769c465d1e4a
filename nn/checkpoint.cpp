#include "nn/checkpoint.h"

#include <zlib.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "checkpoint.pb.h"
#include "nn/data/file_io.h"
#include "ops/factory.h"

namespace tangent::nn {

namespace {

constexpr char kMagic[8] = {'T', 'G', 'N', 'T', 'C', 'K', 'P', 'T'};
constexpr size_t kHeaderSize = 8 + 4 + 8 + 4;  // magic, version, payload length, crc32

proto::DType to_proto(DType t) {
  switch (t) {
    case DType::Float32:
      return proto::FLOAT32;
    case DType::Float64:
      return proto::FLOAT64;
    case DType::Float16:
      return proto::FLOAT16;
    case DType::BFloat16:
      return proto::BFLOAT16;
    case DType::Int64:
      return proto::INT64;
    case DType::Bool:
      return proto::BOOL;
  }
  return proto::FLOAT32;
}

DType from_proto(int t, const std::string& path, const std::string& name) {
  switch (t) {
    case proto::FLOAT32:
      return DType::Float32;
    case proto::FLOAT64:
      return DType::Float64;
    case proto::FLOAT16:
      return DType::Float16;
    case proto::BFLOAT16:
      return DType::BFloat16;
    case proto::INT64:
      return DType::Int64;
    case proto::BOOL:
      return DType::Bool;
    default:
      break;
  }
  TANGENT_FAIL("load_checkpoint: ", path, ": tensor '", name, "' has unknown dtype code ", t);
}

void put_tensor(proto::TensorProto* p, const std::string& name, const Tensor& t) {
  p->set_name(name);
  for (int64_t s : t.shape()) p->add_shape(s);
  p->set_dtype(to_proto(t.dtype()));
  const Tensor host = t.to(Device(kCPU)).contiguous();
  p->set_data(static_cast<const char*>(host.raw_data()),
              static_cast<size_t>(host.numel()) * element_size(host.dtype()));
}

Tensor get_tensor(const proto::TensorProto& p, const std::string& path) {
  Shape shape;
  for (int64_t s : p.shape()) {
    TANGENT_CHECK(s >= 0, "load_checkpoint: ", path, ": tensor '", p.name(), "' has a negative dimension");
    shape.push_back(s);
  }
  const DType dtype = from_proto(p.dtype(), path, p.name());
  // Checked against the bytes present before anything is allocated: the CRC only proves the file is intact, not
  // that its shapes are sane.
  const int64_t expected = layout_bytes(shape, element_size(dtype));
  TANGENT_CHECK(expected >= 0, "load_checkpoint: ", path, ": tensor '", p.name(), "' claims the shape ", shape,
                " (dtype ", dtype, "), too large to exist; it holds ", p.data().size(), " bytes");
  TANGENT_CHECK(p.data().size() == static_cast<uint64_t>(expected), "load_checkpoint: ", path, ": tensor '", p.name(),
                "' of shape ", shape, " and dtype ", dtype, " needs ", expected, " bytes but holds ", p.data().size());
  return from_data(p.data().data(), shape, dtype);
}

void put_u32(std::string* s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u64(std::string* s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t get_le(const std::string& s, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(s[pos + static_cast<size_t>(i)])) << (8 * i);
  return v;
}

// Whether `s` is valid UTF-8 (protobuf map keys must be).
bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    i += n;
  }
  return true;
}

void check_key(const std::string& key, const char* what, const std::string& path) {
  TANGENT_CHECK(valid_utf8(key), "save_checkpoint: ", path, ": the ", what, " key '", key, "' is not valid UTF-8");
}

}  // namespace

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TANGENT_CHECK(in.good(), "cannot open '", path, "' for reading: ", std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  TANGENT_CHECK(!in.bad(), "error reading '", path, "'");
  return ss.str();
}

void save_checkpoint(const std::string& path, const Checkpoint& c) {
  proto::Checkpoint p;
  p.set_format_version(kCheckpointFormatVersion);
  p.set_producer(c.producer.empty() ? "tangent 0.1.0" : c.producer);
  p.mutable_model()->set_kind(c.model_kind);
  for (const auto& [k, v] : c.model_config.values()) {
    check_key(k, "model config", path);
    (*p.mutable_model()->mutable_config())[k] = v;
  }
  for (const auto& [name, t] : c.model_state) put_tensor(p.add_tensors(), name, t);
  auto* opt = p.mutable_optimizer();
  opt->set_kind(c.optimizer_kind);
  for (const auto& [k, v] : c.optimizer_scalars) {
    auto* s = opt->add_scalars();
    s->set_name(k);
    s->set_value(v);
  }
  for (const auto& [name, t] : c.optimizer_tensors) put_tensor(opt->add_tensors(), name, t);
  for (const auto& [k, v] : c.scheduler) {
    auto* s = p.add_scheduler();
    s->set_name(k);
    s->set_value(v);
  }
  p.set_epoch(c.epoch);
  p.set_step(c.step);
  p.mutable_rng()->set_seed(c.rng.seed);
  p.mutable_rng()->set_offset(c.rng.offset);
  for (const PhiloxState& r : c.rank_rngs) {
    auto* q = p.add_rank_rng();
    q->set_seed(r.seed);
    q->set_offset(r.offset);
  }
  for (const auto& [k, v] : c.metadata) {
    check_key(k, "metadata", path);
    (*p.mutable_metadata())[k] = v;
  }

  // Deterministic serialisation (maps in key order): the same checkpoint always gives the same bytes.
  std::string payload;
  {
    google::protobuf::io::StringOutputStream stream(&payload);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    TANGENT_CHECK(p.SerializeToCodedStream(&coded) && !coded.HadError(),
                  "save_checkpoint: cannot serialise the checkpoint for '", path, "'");
  }
  std::string frame(kMagic, sizeof(kMagic));
  put_u32(&frame, kCheckpointFormatVersion);
  put_u64(&frame, payload.size());
  put_u32(&frame, static_cast<uint32_t>(
                      crc32(0L, reinterpret_cast<const Bytef*>(payload.data()), static_cast<uInt>(payload.size()))));
  frame += payload;
  data::write_atomically(path, "save_checkpoint", frame);
}

Checkpoint load_checkpoint(const std::string& path) {
  const std::string bytes = read_file(path);
  TANGENT_CHECK(bytes.size() >= kHeaderSize && std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) == 0,
                "load_checkpoint: '", path, "' is not a Tangent checkpoint (bad magic or too short: ", bytes.size(),
                " bytes)");
  const uint32_t version = static_cast<uint32_t>(get_le(bytes, 8, 4));
  TANGENT_CHECK(version >= 1 && version <= kCheckpointFormatVersion, "load_checkpoint: '", path,
                "' has format version ", version, "; this build reads versions 1 to ", kCheckpointFormatVersion);
  const uint64_t length = get_le(bytes, 12, 8);
  const uint64_t available = bytes.size() - kHeaderSize;
  TANGENT_CHECK(length <= available, "load_checkpoint: '", path, "' is truncated: the payload should be ", length,
                " bytes but only ", available, " are present");
  TANGENT_CHECK(length == available, "load_checkpoint: '", path, "' has ", available - length,
                " unexpected trailing bytes (corrupted)");
  TANGENT_CHECK(length < (uint64_t{1} << 31), "load_checkpoint: '", path, "' has a payload of ", length,
                " bytes, above protobuf's 2 GiB limit");
  const uint32_t crc = static_cast<uint32_t>(get_le(bytes, 20, 4));
  const uint32_t actual = static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(bytes.data() + kHeaderSize), static_cast<uInt>(length)));
  TANGENT_CHECK(crc == actual, "load_checkpoint: '", path, "' is corrupted (checksum mismatch)");
  proto::Checkpoint p;
  TANGENT_CHECK(p.ParseFromArray(bytes.data() + kHeaderSize, static_cast<int>(length)), "load_checkpoint: '", path,
                "' is corrupted (the payload does not parse)");

  Checkpoint c;
  c.format_version = p.format_version();
  c.producer = p.producer();
  c.model_kind = p.model().kind();
  for (const auto& [k, v] : p.model().config()) c.model_config.set(k, v);
  for (const auto& t : p.tensors()) c.model_state.emplace_back(t.name(), get_tensor(t, path));
  c.optimizer_kind = p.optimizer().kind();
  for (const auto& s : p.optimizer().scalars()) c.optimizer_scalars.emplace_back(s.name(), s.value());
  for (const auto& t : p.optimizer().tensors()) c.optimizer_tensors.emplace_back(t.name(), get_tensor(t, path));
  for (const auto& s : p.scheduler()) c.scheduler.emplace_back(s.name(), s.value());
  c.epoch = p.epoch();
  c.step = p.step();
  c.rng = {p.rng().seed(), p.rng().offset()};
  for (const auto& r : p.rank_rng()) c.rank_rngs.push_back({r.seed(), r.offset()});
  for (const auto& [k, v] : p.metadata()) c.metadata[k] = v;
  return c;
}

}  // namespace tangent::nn
