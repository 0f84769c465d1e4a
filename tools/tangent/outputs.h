#pragma once
// The files a command has written so far: if the command fails before it is done, they are removed again, so that a
// failing command leaves no partial output behind (each file itself is written atomically).
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace tangent::cli {

class OutputFiles {
 public:
  OutputFiles() = default;
  OutputFiles(const OutputFiles&) = delete;
  OutputFiles& operator=(const OutputFiles&) = delete;
  ~OutputFiles() {
    std::error_code ec;
    for (const auto& p : written_) std::filesystem::remove(p, ec);
  }
  // Call after `path` has been written.
  void wrote(const std::string& path) { written_.push_back(path); }
  // The command succeeded: keep everything.
  void keep() { written_.clear(); }

 private:
  std::vector<std::string> written_;
};

}  // namespace tangent::cli
