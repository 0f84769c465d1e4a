#pragma once
// Tests that need an optional dependency (NumPy or ONNX Runtime for python3, the Fashion-MNIST or fortunes
// packages, the `tangent` binary beside the tests, cmake on PATH) skip when it is missing, so that a partial
// checkout still runs the rest. Under CI a missing dependency is a failure instead: nothing the CI machine is meant
// to have may silently turn a test into a skip. CI means `TANGENT_REQUIRE_OPTIONAL=1` (exported by .ci/run), or
// `CI=true` (set by most CI systems and by the fresh-root check) when TANGENT_REQUIRE_OPTIONAL is unset;
// `TANGENT_REQUIRE_OPTIONAL=0` turns it off. tools/install_deps.sh follows the same rule.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

namespace tangent::testing_support {

inline bool optional_dependencies_required() {
  const char* v = std::getenv("TANGENT_REQUIRE_OPTIONAL");
  if (v != nullptr && *v != '\0') return std::strcmp(v, "0") != 0;
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::strcmp(ci, "true") == 0;
}

}  // namespace tangent::testing_support

// Use at the top of a test body or SetUp(): `TANGENT_REQUIRE_OR_SKIP(have_ort(), "onnxruntime (pip install ...)");`
// Skips (or fails under TANGENT_REQUIRE_OPTIONAL=1) naming what is missing.
#define TANGENT_REQUIRE_OR_SKIP(available, what)                                      \
  if (!(available)) {                                                                 \
    if (::tangent::testing_support::optional_dependencies_required()) {               \
      FAIL() << "missing " << what << " (required: TANGENT_REQUIRE_OPTIONAL is set)"; \
    } else {                                                                          \
      GTEST_SKIP() << "missing " << what;                                             \
    }                                                                                 \
  }                                                                                   \
  static_assert(true, "")
