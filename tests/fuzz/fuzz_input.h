#pragma once
// Shared by the libFuzzer targets (tests/fuzz/fuzz_*.cpp): the bytes go through the real reader, a tangent::Error
// is an accepted rejection, and anything else (another exception, a signal, a sanitizer report, a leak, a hang,
// too much memory) is a finding that libFuzzer reports.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"

namespace tangent::fuzz {

// A file of this process under $TMPDIR (default /tmp), named with `suffix` (".npy", ".gz", ...), which holds the
// given bytes; readers that take a path read it. It is removed when the process exits normally.
inline std::string write_input(const void* data, size_t size, const std::string& suffix) {
  struct Remover {
    std::string path;
    ~Remover() { std::remove(path.c_str()); }
  };
  const char* dir = std::getenv("TMPDIR");
  const std::string path =
      std::string(dir && *dir ? dir : "/tmp") + "/tangent-fuzz-" + std::to_string(::getpid()) + suffix;
  static Remover remover{path};  // one file per process and target
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();  // the harness is broken, not the reader
  }
  return path;
}

// Runs `read`; a tangent::Error is a clean rejection. Other exceptions propagate (std::terminate: a finding).
template <typename F>
void accept_errors(F&& read) {
  try {
    read();
  } catch (const Error&) {}
}

}  // namespace tangent::fuzz
