#include "tools/tangent/flags.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <sstream>

namespace tangent::cli {

namespace {

std::string interval(double lo, double hi, bool open_lo, bool open_hi) {
  std::ostringstream os;
  os.precision(10);
  if (lo == -std::numeric_limits<double>::max() && hi == std::numeric_limits<double>::max()) return "";
  if (hi == std::numeric_limits<double>::max())
    os << (open_lo ? "> " : ">= ") << lo;
  else
    os << "in " << (open_lo ? "(" : "[") << lo << ", " << hi << (open_hi ? ")" : "]");
  return os.str();
}

std::string integer_range(int64_t lo, int64_t hi) {
  std::ostringstream os;
  if (hi == std::numeric_limits<int64_t>::max())
    os << ">= " << lo;
  else
    os << "in [" << lo << ", " << hi << "]";
  return os.str();
}

// Parses a decimal integer in [lo, hi] into v; returns the problem, or "".
std::string parse_integer(const std::string& s, int64_t lo, int64_t hi, int64_t& v) {
  const std::string expected = "expected an integer " + integer_range(lo, hi) + ", got '" + s + "'";
  size_t digits = s.size() > 0 && s[0] == '-' ? 1 : 0;
  if (s.size() == digits) return expected;
  for (size_t i = digits; i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return expected;
  errno = 0;
  const long long parsed = std::strtoll(s.c_str(), nullptr, 10);
  if (errno == ERANGE || parsed < lo || parsed > hi) return expected;
  v = parsed;
  return "";
}

std::string check_input_file(const std::string& path) {
  if (path.empty()) return "the file name is empty";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "cannot read '" + path + "': " + std::strerror(errno);
  if (S_ISDIR(st.st_mode)) return "'" + path + "' is a directory, not a file";
  if (!S_ISREG(st.st_mode)) return "'" + path + "' is not a regular file";
  if (::access(path.c_str(), R_OK) != 0) return "cannot read '" + path + "': " + std::strerror(errno);
  return "";
}

// The nearest existing ancestor of `path` (a directory we may write to), or the problem.
std::string check_writable_parent(const std::filesystem::path& path) {
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return "the directory '" + dir.string() + "' does not exist";
  if (!S_ISDIR(st.st_mode)) return "'" + dir.string() + "' is not a directory";
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    return "cannot write to the directory '" + dir.string() + "': " + std::strerror(errno);
  return "";
}

}  // namespace

CLI::Validator integer(int64_t lo, int64_t hi) {
  return CLI::Validator(
      [lo, hi](std::string& s) {
        int64_t v = 0;
        return parse_integer(s, lo, hi, v);
      },
      "INT " + integer_range(lo, hi));
}

CLI::Validator number(double lo, double hi, bool open_lo, bool open_hi) {
  const std::string range = interval(lo, hi, open_lo, open_hi);  // "" for any finite number
  const std::string in = range.empty() ? "" : " " + range;
  return CLI::Validator(
      [=](std::string& s) -> std::string {
        char* end = nullptr;
        errno = 0;
        const double v = s.empty() ? NAN : std::strtod(s.c_str(), &end);
        if (s.empty() || end != s.c_str() + s.size()) return "expected a number" + in + ", got '" + s + "'";
        if (!std::isfinite(v)) return "expected a finite number" + in + ", got '" + s + "'";
        if (v < lo || v > hi || (open_lo && v == lo) || (open_hi && v == hi))
          return "expected a number" + in + ", got " + s;
        return "";
      },
      range.empty() ? "NUMBER" : "NUMBER " + range);
}

CLI::Validator integer_list(int64_t lo, int64_t hi, bool allow_empty) {
  return CLI::Validator(
      [lo, hi, allow_empty](std::string& s) -> std::string {
        if (s.empty() && allow_empty) return "";
        if (s.empty()) return "expected a comma-separated list of integers " + integer_range(lo, hi) + ", got ''";
        std::stringstream in(s);
        std::string item;
        while (std::getline(in, item, ',')) {
          int64_t v = 0;
          const std::string problem = parse_integer(item, lo, hi, v);
          if (!problem.empty()) return "in '" + s + "': " + problem;
        }
        if (s.back() == ',') return "in '" + s + "': a trailing comma";
        return "";
      },
      "INTS " + integer_range(lo, hi));
}

CLI::Validator non_empty() {
  return CLI::Validator([](std::string& s) { return s.empty() ? std::string("must not be empty") : std::string(); },
                        "");
}

CLI::Validator input_file() {
  return CLI::Validator([](std::string& s) { return check_input_file(s); }, "FILE");
}

CLI::Validator output_file() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        if (s.empty()) return "the file name is empty";
        struct stat st {};
        if (::stat(s.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return "'" + s + "' is a directory";
        if (::lstat(s.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) return "'" + s + "' exists and is not a regular file";
        return check_writable_parent(s);
      },
      "FILE");
}

CLI::Validator output_dir() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        if (s.empty()) return "the directory name is empty";
        std::filesystem::path p = s;
        struct stat st {};
        if (::stat(p.c_str(), &st) == 0) {
          if (!S_ISDIR(st.st_mode)) return "'" + s + "' exists and is not a directory";
          if (::access(p.c_str(), W_OK | X_OK) != 0)
            return "cannot write to the directory '" + s + "': " + std::strerror(errno);
          return "";
        }
        // Created with its missing parents: the nearest existing ancestor must be a writable directory.
        p = std::filesystem::absolute(p).lexically_normal();
        while (p.has_relative_path() && ::stat(p.c_str(), &st) != 0) p = p.parent_path();
        if (!S_ISDIR(st.st_mode)) return "cannot create '" + s + "': '" + p.string() + "' is not a directory";
        if (::access(p.c_str(), W_OK | X_OK) != 0)
          return "cannot create '" + s + "' in '" + p.string() + "': " + std::strerror(errno);
        return "";
      },
      "DIR");
}

CLI::Validator data_spec() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        if (s.empty()) return "the data set name is empty";
        if (s.rfind("npy:", 0) == 0) {
          const std::string files = s.substr(4);
          const size_t comma = files.find(',');
          for (const std::string& f :
               {files.substr(0, comma), comma == std::string::npos ? std::string("-") : files.substr(comma + 1)}) {
            if (f == "-") continue;
            const std::string problem = check_input_file(f);
            if (!problem.empty()) return "in '" + s + "': " + problem;
          }
          return "";
        }
        if (s.rfind("text:", 0) == 0) {
          struct stat st {};
          const std::string path = s.substr(5);
          if (path.empty()) return "'" + s + "' names no file or directory";
          if (::stat(path.c_str(), &st) != 0) return "cannot read '" + path + "': " + std::strerror(errno);
          if (!S_ISDIR(st.st_mode)) return check_input_file(path);
          return "";
        }
        if (s.size() > 4 && s.compare(s.size() - 4, 4, ".npy") == 0) return check_input_file(s);
        return "";
      },
      "");
}

}  // namespace tangent::cli
