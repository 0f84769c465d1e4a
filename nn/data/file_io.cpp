// File helpers: durable atomic writes, and GzReader (zlib) for nn/data's readers.
#include "nn/data/file_io.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace tangent::data {
namespace detail {

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

namespace {

// fsync of a file or directory by name; returns 0 or the errno of the failure.
int sync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | flags);
  if (fd < 0) return errno;
  int err = ::fsync(fd) == 0 ? 0 : errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  return err;
}

}  // namespace

void commit_temp_file(const std::string& tmp, const std::string& path, const char* op) {
  if (const int err = sync_path(tmp, 0); err != 0) {
    std::remove(tmp.c_str());
    TANGENT_FAIL(op, ": cannot flush '", tmp, "' to disk: ", std::strerror(err));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    TANGENT_FAIL(op, ": cannot rename '", tmp, "' to '", path, "': ", std::strerror(err));
  }
  // The rename is durable once the directory is: fsync it too. EINVAL: the file system cannot sync directories.
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  if (const int err = sync_path(dir, O_DIRECTORY); err != 0 && err != EINVAL) {
    TANGENT_FAIL(op, ": wrote '", path, "', but cannot flush its directory '", dir, "' to disk: ", std::strerror(err));
  }
}

}  // namespace detail

void write_atomically(const std::string& path, const char* op, const std::function<void(std::ostream&)>& write) {
  const std::string tmp = detail::temp_path_for(path);
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
  detail::commit_temp_file(tmp, path, op);
}

void write_atomically(const std::string& path, const char* op, const std::string& bytes) {
  write_atomically(path, op,
                   [&](std::ostream& out) { out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
}

}  // namespace tangent::data
