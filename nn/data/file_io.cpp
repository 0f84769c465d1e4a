// File helpers for nn/data: GzReader (zlib) and atomic writes.
#include "nn/data/file_io.h"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "core/error.h"

namespace tangent::data::detail {

GzReader::GzReader(const std::string& path, const char* op) : path_(path), op_(op) {
  errno = 0;
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) {
    TANGENT_FAIL(op, ": cannot open '", path, "': ", errno != 0 ? std::strerror(errno) : "out of memory");
  }
  gzbuffer(f, 1 << 18);
  file_ = f;
}

GzReader::~GzReader() {
  if (file_ != nullptr) gzclose_r(static_cast<gzFile>(file_));
}

size_t GzReader::read(void* buf, size_t n) {
  auto* f = static_cast<gzFile>(file_);
  auto* out = static_cast<unsigned char*>(buf);
  size_t got = 0;
  while (got < n) {
    const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - got, size_t{1} << 26));
    const int r = gzread(f, out + got, chunk);
    int errnum = Z_OK;
    const char* msg = gzerror(f, &errnum);
    // A truncated .gz reads as a short count with Z_BUF_ERROR ("unexpected end of file").
    if (r < 0 || (errnum != Z_OK && errnum != Z_STREAM_END)) {
      TANGENT_FAIL(op_, ": '", path_, "' is corrupted or truncated (zlib: ", msg != nullptr ? msg : "unknown error",
                   ")");
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}

bool GzReader::at_end() {
  unsigned char c = 0;
  return read(&c, 1) == 0;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string temp_path_for(const std::string& path) { return path + ".tmp-" + std::to_string(::getpid()); }

void commit_temp_file(const std::string& tmp, const std::string& path, const char* op) {
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    TANGENT_FAIL(op, ": cannot rename '", tmp, "' to '", path, "': ", std::strerror(err));
  }
}

void write_atomically(const std::string& path, const char* op, const std::function<void(std::ostream&)>& write) {
  const std::string tmp = temp_path_for(path);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) TANGENT_FAIL(op, ": cannot open '", tmp, "' for writing: ", std::strerror(errno));
    try {
      write(out);
    } catch (...) {
      out.close();
      std::remove(tmp.c_str());
      throw;
    }
    out.close();
    if (out.fail()) {
      std::remove(tmp.c_str());
      TANGENT_FAIL(op, ": writing '", tmp, "' failed (disk full?)");
    }
  }
  commit_temp_file(tmp, path, op);
}

}  // namespace tangent::data::detail
