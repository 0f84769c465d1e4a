#pragma once
// tangent::Error and the TANGENT_CHECK macro: every user-facing failure is an Error whose message names the op
// and the shapes, dtypes or devices involved.
#include <sstream>
#include <stdexcept>
#include <string>

namespace tangent {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
inline void append(std::ostringstream&) {}
template <typename T, typename... Rest>
void append(std::ostringstream& os, const T& v, const Rest&... rest) {
  os << v;
  append(os, rest...);
}
template <typename... Args>
[[noreturn]] void fail(const Args&... args) {
  std::ostringstream os;
  append(os, args...);
  throw Error(os.str());
}
}  // namespace detail

}  // namespace tangent

// TANGENT_CHECK(cond, "op: ", x.shape(), " ...") throws tangent::Error with the concatenated message.
#define TANGENT_CHECK(cond, ...)                                            \
  do {                                                                      \
    if (__builtin_expect(!(cond), 0)) ::tangent::detail::fail(__VA_ARGS__); \
  } while (0)

#define TANGENT_FAIL(...) ::tangent::detail::fail(__VA_ARGS__)
