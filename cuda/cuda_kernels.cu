// CUDA kernels of the CUDA backend: fill, strided copy, and float32 unary/binary elementwise. Each kernel is a
// grid-stride loop over the iteration space of kernels::Geometry; dense operands take the linear-index fast path.
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

#define TANGENT_GRID_STRIDE_LOOP(i, n)                                                       \
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
      reinterpret_cast<R*>(ops.v[0].data)[i] = f(reinterpret_cast<const float*>(ops.v[1].data)[i],
                                                 reinterpret_cast<const float*>(ops.v[2].data)[i]);
    } else {
      char* p[3];
      locate(g, ops, i, p);
      *reinterpret_cast<R*>(p[0]) = f(*reinterpret_cast<const float*>(p[1]), *reinterpret_cast<const float*>(p[2]));
    }
  }
}

// The float32 unary functions, matching the CPU backend's definitions (ops/cpu/elementwise.cpp).
template <UnaryOp op>
struct UnaryF {
  float p0, p1;
  __device__ float operator()(float v) const {
    if constexpr (op == UnaryOp::Neg) return -v;
    else if constexpr (op == UnaryOp::Exp) return expf(v);
    else if constexpr (op == UnaryOp::Log) return logf(v);
    else if constexpr (op == UnaryOp::Log1p) return log1pf(v);
    else if constexpr (op == UnaryOp::Sqrt) return sqrtf(v);
    else if constexpr (op == UnaryOp::Rsqrt) return 1.0f / sqrtf(v);
    else if constexpr (op == UnaryOp::Abs) return fabsf(v);
    else if constexpr (op == UnaryOp::Sign) return static_cast<float>((0.0f < v) - (v < 0.0f));
    else if constexpr (op == UnaryOp::Sin) return sinf(v);
    else if constexpr (op == UnaryOp::Cos) return cosf(v);
    else if constexpr (op == UnaryOp::Tanh) return tanhf(v);
    else if constexpr (op == UnaryOp::Sigmoid) return 1.0f / (1.0f + expf(-v));
    else if constexpr (op == UnaryOp::Relu) return v > 0.0f ? v : (isnan(v) ? v : 0.0f);
    else if constexpr (op == UnaryOp::Gelu) return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    else if constexpr (op == UnaryOp::GeluTanh)
      return 0.5f * v * (1.0f + tanhf(0.79788456080286535f * (v + 0.044715f * v * v * v)));
    else if constexpr (op == UnaryOp::Silu) return v / (1.0f + expf(-v));
    else if constexpr (op == UnaryOp::Softplus) return v * p0 > p1 ? v : log1pf(expf(v * p0)) / p0;
    else if constexpr (op == UnaryOp::Erf) return erff(v);
    else if constexpr (op == UnaryOp::Reciprocal) return 1.0f / v;
    else if constexpr (op == UnaryOp::Square) return v * v;
    else if constexpr (op == UnaryOp::PowScalar)
      return p0 == 2.0f ? v * v : p0 == 1.0f ? v : p0 == 0.5f ? sqrtf(v) : powf(v, p0);
    else if constexpr (op == UnaryOp::Clamp) return isnan(v) ? v : (v < p0 ? p0 : (v > p1 ? p1 : v));
    else return v;  // unreachable: unary_f32_supported() filters the rest
  }
};

template <BinaryOp op>
struct BinaryF {
  __device__ auto operator()(float x, float y) const {
    if constexpr (op == BinaryOp::Add) return x + y;
    else if constexpr (op == BinaryOp::Sub) return x - y;
    else if constexpr (op == BinaryOp::Mul) return x * y;
    else if constexpr (op == BinaryOp::Div) return x / y;
    else if constexpr (op == BinaryOp::Pow) return powf(x, y);
    else if constexpr (op == BinaryOp::Maximum) return isnan(x) || isnan(y) ? nanf("") : fmaxf(x, y);
    else if constexpr (op == BinaryOp::Minimum) return isnan(x) || isnan(y) ? nanf("") : fminf(x, y);
    else if constexpr (op == BinaryOp::Eq) return x == y;
    else if constexpr (op == BinaryOp::Ne) return x != y;
    else if constexpr (op == BinaryOp::Lt) return x < y;
    else if constexpr (op == BinaryOp::Le) return x <= y;
    else if constexpr (op == BinaryOp::Gt) return x > y;
    else return x >= y;  // Ge; the logical ops are filtered by binary_f32_supported()
  }
};

template <UnaryOp op>
void run_unary(const Geometry& g, const Operands<2>& ops, float p0, float p1) {
  unary_kernel<<<num_blocks(g.numel), kThreads>>>(g, ops, UnaryF<op>{p0, p1});
  check_launch(unary_op_name(op));
}

template <BinaryOp op>
void run_binary(const Geometry& g, const Operands<3>& ops) {
  using R = decltype(BinaryF<op>{}(0.0f, 0.0f));
  binary_kernel<R><<<num_blocks(g.numel), kThreads>>>(g, ops, BinaryF<op>{});
  check_launch(binary_op_name(op));
}

}  // namespace

