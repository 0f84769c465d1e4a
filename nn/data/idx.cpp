// IDX (MNIST) reading and writing.
#include "nn/data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/parallel.h"
#include "nn/data/file_io.h"
#include "ops/factory.h"

namespace tangent::data {

namespace {

constexpr uint64_t kMaxIdxBytes = uint64_t{1} << 40;  // far above any real data set: guards corrupted dims

size_t idx_element_size(uint8_t code) {
  switch (code) {
    case 0x08:
    case 0x09:
      return 1;
    case 0x0B:
      return 2;
    case 0x0C:
    case 0x0D:
      return 4;
    case 0x0E:
      return 8;
    default:
      return 0;
  }
}

uint32_t load_be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

template <typename U>
U load_be(const unsigned char* p) {
  U v = 0;
  for (size_t i = 0; i < sizeof(U); ++i) v = static_cast<U>((v << 8) | p[i]);
  return v;
}

struct IdxData {
  uint8_t type = 0;
  Shape shape;
  std::vector<unsigned char> bytes;  // raw big-endian elements
};

// Reads and validates the header, then the elements of the first `limit` rows (all when limit < 0).
// `want_type` / `want_ndim` (when non-zero) are what the caller requires.
IdxData read_raw(const std::string& path, int64_t limit, const char* op, uint8_t want_type, int want_ndim) {
  TANGENT_CHECK(limit >= -1, op, ": limit must be >= 0 (or -1 for all), got ", limit);
  detail::GzReader in(path, op);
  unsigned char magic[4];
  const size_t got_magic = in.read(magic, 4);
  TANGENT_CHECK(got_magic == 4, op, ": '", path, "' is too short to be an IDX file (", got_magic,
                " bytes, the magic number alone takes 4)");
  char hex[32];
  std::snprintf(hex, sizeof hex, "0x%02X%02X%02X%02X", magic[0], magic[1], magic[2], magic[3]);
  TANGENT_CHECK(
      magic[0] == 0 && magic[1] == 0 && idx_element_size(magic[2]) != 0 && magic[3] >= 1 && magic[3] <= Shape::kMaxDims,
      op, ": '", path, "' is not an IDX file: bad magic number ", hex,
      " (expected 0x0000TTNN with a type code TT in {08,09,0B,0C,0D,0E} and 1 to ", Shape::kMaxDims, " dims NN)");
  IdxData d;
  d.type = magic[2];
  const int ndim = magic[3];
  if (want_type != 0) {
    char want[32];
    std::snprintf(want, sizeof want, "0x0000%02X%02X", want_type, want_ndim);
    TANGENT_CHECK(d.type == want_type && ndim == want_ndim, op, ": '", path, "' has magic number ", hex, " but ", want,
                  " was expected (uint8 data with ", want_ndim, want_ndim == 1 ? " dim)" : " dims)");
  }
  unsigned char dims[4 * Shape::kMaxDims];
  const size_t want_dims = 4 * static_cast<size_t>(ndim);
  const size_t got_dims = in.read(dims, want_dims);
  TANGENT_CHECK(got_dims == want_dims, op, ": '", path, "' is truncated inside its header: ", ndim, " dims need ",
                want_dims, " bytes after the magic number, the file has ", got_dims);
  for (int i = 0; i < ndim; ++i) d.shape.push_back(static_cast<int64_t>(load_be32(dims + 4 * i)));
  // The layout counts zero dims as 1 (as strides do), so that [0, 2^32-1, ...] cannot overflow either; the int64
  // elements read_idx makes take 8 bytes each.
  const int64_t layout = layout_bytes(d.shape, 8);
  TANGENT_CHECK(layout >= 0 && static_cast<uint64_t>(layout) <= kMaxIdxBytes, op, ": '", path,
                "' is corrupted: its header declares dims ", d.shape, " so large that the data would exceed ",
                kMaxIdxBytes, " bytes");
  uint64_t total = static_cast<uint64_t>(layout) / 8 * idx_element_size(d.type);
  const bool partial = limit >= 0 && limit < d.shape[0];
  if (partial) {
    total = d.shape[0] == 0 ? 0 : total / static_cast<uint64_t>(d.shape[0]) * static_cast<uint64_t>(limit);
    d.shape[0] = limit;
  }
  // Read in growing chunks (64 KiB, doubling up to 16 MiB), so that a corrupted header cannot make us allocate
  // much more than the file holds: the buffer is never more than twice the bytes read so far (plus 64 KiB).
  size_t chunk = size_t{1} << 16;
  size_t have = 0;
  while (have < total) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(chunk, total - have));
    chunk = std::min(chunk * 2, size_t{1} << 24);
    d.bytes.resize(have + n);
    const size_t r = in.read(d.bytes.data() + have, n);
    have += r;
    TANGENT_CHECK(r == n, op, ": '", path, "' is truncated: its header declares shape ", d.shape, " (", total,
                  " bytes of data) but the data ends after ", have, " bytes");
  }
  if (!partial) {
    TANGENT_CHECK(in.at_end(), op, ": '", path, "' is corrupted: it has extra bytes after the ", total,
                  " bytes of data its header (shape ", d.shape, ") declares");
  }
  return d;
}

