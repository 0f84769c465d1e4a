#pragma once
// Shared oneDNN plumbing for the CPU backend: the engine and stream, dtype mapping, a per-thread primitive cache
// (keyed by shapes/strides/dtype, so that a repeated op reuses its primitive and memory objects and only swaps
// the data pointers), and small helpers used by matmul.cpp and conv.cpp.
#include <dnnl.hpp>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <unordered_map>
#include <utility>

#include "core/tensor.h"

namespace tangent::cpu::dnnl_util {

// The process-wide CPU engine, and this thread's in-order stream on it.
dnnl::engine& engine();
dnnl::stream& stream();

// The oneDNN data type for a dtype; false when oneDNN has none (float64, int64, bool).
bool to_dnnl_type(DType t, dnnl::memory::data_type* out);

inline dnnl::memory::dims dims_of(const Shape& s) { return dnnl::memory::dims(s.begin(), s.end()); }

// A cache key: a short list of integers (op kind, dtype, sizes, strides, flags).
struct Key {
  static constexpr int kMax = 40;
  int64_t v[kMax];
  int n = 0;
  Key& add(int64_t x) {
    TANGENT_CHECK(n < kMax, "oneDNN primitive cache: key too long");
    v[n++] = x;
    return *this;
  }
  Key& add(const Shape& s) {
    add(static_cast<int64_t>(s.size()));
    for (int64_t x : s) add(x);
    return *this;
  }
  friend bool operator==(const Key& a, const Key& b) {
    if (a.n != b.n) return false;
    for (int i = 0; i < a.n; ++i)
      if (a.v[i] != b.v[i]) return false;
    return true;
  }
};
struct KeyHash {
  size_t operator()(const Key& k) const {
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < k.n; ++i) h = (h ^ static_cast<uint64_t>(k.v[i])) * 1099511628211ull;
    return static_cast<size_t>(h);
  }
};

// A ready-to-run primitive with its argument memory objects; run() only swaps data handles (no allocation).
struct Prim {
  dnnl::primitive prim;
  std::unordered_map<int, dnnl::memory> args;
  // Extra per-entry facts the creator wants to remember (e.g. which operands must be copied first).
  int64_t flags = 0;

  void add_arg(int id, const dnnl::memory::desc& md) { args.emplace(id, dnnl::memory(md, engine(), nullptr)); }
  void run(std::initializer_list<std::pair<int, const void*>> handles) {
    for (const auto& h : handles) args.at(h.first).set_data_handle(const_cast<void*>(h.second));
    prim.execute(stream(), args);
    stream().wait();
  }
};

// A per-thread map Key -> Prim (no locking). It is cleared when it grows past a bound, so that programs cycling
// through many shapes do not grow without limit.
class PrimCache {
 public:
  template <typename Make>
  Prim& get(const Key& key, Make&& make) {
    auto it = map_.find(key);
    if (it != map_.end()) return it->second;
    if (map_.size() >= kCapacity) map_.clear();
    return map_.emplace(key, make()).first->second;
  }
  size_t size() const { return map_.size(); }

 private:
  static constexpr size_t kCapacity = 512;
  std::unordered_map<Key, Prim, KeyHash> map_;
};

// This thread's cache (shared by every oneDNN op of the backend; the key's first entry names the op).
PrimCache& cache();

enum OpKind : int64_t { kMatmul = 1, kConvFwd, kConvBwdData, kConvBwdWeights };

// Runs `fn` and turns a dnnl::error into a tangent::Error naming `op`.
template <typename F>
auto guarded(const char* op, F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const dnnl::error& e) {
    TANGENT_FAIL(op, ": oneDNN failed: ", e.what());
  }
}

// A contiguous float32 copy of t (used to run float16/bfloat16 through the float32 kernels).
Tensor to_float32(const Tensor& t);

}  // namespace tangent::cpu::dnnl_util
