// CUDA kernels of the CUDA backend: fill, strided copy, and float32 unary/binary elementwise (dispatch and
// formulas generated from core/scalar_math.h). Each kernel is a grid-stride loop over the iteration space of
// kernels::Geometry; dense operands take the linear-index fast path.
#include <cuda_runtime.h>

#include "core/error.h"
#include "cuda/cuda_kernels.h"

namespace tangent::cuda::kernels {

namespace {

template <int N>
struct Operands {
  Operand v[N];
};

constexpr int kThreads = 256;

int64_t num_blocks(int64_t n) {
  const int64_t b = (n + kThreads - 1) / kThreads;
  return b < (int64_t{1} << 16) ? b : (int64_t{1} << 16);
}

void check_launch(const char* what) {
  const cudaError_t err = cudaGetLastError();
  TANGENT_CHECK(err == cudaSuccess, "cuda: launching the ", what, " kernel failed: ", cudaGetErrorString(err));
}

// Byte address of element i of each operand (i is a row-major index into g.sizes).
template <int N>
__device__ __forceinline__ void locate(const Geometry& g, const Operands<N>& ops, int64_t i, char* (&p)[N]) {
#pragma unroll
  for (int k = 0; k < N; ++k) p[k] = ops.v[k].data;
  for (int d = g.ndim - 1; d >= 0; --d) {
    const int64_t size = g.sizes[d];
    const int64_t idx = i % size;
    i /= size;
#pragma unroll
    for (int k = 0; k < N; ++k) p[k] += idx * ops.v[k].strides[d];
  }
}

#define TANGENT_GRID_STRIDE_LOOP(i, n)                                                   \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

template <typename Word>
__global__ void fill_kernel(Geometry g, Operands<1> ops, Word value) {
  TANGENT_GRID_STRIDE_LOOP(i, g.numel) {
    if (g.contiguous) {
      reinterpret_cast<Word*>(ops.v[0].data)[i] = value;
    } else {
      char* p[1];
      locate(g, ops, i, p);
      *reinterpret_cast<Word*>(p[0]) = value;
    }
  }
}

template <typename Word>
__global__ void copy_kernel(Geometry g, Operands<2> ops) {
  TANGENT_GRID_STRIDE_LOOP(i, g.numel) {
    char* p[2];
    locate(g, ops, i, p);
    *reinterpret_cast<Word*>(p[0]) = *reinterpret_cast<const Word*>(p[1]);
  }
}

template <typename F>
__global__ void unary_kernel(Geometry g, Operands<2> ops, F f) {
  TANGENT_GRID_STRIDE_LOOP(i, g.numel) {
    if (g.contiguous) {
      reinterpret_cast<float*>(ops.v[0].data)[i] = f(reinterpret_cast<const float*>(ops.v[1].data)[i]);
    } else {
      char* p[2];
      locate(g, ops, i, p);
      *reinterpret_cast<float*>(p[0]) = f(*reinterpret_cast<const float*>(p[1]));
    }
  }
}

template <typename R, typename F>
__global__ void binary_kernel(Geometry g, Operands<3> ops, F f) {
  TANGENT_GRID_STRIDE_LOOP(i, g.numel) {
    if (g.contiguous) {
      reinterpret_cast<R*>(ops.v[0].data)[i] =
          f(reinterpret_cast<const float*>(ops.v[1].data)[i], reinterpret_cast<const float*>(ops.v[2].data)[i]);
    } else {
      char* p[3];
      locate(g, ops, i, p);
      *reinterpret_cast<R*>(p[0]) = f(*reinterpret_cast<const float*>(p[1]), *reinterpret_cast<const float*>(p[2]));
    }
  }
}

// The float32 instances of the scalar formulas of core/scalar_math.h (the CPU backend runs the same ones).
template <typename Op>
struct UnaryF {
  scalar_math::Params<float> p;
  __device__ float operator()(float v) const { return Op::f(v, p); }
};

template <typename Op>
struct BinaryF {
  __device__ auto operator()(float x, float y) const { return Op::f(x, y); }
};

// The float32 kernels: ops whose output is float32 (not the logical ones, whose output is bool on any input).
template <typename Op>
constexpr bool has_f32_kernel() {
  return Op::domain != scalar_math::Domain::Logical;
}

template <typename Op>
void run_unary(const Geometry& g, const Operands<2>& ops, float p0, float p1) {
  if constexpr (has_f32_kernel<Op>()) {
    unary_kernel<<<num_blocks(g.numel), kThreads>>>(g, ops, UnaryF<Op>{scalar_math::Params<float>(p0, p1)});
    check_launch(Op::name);
  } else {
    TANGENT_FAIL(Op::name, ": not implemented on cuda yet for float32");
  }
}

template <typename Op>
void run_binary(const Geometry& g, const Operands<3>& ops) {
  if constexpr (has_f32_kernel<Op>()) {
    using R = decltype(Op::f(0.0f, 0.0f));
    binary_kernel<R><<<num_blocks(g.numel), kThreads>>>(g, ops, BinaryF<Op>{});
    check_launch(Op::name);
  } else {
    TANGENT_FAIL(Op::name, ": not implemented on cuda yet for float32");
  }
}

}  // namespace

void fill(const Geometry& g, const Operand& dst, const void* value, size_t element_size) {
  if (g.numel == 0) return;
  const Operands<1> ops{{dst}};
  const auto blocks = num_blocks(g.numel);
  switch (element_size) {
    case 1:
      fill_kernel<<<blocks, kThreads>>>(g, ops, *static_cast<const uint8_t*>(value));
      break;
    case 2:
      fill_kernel<<<blocks, kThreads>>>(g, ops, *static_cast<const uint16_t*>(value));
      break;
    case 4:
      fill_kernel<<<blocks, kThreads>>>(g, ops, *static_cast<const uint32_t*>(value));
      break;
    case 8:
      fill_kernel<<<blocks, kThreads>>>(g, ops, *static_cast<const uint64_t*>(value));
      break;
    default:
      TANGENT_FAIL("cuda fill: unsupported element size ", element_size);
  }
  check_launch("fill");
}

void copy(const Geometry& g, const Operand& dst, const Operand& src, size_t element_size) {
  if (g.numel == 0) return;
  const Operands<2> ops{{dst, src}};
  const auto blocks = num_blocks(g.numel);
  switch (element_size) {
    case 1:
      copy_kernel<uint8_t><<<blocks, kThreads>>>(g, ops);
      break;
    case 2:
      copy_kernel<uint16_t><<<blocks, kThreads>>>(g, ops);
      break;
    case 4:
      copy_kernel<uint32_t><<<blocks, kThreads>>>(g, ops);
      break;
    case 8:
      copy_kernel<uint64_t><<<blocks, kThreads>>>(g, ops);
      break;
    default:
      TANGENT_FAIL("cuda copy: unsupported element size ", element_size);
  }
  check_launch("copy");
}

bool unary_f32_supported(UnaryOp op) {
#define TANGENT_UNARY_ENTRY(Name) has_f32_kernel<scalar_math::Name>(),
  constexpr bool table[] = {TANGENT_UNARY_OPS(TANGENT_UNARY_ENTRY)};
#undef TANGENT_UNARY_ENTRY
  return table[static_cast<int>(op)];
}

void unary_f32(UnaryOp op, const Geometry& g, const Operand& out, const Operand& x, float p0, float p1) {
  if (g.numel == 0) return;
  const Operands<2> ops{{out, x}};
  switch (op) {
#define TANGENT_UNARY_CASE(Name) \
  case UnaryOp::Name:            \
    return run_unary<scalar_math::Name>(g, ops, p0, p1);
    TANGENT_UNARY_OPS(TANGENT_UNARY_CASE)
#undef TANGENT_UNARY_CASE
  }
  TANGENT_FAIL("cuda unary: unknown op ", static_cast<int>(op));
}

bool binary_f32_supported(BinaryOp op) {
#define TANGENT_BINARY_ENTRY(Name) has_f32_kernel<scalar_math::Name>(),
  constexpr bool table[] = {TANGENT_BINARY_OPS(TANGENT_BINARY_ENTRY)};
#undef TANGENT_BINARY_ENTRY
  return table[static_cast<int>(op)];
}

void binary_f32(BinaryOp op, const Geometry& g, const Operand& out, const Operand& a, const Operand& b) {
  if (g.numel == 0) return;
  const Operands<3> ops{{out, a, b}};
  switch (op) {
#define TANGENT_BINARY_CASE(Name) \
  case BinaryOp::Name:            \
    return run_binary<scalar_math::Name>(g, ops);
    TANGENT_BINARY_OPS(TANGENT_BINARY_CASE)
#undef TANGENT_BINARY_CASE
  }
  TANGENT_FAIL("cuda binary: unknown op ", static_cast<int>(op));
}

}  // namespace tangent::cuda::kernels