template <typename U, typename Out>
void convert_be(const unsigned char* src, Out* dst, int64_t n) {
  parallel_for(n, kParallelGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const U u = load_be<U>(src + static_cast<size_t>(i) * sizeof(U));
      if constexpr (std::is_floating_point_v<Out>) {
        using F = std::conditional_t<sizeof(U) == 4, float, double>;
        F f;
        std::memcpy(&f, &u, sizeof f);
        dst[i] = f;
      } else {
        dst[i] = static_cast<Out>(static_cast<std::make_signed_t<U>>(u));
      }
    }
  });
}

}  // namespace

Tensor read_idx(const std::string& path, int64_t limit) {
  IdxData d = read_raw(path, limit, "read_idx", 0, 0);
  const int64_t n = d.shape.numel();
  const unsigned char* src = d.bytes.data();
  switch (d.type) {
    case 0x08: {
      Tensor out = empty(d.shape, kInt64);
      int64_t* dst = out.data_ptr<int64_t>();
      for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
      return out;
    }
    case 0x09: {
      Tensor out = empty(d.shape, kInt64);
      convert_be<uint8_t>(src, out.data_ptr<int64_t>(), n);
      return out;
    }
    case 0x0B: {
      Tensor out = empty(d.shape, kInt64);
      convert_be<uint16_t>(src, out.data_ptr<int64_t>(), n);
      return out;
    }
    case 0x0C: {
      Tensor out = empty(d.shape, kInt64);
      convert_be<uint32_t>(src, out.data_ptr<int64_t>(), n);
      return out;
    }
    case 0x0D: {
      Tensor out = empty(d.shape, kFloat32);
      convert_be<uint32_t>(src, out.data_ptr<float>(), n);
      return out;
    }
    default: {
      Tensor out = empty(d.shape, kFloat64);
      convert_be<uint64_t>(src, out.data_ptr<double>(), n);
      return out;
    }
  }
}

Tensor read_idx_images(const std::string& path, int64_t limit) {
  IdxData d = read_raw(path, limit, "read_idx_images", 0x08, 3);
  Tensor out = empty({d.shape[0], 1, d.shape[1], d.shape[2]}, kFloat32);
  float* dst = out.data_ptr<float>();
  const unsigned char* src = d.bytes.data();
  parallel_for(out.numel(), kParallelGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dst[i] = static_cast<float>(src[i]) * (1.0f / 255.0f);
  });
  return out;
}

Tensor read_idx_labels(const std::string& path, int64_t limit) {
  IdxData d = read_raw(path, limit, "read_idx_labels", 0x08, 1);
  Tensor out = empty(d.shape, kInt64);
  int64_t* dst = out.data_ptr<int64_t>();
  for (int64_t i = 0; i < out.numel(); ++i) dst[i] = d.bytes[static_cast<size_t>(i)];
  return out;
}

