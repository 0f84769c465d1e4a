#pragma once
// Shape: a small, allocation-free list of int64 used for shapes, strides and dim lists (at most kMaxDims).
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <type_traits>
#include <vector>

#include "core/error.h"

namespace tangent {

class Shape {
 public:
  static constexpr size_t kMaxDims = 12;
  using value_type = int64_t;
  using iterator = int64_t*;
  using const_iterator = const int64_t*;

  Shape() = default;
  Shape(std::initializer_list<int64_t> v) { assign(v.begin(), v.end()); }
  Shape(const std::vector<int64_t>& v) { assign(v.data(), v.data() + v.size()); }  // NOLINT
  Shape(size_t n, int64_t value) {
    check_size(n);
    n_ = n;
    std::fill(d_, d_ + n, value);
  }
  template <typename It, typename = std::enable_if_t<!std::is_integral_v<It>>>
  Shape(It first, It last) {
    for (; first != last; ++first) push_back(static_cast<int64_t>(*first));
  }

  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  int64_t& operator[](size_t i) { return d_[i]; }
  int64_t operator[](size_t i) const { return d_[i]; }
  int64_t* data() { return d_; }
  const int64_t* data() const { return d_; }
  iterator begin() { return d_; }
  iterator end() { return d_ + n_; }
  const_iterator begin() const { return d_; }
  const_iterator end() const { return d_ + n_; }
  int64_t& back() { return d_[n_ - 1]; }
  int64_t back() const { return d_[n_ - 1]; }
  int64_t front() const { return d_[0]; }

  void push_back(int64_t v) {
    check_size(n_ + 1);
    d_[n_++] = v;
  }
  void pop_back() { --n_; }
  void clear() { n_ = 0; }
  void resize(size_t n, int64_t value = 0) {
    check_size(n);
    for (size_t i = n_; i < n; ++i) d_[i] = value;
    n_ = n;
  }
  // Insert `value` before position `pos` (0 <= pos <= size()).
  void insert(size_t pos, int64_t value) {
    check_size(n_ + 1);
    for (size_t i = n_; i > pos; --i) d_[i] = d_[i - 1];
    d_[pos] = value;
    ++n_;
  }
  void erase(size_t pos) {
    for (size_t i = pos; i + 1 < n_; ++i) d_[i] = d_[i + 1];
    --n_;
  }

  // The number of elements; a product that overflows int64 (a corrupted or hostile shape) raises an Error.
  int64_t numel() const {
    int64_t n = 1;
    for (size_t i = 0; i < n_; ++i)
      if (__builtin_mul_overflow(n, d_[i], &n)) numel_overflow();
    return n;
  }
  std::vector<int64_t> vec() const { return std::vector<int64_t>(d_, d_ + n_); }

  friend bool operator==(const Shape& a, const Shape& b) { return a.n_ == b.n_ && std::equal(a.d_, a.d_ + a.n_, b.d_); }
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }

 private:
  template <typename P>
  void assign(P first, P last) {
    check_size(static_cast<size_t>(last - first));
    n_ = 0;
    for (; first != last; ++first) d_[n_++] = *first;
  }
  [[noreturn]] void numel_overflow() const;
  static void check_size(size_t n) {
    TANGENT_CHECK(n <= kMaxDims, "tensors have at most ", kMaxDims, " dimensions, asked for ", n);
  }
  int64_t d_[kMaxDims] = {};
  size_t n_ = 0;
};

inline std::ostream& operator<<(std::ostream& os, const Shape& s) {
  os << '[';
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  return os << ']';
}

inline void Shape::numel_overflow() const {
  TANGENT_FAIL("the shape ", *this, " has more elements than int64 can count");
}

// The bytes of a contiguous tensor of `shape` with `elem_size`-byte elements, or -1 when a dim is negative or the
// layout overflows int64: the product of the dims, each counted as at least 1 as the strides count them, times
// elem_size. Readers of outside data compare it with the bytes present before allocating anything.
inline int64_t layout_bytes(const Shape& shape, size_t elem_size) {
  int64_t extent = static_cast<int64_t>(elem_size), bytes = extent;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(extent, std::max<int64_t>(d, 1), &extent)) return -1;
    bytes *= d;  // <= extent: cannot overflow
  }
  return bytes;
}

// Contiguous (row-major) strides for a shape.
inline Shape contiguous_strides(const Shape& shape) {
  Shape st(shape.size(), 1);
  int64_t acc = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    st[i] = acc;
    acc *= std::max<int64_t>(shape[i], 1);
  }
  return st;
}

// Wraps a possibly negative dim into [0, ndim); `op` names the caller in the error.
inline int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  const int64_t n = std::max<int64_t>(ndim, 1);
  TANGENT_CHECK(dim >= -n && dim < n, op, ": dim ", dim, " is out of range for a tensor of ", ndim, " dimension(s)");
  return dim < 0 ? dim + n : dim;
}

// The broadcast shape of two shapes (NumPy rules); `op` names the caller in the error.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace tangent