void fill(const Geometry& g, const Operand& dst, const void* value, size_t element_size) {
  if (g.numel == 0) return;
  const Operands<1> ops{{dst}};
  const auto blocks = num_blocks(g.numel);
  switch (element_size) {
    case 1: fill_kernel<<<blocks, kThreads>>>(g, ops, *static_cast<const uint8_t*>(value)); break;
    case 2: fill_kernel<<<blocks, kThreads>>>(g, ops, *static_cast<const uint16_t*>(value)); break;
    case 4: fill_kernel<<<blocks, kThreads>>>(g, ops, *static_cast<const uint32_t*>(value)); break;
    case 8: fill_kernel<<<blocks, kThreads>>>(g, ops, *static_cast<const uint64_t*>(value)); break;
    default: TANGENT_FAIL("cuda fill: unsupported element size ", element_size);
  }
  check_launch("fill");
}

void copy(const Geometry& g, const Operand& dst, const Operand& src, size_t element_size) {
  if (g.numel == 0) return;
  const Operands<2> ops{{dst, src}};
  const auto blocks = num_blocks(g.numel);
  switch (element_size) {
    case 1: copy_kernel<uint8_t><<<blocks, kThreads>>>(g, ops); break;
    case 2: copy_kernel<uint16_t><<<blocks, kThreads>>>(g, ops); break;
    case 4: copy_kernel<uint32_t><<<blocks, kThreads>>>(g, ops); break;
    case 8: copy_kernel<uint64_t><<<blocks, kThreads>>>(g, ops); break;
    default: TANGENT_FAIL("cuda copy: unsupported element size ", element_size);
  }
  check_launch("copy");
}

bool unary_f32_supported(UnaryOp op) { return op != UnaryOp::LogicalNot; }

void unary_f32(UnaryOp op, const Geometry& g, const Operand& out, const Operand& x, float p0, float p1) {
  if (g.numel == 0) return;
  const Operands<2> ops{{out, x}};
  switch (op) {
#define TANGENT_UNARY_CASE(name) \
  case UnaryOp::name: return run_unary<UnaryOp::name>(g, ops, p0, p1);
    TANGENT_UNARY_CASE(Neg) TANGENT_UNARY_CASE(Exp) TANGENT_UNARY_CASE(Log) TANGENT_UNARY_CASE(Log1p)
    TANGENT_UNARY_CASE(Sqrt) TANGENT_UNARY_CASE(Rsqrt) TANGENT_UNARY_CASE(Abs) TANGENT_UNARY_CASE(Sign)
    TANGENT_UNARY_CASE(Sin) TANGENT_UNARY_CASE(Cos) TANGENT_UNARY_CASE(Tanh) TANGENT_UNARY_CASE(Sigmoid)
    TANGENT_UNARY_CASE(Relu) TANGENT_UNARY_CASE(Gelu) TANGENT_UNARY_CASE(GeluTanh) TANGENT_UNARY_CASE(Silu)
    TANGENT_UNARY_CASE(Softplus) TANGENT_UNARY_CASE(Erf) TANGENT_UNARY_CASE(Reciprocal) TANGENT_UNARY_CASE(Square)
    TANGENT_UNARY_CASE(PowScalar) TANGENT_UNARY_CASE(Clamp)
#undef TANGENT_UNARY_CASE
    default: break;
  }
  TANGENT_FAIL(unary_op_name(op), ": not implemented on cuda yet for float32");
}

bool binary_f32_supported(BinaryOp op) { return op != BinaryOp::LogicalAnd && op != BinaryOp::LogicalOr; }

void binary_f32(BinaryOp op, const Geometry& g, const Operand& out, const Operand& a, const Operand& b) {
  if (g.numel == 0) return;
  const Operands<3> ops{{out, a, b}};
  switch (op) {
#define TANGENT_BINARY_CASE(name) \
  case BinaryOp::name: return run_binary<BinaryOp::name>(g, ops);
    TANGENT_BINARY_CASE(Add) TANGENT_BINARY_CASE(Sub) TANGENT_BINARY_CASE(Mul) TANGENT_BINARY_CASE(Div)
    TANGENT_BINARY_CASE(Pow) TANGENT_BINARY_CASE(Maximum) TANGENT_BINARY_CASE(Minimum) TANGENT_BINARY_CASE(Eq)
    TANGENT_BINARY_CASE(Ne) TANGENT_BINARY_CASE(Lt) TANGENT_BINARY_CASE(Le) TANGENT_BINARY_CASE(Gt)
    TANGENT_BINARY_CASE(Ge)
#undef TANGENT_BINARY_CASE
    default: break;
  }
  TANGENT_FAIL(binary_op_name(op), ": not implemented on cuda yet for float32");
}

}  // namespace tangent::cuda::kernels
