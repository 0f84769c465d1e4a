#pragma once
// Helpers for tests of bad input: every op raises tangent::Error with a message naming the op and the shapes,
// dtypes or devices involved, and the tests assert on those messages.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"

namespace tangent::testing {

// The message of the tangent::Error that `f` raises, or "<no error>".
template <typename F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

// Expects `f` to raise a tangent::Error whose message contains every one of `parts`.
template <typename F>
void expect_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "expected a tangent::Error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
}

}  // namespace tangent::testing
