// Helpers for tests that call python3 (ONNX Runtime, NumPy) or a shell command.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "support/optional.h"

namespace tangent::testing_support {

// Whether `python3 -c 'import MODULES'` works (MODULES comma separated); asked once per list.
inline bool have_python_module(const std::string& modules) {
  static std::map<std::string, bool> cache;
  auto it = cache.find(modules);
  if (it != cache.end()) return it->second;
  const bool ok = std::system(("python3 -c 'import " + modules + "' >/dev/null 2>&1").c_str()) == 0;
  return cache[modules] = ok;
}
inline bool have_ort() { return have_python_module("onnxruntime, numpy"); }

// Runs a shell command; its exit status (-1 when it did not exit normally), stdout and stderr together in *output.
inline int run_command(const std::string& cmd, std::string* output) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  output->clear();
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) output->append(buf, n);
  const int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace tangent::testing_support

// Skips (fails under CI, see optional.h) a test that needs ONNX Runtime and NumPy.
#define TANGENT_REQUIRE_ORT()                                   \
  TANGENT_REQUIRE_OR_SKIP(tangent::testing_support::have_ort(), \
                          "onnxruntime and numpy for python3 (pip install onnxruntime numpy)")
