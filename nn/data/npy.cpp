// NumPy .npy reading and writing.
#include "nn/data/npy.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <vector>

#include "nn/data/file_io.h"
#include "ops/factory.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the .npy reader assumes a little-endian host"
#endif

namespace tangent::data {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
constexpr uint32_t kMaxHeaderLen = 1u << 20;

// The parsed header dict.
struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
  char byte_order = '<';
  char kind = 'f';
  size_t item_size = 4;
};

// A small parser for the Python literal dict of a .npy header: {'descr': '<f4', 'fortran_order': False,
// 'shape': (2, 3), }. Errors name the file.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& path) : s_(text), path_(path) {}

  NpyHeader parse() {
    NpyHeader h;
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (true) {
      skip_ws();
      if (peek() == '}') break;
      const std::string key = parse_string();
      expect(':');
      skip_ws();
      if (key == "descr") {
        if (peek() == '[') fail("structured dtypes (a list 'descr') are not supported");
        h.descr = parse_string();
        have_descr = true;
      } else if (key == "fortran_order") {
        h.fortran_order = parse_bool();
        have_order = true;
      } else if (key == "shape") {
        h.shape = parse_shape();
        have_shape = true;
      } else {
        fail("unexpected key '" + key + "'");
      }
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip_ws();
      if (peek() != '}') fail("expected ',' or '}'");
    }
    ++pos_;
    skip_ws();
    if (pos_ != s_.size()) fail("unexpected text after the closing '}'");
    if (!have_descr || !have_order || !have_shape) fail("the keys 'descr', 'fortran_order' and 'shape' are required");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    TANGENT_FAIL("read_npy: '", path_, "' has a corrupted header: ", what, " at character ", pos_, " of \"", s_, "\"");
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_ws() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  void expect(char c) {
    skip_ws();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string parse_string() {
    skip_ws();
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string");
    const size_t end = s_.find(q, pos_ + 1);
    if (end == std::string::npos) fail("unterminated string");
    std::string out = s_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return out;
  }
  bool parse_bool() {
    if (s_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (s_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    fail("expected True or False");
  }
  Shape parse_shape() {
    expect('(');
    Shape shape;
    while (true) {
      skip_ws();
      if (peek() == ')') break;
      if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected a non-negative integer in 'shape'");
      int64_t v = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        if (v > (std::numeric_limits<int64_t>::max() - 9) / 10) fail("a dim in 'shape' is too large");
        v = v * 10 + (s_[pos_++] - '0');
      }
      if (peek() == 'L') ++pos_;  // Python 2 long suffix
      if (shape.size() == Shape::kMaxDims) fail("'shape' has more dims than tensors support");
      shape.push_back(v);
      skip_ws();
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != ')') {
        fail("expected ',' or ')' in 'shape'");
      }
    }
    ++pos_;
    return shape;
  }

  const std::string& s_;
  const std::string& path_;
  size_t pos_ = 0;
};

// Validates descr ("<f4") into byte order, kind and size.
void decode_descr(NpyHeader* h, const std::string& path) {
  const std::string& d = h->descr;
  const bool ok_shape = d.size() >= 3 && d.size() <= 4 && (d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '=') &&
                        d.find_first_not_of("0123456789", 2) == std::string::npos;
  TANGENT_CHECK(ok_shape, "read_npy: '", path, "' has an unsupported or invalid dtype descr '", d,
                "' (supported: f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1)");
  h->byte_order = d[0] == '=' ? '<' : d[0];
  h->kind = d[1];
  h->item_size = static_cast<size_t>(std::stoul(d.substr(2)));
  const size_t s = h->item_size;
  const bool ok = (h->kind == 'f' && (s == 2 || s == 4 || s == 8)) ||
                  ((h->kind == 'i' || h->kind == 'u') && (s == 1 || s == 2 || s == 4 || s == 8)) ||
                  (h->kind == 'b' && s == 1);
  TANGENT_CHECK(ok, "read_npy: '", path, "' has the unsupported dtype '", d,
                "' (supported: f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1)");
}

DType tensor_dtype(const NpyHeader& h) {
  if (h.kind == 'b') return kBool;
  if (h.kind == 'f') return h.item_size == 2 ? kFloat16 : h.item_size == 4 ? kFloat32 : kFloat64;
  return kInt64;
}

void byteswap(unsigned char* p, size_t n_items, size_t size) {
  for (size_t i = 0; i < n_items; ++i, p += size) std::reverse(p, p + size);
}

template <typename S>
void widen(const unsigned char* src, int64_t* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    S v;
    std::memcpy(&v, src + i * sizeof(S), sizeof(S));
    dst[i] = static_cast<int64_t>(v);
  }
}

