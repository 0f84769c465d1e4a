#pragma once
// Creating tensors: constant fills, ranges, random draws (Philox, seeded by manual_seed), and from host data.
#include <cstdint>
#include <vector>

#include "core/generator.h"
#include "core/tensor.h"

namespace tangent {

Tensor empty_like(const Tensor& t);
Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor full(const Shape& shape, const Scalar& value, TensorOptions options = {});
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, const Scalar& value);
// A 0-dim tensor holding `value` (dtype from the scalar unless given).
Tensor scalar_tensor(const Scalar& value, TensorOptions options);
Tensor scalar_tensor(const Scalar& value);

// [start, end) in steps of `step`; int64 when all three are integers, float32 otherwise (unless given).
Tensor arange(const Scalar& end);
Tensor arange(const Scalar& start, const Scalar& end, const Scalar& step = 1);
Tensor arange(const Scalar& start, const Scalar& end, const Scalar& step, TensorOptions options);
Tensor linspace(double start, double end, int64_t steps, TensorOptions options = {});
Tensor eye(int64_t n, TensorOptions options = {});
Tensor eye(int64_t n, int64_t m, TensorOptions options = {});

// Uniform [0, 1), standard normal, integers in [low, high), and 0/1 draws with probability p (or per-element
// probabilities). Each draws from `gen` (default: the global generator).
Tensor rand(const Shape& shape, TensorOptions options = {}, Generator* gen = nullptr);
Tensor randn(const Shape& shape, TensorOptions options = {}, Generator* gen = nullptr);
Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions options = TensorOptions(kInt64),
               Generator* gen = nullptr);
Tensor bernoulli(const Tensor& probs, Generator* gen = nullptr);
Tensor bernoulli(const Shape& shape, double p, TensorOptions options = {}, Generator* gen = nullptr);
Tensor rand_like(const Tensor& t, Generator* gen = nullptr);
Tensor randn_like(const Tensor& t, Generator* gen = nullptr);

// Copies host data into a new tensor (dtype from T; shape defaults to 1-D).
template <typename T>
Tensor tensor(const std::vector<T>& values, const Shape& shape, TensorOptions options);
Tensor tensor(const std::vector<float>& values, const Shape& shape = {}, TensorOptions options = {});
Tensor tensor(const std::vector<double>& values, const Shape& shape = {}, TensorOptions options = kFloat64);
Tensor tensor(const std::vector<int64_t>& values, const Shape& shape = {}, TensorOptions options = kInt64);
Tensor tensor(const std::vector<bool>& values, const Shape& shape = {}, TensorOptions options = kBool);
// Wraps (no copy) host memory that outlives the tensor.
Tensor from_blob(void* data, const Shape& shape, DType dtype = kFloat32);
Tensor from_blob(void* data, const Shape& shape, const Shape& strides, DType dtype);
// Copies host memory into a new tensor.
Tensor from_data(const void* data, const Shape& shape, DType dtype = kFloat32);

// Host copy of the elements, converted to T, in row-major order.
template <typename T>
std::vector<T> to_vector(const Tensor& t);

}  // namespace tangent
