#include "nn/config.h"

#include <sstream>

#include "core/error.h"

namespace tangent::nn {

void Config::set(const std::string& key, double value) {
  std::ostringstream os;
  os.precision(17);
  os << value;
  values_[key] = os.str();
}

void Config::set(const std::string& key, const std::vector<int64_t>& values) {
  std::string s;
  for (size_t i = 0; i < values.size(); ++i) s += (i ? "," : "") + std::to_string(values[i]);
  values_[key] = s;
}

std::string Config::get_string(const std::string& key) const {
  auto it = values_.find(key);
  TANGENT_CHECK(it != values_.end(), "config: missing key '", key, "' (have: ", str(), ")");
  return it->second;
}

std::string Config::get_string(const std::string& key, const std::string& fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second;
}

namespace {
int64_t parse_int(const std::string& key, const std::string& v) {
  try {
    size_t pos = 0;
    const int64_t r = std::stoll(v, &pos);
    if (pos == v.size()) return r;
  } catch (const std::exception&) {}
  TANGENT_FAIL("config: key '", key, "' has value '", v, "', which is not an integer");
}
double parse_double(const std::string& key, const std::string& v) {
  try {
    size_t pos = 0;
    const double r = std::stod(v, &pos);
    if (pos == v.size()) return r;
  } catch (const std::exception&) {}
  TANGENT_FAIL("config: key '", key, "' has value '", v, "', which is not a number");
}
}  // namespace

int64_t Config::get_int(const std::string& key) const { return parse_int(key, get_string(key)); }
int64_t Config::get_int(const std::string& key, int64_t fallback) const { return has(key) ? get_int(key) : fallback; }
double Config::get_double(const std::string& key) const { return parse_double(key, get_string(key)); }
double Config::get_double(const std::string& key, double fallback) const {
  return has(key) ? get_double(key) : fallback;
}
bool Config::get_bool(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  const std::string v = get_string(key);
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  TANGENT_FAIL("config: key '", key, "' has value '", v, "', which is not true or false");
}

std::vector<int64_t> Config::get_ints(const std::string& key) const {
  const std::string v = get_string(key);
  std::vector<int64_t> out;
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(parse_int(key, item));
  return out;
}

std::string Config::str() const {
  std::string s;
  for (const auto& [k, v] : values_) s += (s.empty() ? "" : ", ") + k + "=" + v;
  return s;
}

}  // namespace tangent::nn
