#pragma once
// Config: a model's configuration as ordered key/value text. Checkpoints and ONNX metadata store it, and
// models/ rebuilds a model from its kind and Config alone.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tangent::nn {

class Config {
 public:
  Config() = default;
  explicit Config(std::map<std::string, std::string> values) : values_(std::move(values)) {}

  void set(const std::string& key, const std::string& value) { values_[key] = value; }
  void set(const std::string& key, const char* value) { values_[key] = value; }
  void set(const std::string& key, int64_t value) { values_[key] = std::to_string(value); }
  void set(const std::string& key, int value) { values_[key] = std::to_string(value); }
  void set(const std::string& key, double value);
  void set(const std::string& key, bool value) { values_[key] = value ? "true" : "false"; }
  void set(const std::string& key, const std::vector<int64_t>& values);

  bool has(const std::string& key) const { return values_.count(key) > 0; }
  // Typed reads; a missing key without a fallback, or a malformed value, raises an Error naming the key.
  std::string get_string(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  int64_t get_int(const std::string& key) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_double(const std::string& key) const;
  double get_double(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::vector<int64_t> get_ints(const std::string& key) const;  // "1,2,3"; "" is empty

  const std::map<std::string, std::string>& values() const { return values_; }
  std::string str() const;  // "key=value, ..." for messages and summaries

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace tangent::nn
