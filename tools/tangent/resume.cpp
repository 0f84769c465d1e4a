// tangent train --resume: comparing the command line's flags with those stored in the checkpoint.
#include "tools/tangent/resume.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "core/error.h"

namespace tangent::cli {

namespace {

constexpr const char* kPrefix = "flag.";

std::string with(const std::string& name, const std::string& value) {
  return value.empty() ? "without --" + name : "--" + name + " " + value;
}

}  // namespace

void store_run_flags(nn::Checkpoint& checkpoint, const RunFlags& flags) {
  for (const auto& [name, value] : flags) checkpoint.metadata[kPrefix + name] = value;
}

RunFlags stored_run_flags(const nn::Checkpoint& checkpoint) {
  RunFlags flags;
  const std::string prefix = kPrefix;
  for (const auto& [key, value] : checkpoint.metadata)
    if (key.compare(0, prefix.size(), prefix) == 0) flags[key.substr(prefix.size())] = value;
  return flags;
}

std::string flag_text(const std::string& v) { return v; }
std::string flag_text(int64_t v) { return std::to_string(v); }
std::string flag_text(uint64_t v) { return std::to_string(v); }
std::string flag_text(bool v) { return v ? "true" : "false"; }
std::string flag_text(Inverted v) { return flag_text(!v.field); }
std::string flag_text(MaybeGiven v) { return v.given ? flag_text(v.value) : ""; }
std::string flag_text(double v) {
  char buf[40];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(buf, sizeof(buf), "%.*g", digits, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

namespace {

// Parses the whole of `text` with strto*; anything left over, or nothing read, is a malformed value.
template <typename T, typename Parse>
T parse_number(const std::string& name, const std::string& text, Parse parse) {
  errno = 0;
  char* end = nullptr;
  const T v = parse(text.c_str(), &end);
  TANGENT_CHECK(!text.empty() && end == text.c_str() + text.size() && errno != ERANGE && text[0] != ' ',
                "train: --resume: the checkpoint's value '", text, "' of --", name, " is malformed");
  return v;
}

}  // namespace

void parse_flag(const std::string&, const std::string& text, std::string& v) { v = text; }
void parse_flag(const std::string& name, const std::string& text, int64_t& v) {
  v = parse_number<int64_t>(name, text, [](const char* s, char** e) { return std::strtoll(s, e, 10); });
}
void parse_flag(const std::string& name, const std::string& text, uint64_t& v) {
  TANGENT_CHECK(text.find('-') == std::string::npos, "train: --resume: the checkpoint's value '", text, "' of --", name,
                " is malformed");
  v = parse_number<uint64_t>(name, text, [](const char* s, char** e) { return std::strtoull(s, e, 10); });
}
void parse_flag(const std::string& name, const std::string& text, double& v) {
  v = parse_number<double>(name, text, [](const char* s, char** e) { return std::strtod(s, e); });
}
void parse_flag(const std::string& name, const std::string& text, bool& v) {
  TANGENT_CHECK(text == "true" || text == "false", "train: --resume: the checkpoint's value '", text, "' of --", name,
                " is malformed (expected true or false)");
  v = text == "true";
}
void parse_flag(const std::string& name, const std::string& text, Inverted v) {
  bool on = false;
  parse_flag(name, text, on);
  v.field = !on;
}
void parse_flag(const std::string& name, const std::string& text, MaybeGiven v) {
  v.given = !text.empty();
  if (v.given) parse_flag(name, text, v.value);
}

std::vector<std::string> parse_flag_names(const std::string& list) {
  std::vector<std::string> names;
  std::stringstream ss(list);
  std::string name;
  while (std::getline(ss, name, ',')) {
    name.erase(0, name.find_first_not_of(" -"));
    name.erase(name.find_last_not_of(' ') + 1);
    if (!name.empty()) names.push_back(name);
  }
  return names;
}

RunFlags resume_flags(const RunFlags& checkpoint, const RunFlags& command_line, const std::set<std::string>& given,
                      const std::vector<std::string>& overrides) {
  for (const std::string& name : overrides) {
    if (command_line.count(name) == 0) {
      std::string known;
      for (const auto& [flag, value] : command_line) known += (known.empty() ? "" : ", ") + flag;
      TANGENT_FAIL("train: --override: '", name, "' is not a flag the checkpoint records (those are: ", known, ")");
    }
    TANGENT_CHECK(given.count(name) > 0, "train: --override ", name, ": the command line does not give --", name,
                  ", so there is no new value to take");
  }
  RunFlags out = command_line;
  std::string differences;
  for (const auto& [name, value] : command_line) {
    const auto stored = checkpoint.find(name);
    if (stored == checkpoint.end()) continue;  // not recorded: the command line's value
    if (given.count(name) == 0) {
      out[name] = stored->second;
    } else if (value != stored->second && std::find(overrides.begin(), overrides.end(), name) == overrides.end()) {
      differences += (differences.empty() ? "" : "; ") + std::string("the checkpoint was trained with ") +
                     with(name, stored->second) + ", the command line says " + with(name, value);
    }
  }
  TANGENT_CHECK(differences.empty(), "train: --resume: ", differences,
                " (leave these flags off to continue with the checkpoint's values, or pass --override with their "
                "names to take the command line's)");
  return out;
}

}  // namespace tangent::cli
