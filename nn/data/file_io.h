#pragma once
// File helpers: durable atomic writes, which every writer of Tangent goes through (checkpoints, .npy, IDX, CSV,
// ONNX, safetensors, the CLI's metrics and SVG plots), and, for the readers of nn/data (internal), a zlib-backed
// reader that reads plain and gzip-compressed files alike and never reads past the end.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

namespace tangent::data {

// Writes `path` atomically and durably: `write` fills a stream on the temp file "path.tmp-<pid>" in the same
// directory, which is flushed to disk (fsync), renamed over `path`, and the directory fsync'ed, so that after a
// crash or power loss `path` holds either its old contents or the complete new ones. Any failure raises an Error
// naming `op` and the file; one before the rename removes the temp file and leaves `path` untouched.
void write_atomically(const std::string& path, const char* op, const std::function<void(std::ostream&)>& write);
void write_atomically(const std::string& path, const char* op, const std::string& bytes);

namespace detail {

// Reads a file through zlib (gzopen reads uncompressed files transparently). Errors name `op` and the path.
class GzReader {
 public:
  GzReader(const std::string& path, const char* op);
  ~GzReader();
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;
  // Reads up to n bytes; returns how many were read (fewer only at the end of the data). A decompression error
  // (corrupted or truncated .gz) raises.
  size_t read(void* buf, size_t n);
  // True when no byte is left.
  bool at_end();

 private:
  void* file_ = nullptr;  // gzFile
  std::string path_;
  const char* op_;
};

// For writers that fill the temp file themselves (write_idx's gzip stream): the temp file's name for `path`, and
// the commit: fsync `tmp`, rename it over `path`, fsync the directory. Before the rename, a failure removes `tmp`.
std::string temp_path_for(const std::string& path);
void commit_temp_file(const std::string& tmp, const std::string& path, const char* op);

bool ends_with(const std::string& s, const std::string& suffix);

}  // namespace detail
}  // namespace tangent::data
