#pragma once
// File helpers shared by the readers and writers of nn/data (internal): a zlib-backed reader that reads plain
// and gzip-compressed files alike and never reads past the end, and atomic writes (temp file + rename).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

namespace tangent::data::detail {

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

// Writes `path` atomically: `write` fills a stream on "path.tmp-<pid>", which is renamed over `path` only
// when everything was written; on any failure the temp file is removed and an Error raised.
void write_atomically(const std::string& path, const char* op, const std::function<void(std::ostream&)>& write);

// Renames `tmp` over `path` (removing `tmp` and raising on failure).
void commit_temp_file(const std::string& tmp, const std::string& path, const char* op);
std::string temp_path_for(const std::string& path);

bool ends_with(const std::string& s, const std::string& suffix);

}  // namespace tangent::data::detail