void write_idx(const std::string& path, const Tensor& t) {
  TANGENT_CHECK(t.defined(), "write_idx: the tensor is undefined");
  TANGENT_CHECK(t.dim() >= 1, "write_idx: IDX needs at least 1 dim, got shape ", t.shape());
  uint8_t type = 0;
  std::vector<unsigned char> body;
  const int64_t n = t.numel();
  if (t.dtype() == kInt64 || t.dtype() == kBool) {
    type = 0x08;
    const std::vector<int64_t> v = to_vector<int64_t>(t);
    body.resize(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      TANGENT_CHECK(v[i] >= 0 && v[i] <= 255, "write_idx: integer tensors are written as uint8, but element ", i,
                    " is ", v[i], " (shape ", t.shape(), ")");
      body[i] = static_cast<unsigned char>(v[i]);
    }
  } else if (t.dtype() == kFloat32 || t.dtype() == kFloat64) {
    const bool f32 = t.dtype() == kFloat32;
    type = f32 ? 0x0D : 0x0E;
    const size_t es = f32 ? 4 : 8;
    body.resize(static_cast<size_t>(n) * es);
    if (f32) {
      const std::vector<float> v = to_vector<float>(t);
      for (size_t i = 0; i < v.size(); ++i) {
        uint32_t u;
        std::memcpy(&u, &v[i], 4);
        for (size_t k = 0; k < 4; ++k) body[i * 4 + k] = static_cast<unsigned char>(u >> (24 - 8 * k));
      }
    } else {
      const std::vector<double> v = to_vector<double>(t);
      for (size_t i = 0; i < v.size(); ++i) {
        uint64_t u;
        std::memcpy(&u, &v[i], 8);
        for (size_t k = 0; k < 8; ++k) body[i * 8 + k] = static_cast<unsigned char>(u >> (56 - 8 * k));
      }
    }
  } else {
    TANGENT_FAIL("write_idx: unsupported dtype ", t.dtype(), " (use int64/bool for uint8, float32 or float64)");
  }
  std::vector<unsigned char> header = {0, 0, type, static_cast<unsigned char>(t.dim())};
  for (int64_t s : t.shape()) {
    TANGENT_CHECK(s <= 0xFFFFFFFFLL, "write_idx: dim ", s, " does not fit IDX's 32-bit sizes (shape ", t.shape(), ")");
    for (int k = 3; k >= 0; --k) header.push_back(static_cast<unsigned char>(static_cast<uint64_t>(s) >> (8 * k)));
  }
  if (!detail::ends_with(path, ".gz")) {
    write_atomically(path, "write_idx", [&](std::ostream& out) {
      out.write(reinterpret_cast<const char*>(header.data()), static_cast<std::streamsize>(header.size()));
      out.write(reinterpret_cast<const char*>(body.data()), static_cast<std::streamsize>(body.size()));
    });
    return;
  }
  const std::string tmp = detail::temp_path_for(path);
  gzFile f = gzopen(tmp.c_str(), "wb");
  if (f == nullptr) TANGENT_FAIL("write_idx: cannot open '", tmp, "' for writing: ", std::strerror(errno));
  bool ok = gzwrite(f, header.data(), static_cast<unsigned>(header.size())) == static_cast<int>(header.size());
  for (size_t off = 0; ok && off < body.size(); off += size_t{1} << 26) {
    const unsigned len = static_cast<unsigned>(std::min(body.size() - off, size_t{1} << 26));
    ok = gzwrite(f, body.data() + off, len) == static_cast<int>(len);
  }
  ok = (gzclose_w(f) == Z_OK) && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    TANGENT_FAIL("write_idx: writing '", tmp, "' failed");
  }
  detail::commit_temp_file(tmp, path, "write_idx");
}

}  // namespace tangent::data