uint32_t load_le(const unsigned char* p, size_t n) {
  uint32_t v = 0;
  for (size_t i = n; i-- > 0;) v = (v << 8) | p[i];
  return v;
}

}  // namespace

Tensor read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) TANGENT_FAIL("read_npy: cannot open '", path, "': ", std::strerror(errno));
  in.seekg(0, std::ios::end);
  const std::streamoff end = in.tellg();
  TANGENT_CHECK(end >= 0, "read_npy: cannot determine the size of '", path, "' (is it a regular file?)");
  const auto file_size = static_cast<uint64_t>(end);
  in.seekg(0, std::ios::beg);

  unsigned char pre[12] = {};
  TANGENT_CHECK(file_size >= 10, "read_npy: '", path, "' is too short to be a .npy file (", file_size, " bytes)");
  in.read(reinterpret_cast<char*>(pre), 10);
  TANGENT_CHECK(in && std::memcmp(pre, kMagic, kMagicLen) == 0, "read_npy: '", path,
                "' is not a .npy file (it does not start with \\x93NUMPY)");
  const int major = pre[6], minor = pre[7];
  TANGENT_CHECK(major >= 1 && major <= 3, "read_npy: '", path, "' has the unsupported format version ", major, ".",
                minor, " (1.0, 2.0 and 3.0 are supported)");
  size_t prefix = 10;
  uint32_t header_len = load_le(pre + 8, 2);
  if (major >= 2) {
    TANGENT_CHECK(file_size >= 12, "read_npy: '", path, "' is truncated inside its header");
    in.read(reinterpret_cast<char*>(pre + 10), 2);
    header_len = load_le(pre + 8, 4);
    prefix = 12;
  }
  TANGENT_CHECK(header_len <= kMaxHeaderLen, "read_npy: '", path, "' is corrupted: it declares a header of ",
                header_len, " bytes");
  TANGENT_CHECK(file_size >= prefix + header_len, "read_npy: '", path, "' is truncated inside its header (", header_len,
                " header bytes declared, ", file_size - prefix, " present)");
  std::string text(header_len, '\0');
  in.read(text.data(), header_len);
  TANGENT_CHECK(static_cast<bool>(in), "read_npy: reading the header of '", path, "' failed");
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\0')) text.pop_back();

  NpyHeader h = HeaderParser(text, path).parse();
  decode_descr(&h, path);

  // Sizes are checked against the bytes present before anything is allocated.
  const int64_t layout = layout_bytes(h.shape, std::max(h.item_size, size_t{8}));  // int64 after widening
  TANGENT_CHECK(layout >= 0, "read_npy: '", path, "' is corrupted: its shape ", h.shape, " is implausibly large");
  const uint64_t numel = static_cast<uint64_t>(layout) / std::max(h.item_size, size_t{8});
  const uint64_t data_bytes = numel * h.item_size;
  const uint64_t have = file_size - prefix - header_len;
  TANGENT_CHECK(have >= data_bytes, "read_npy: '", path, "' is truncated: shape ", h.shape, " of dtype '", h.descr,
                "' needs ", data_bytes, " bytes of data but the file holds ", have);
  TANGENT_CHECK(have == data_bytes, "read_npy: '", path, "' is corrupted: it has ", have - data_bytes,
                " extra bytes after the ", data_bytes, " bytes of data that shape ", h.shape, " of dtype '", h.descr,
                "' needs");

  // Fortran order stores the transpose: read it with the reversed shape, then permute back.
  Shape stored = h.shape;
  if (h.fortran_order) std::reverse(stored.begin(), stored.end());
  const DType dtype = tensor_dtype(h);
  Tensor out = empty(stored, dtype);
  // Same bytes as the tensor (after a byte swap): read straight into it. uint64 needs a range check.
  const bool direct = element_size(dtype) == h.item_size && h.kind != 'u';
  std::vector<unsigned char> buffer;
  unsigned char* raw = nullptr;
  if (direct) {
    raw = static_cast<unsigned char*>(out.raw_data());
  } else {
    buffer.resize(static_cast<size_t>(data_bytes));
    raw = buffer.data();
  }
  in.read(reinterpret_cast<char*>(raw), static_cast<std::streamsize>(data_bytes));
  TANGENT_CHECK(static_cast<uint64_t>(in.gcount()) == data_bytes, "read_npy: reading the data of '", path,
                "' failed after ", in.gcount(), " of ", data_bytes, " bytes");
  const size_t n = static_cast<size_t>(numel);
  if (h.byte_order == '>' && h.item_size > 1) byteswap(raw, n, h.item_size);

  if (h.kind == 'b') {
    for (size_t i = 0; i < n; ++i) raw[i] = raw[i] != 0;  // any non-zero byte is true; stored as 0/1
  } else if (!direct) {
    int64_t* dst = out.data_ptr<int64_t>();
    if (h.kind == 'i') {
      if (h.item_size == 1) widen<int8_t>(raw, dst, n);
      if (h.item_size == 2) widen<int16_t>(raw, dst, n);
      if (h.item_size == 4) widen<int32_t>(raw, dst, n);
    } else if (h.item_size == 8) {
      for (size_t i = 0; i < n; ++i) {
        uint64_t v;
        std::memcpy(&v, raw + i * 8, 8);
        TANGENT_CHECK(v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), "read_npy: '", path,
                      "': uint64 element ", i, " = ", v, " does not fit int64");
        dst[i] = static_cast<int64_t>(v);
      }
    } else {
      if (h.item_size == 1) widen<uint8_t>(raw, dst, n);
      if (h.item_size == 2) widen<uint16_t>(raw, dst, n);
      if (h.item_size == 4) widen<uint32_t>(raw, dst, n);
    }
  }
  if (h.fortran_order && out.dim() > 1) {
    Shape rev;
    for (int64_t d = out.dim() - 1; d >= 0; --d) rev.push_back(d);
    out = out.permute(rev).contiguous();
  }
  return out;
}

void write_npy(const std::string& path, const Tensor& t) {
  TANGENT_CHECK(t.defined(), "write_npy: the tensor is undefined (writing '", path, "')");
  Tensor c = t.detach();
  if (!c.device().is_cpu()) c = c.to(Device(kCPU));
  if (c.dtype() == kBFloat16) c = c.to(kFloat32);
  c = c.contiguous();
  const char* descr = nullptr;
  switch (c.dtype()) {
    case DType::Float32:
      descr = "<f4";
      break;
    case DType::Float64:
      descr = "<f8";
      break;
    case DType::Float16:
      descr = "<f2";
      break;
    case DType::Int64:
      descr = "<i8";
      break;
    case DType::Bool:
      descr = "|b1";
      break;
    default:
      TANGENT_FAIL("write_npy: unsupported dtype ", c.dtype(), " (writing '", path, "')");
  }
  std::string dict = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (";
  for (int64_t i = 0; i < c.dim(); ++i) {
    dict += std::to_string(c.size(i));
    if (c.dim() == 1 || i + 1 < c.dim()) dict += c.dim() == 1 ? "," : ", ";
  }
  dict += "), }";
  // Pad with spaces and end with '\n' so that the data starts at a multiple of 64 bytes.
  const bool v1 = dict.size() + 1 + 10 <= 65535;
  const size_t prefix = v1 ? 10 : 12;
  const size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict += '\n';
  std::string head(kMagic, kMagicLen);
  head += static_cast<char>(v1 ? 1 : 2);
  head += '\0';
  const size_t len = dict.size();
  for (size_t i = 0; i < (v1 ? 2u : 4u); ++i) head += static_cast<char>((len >> (8 * i)) & 0xFF);
  head += dict;
  const size_t bytes = static_cast<size_t>(c.numel()) * element_size(c.dtype());
  write_atomically(path, "write_npy", [&](std::ostream& out) {
    out.write(head.data(), static_cast<std::streamsize>(head.size()));
    if (bytes > 0) out.write(static_cast<const char*>(c.raw_data()), static_cast<std::streamsize>(bytes));
  });
}

}  // namespace tangent::data
