// The CUDA backend's host side: device discovery and registration, the caching allocator, copies (direct
// cudaMemcpy when layouts allow, otherwise a strided kernel or staging through the CPU backend for dtype
// conversion), and argument checking for the kernels in cuda_kernels.cu.
#include "cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "cuda/cuda.h"
#include "cuda/cuda_kernels.h"

namespace tangent::cuda {

namespace {

#define TANGENT_CUDA_CHECK(expr, what)                                                                      \
  do {                                                                                                      \
    const cudaError_t err_ = (expr);                                                                        \
    TANGENT_CHECK(err_ == cudaSuccess, what, ": CUDA error: ", cudaGetErrorString(err_), " (", #expr, ")"); \
  } while (0)

// Makes `device` current for the guard's lifetime.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    if (cudaGetDevice(&previous_) == cudaSuccess && previous_ != device) {
      TANGENT_CUDA_CHECK(cudaSetDevice(device), "cuda");
    } else {
      previous_ = -1;
    }
  }
  ~DeviceGuard() {
    if (previous_ >= 0) cudaSetDevice(previous_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

// A caching allocator: freed blocks go to a per-device free list keyed by their rounded size and are handed out
// again before asking the driver (cudaMalloc and cudaFree synchronise the device, so they are slow). All work
// runs on each device's default stream, so a block freed by the host may be reused by the next queued kernel.
class CachingAllocator {
 public:
  static constexpr int kMaxDevices = 64;
  static constexpr size_t kSmall = size_t{1} << 20;  // below 1 MiB round to 512 B, above to 2 MiB

  static size_t round(size_t n) {
    return n < kSmall ? (n + 511) / 512 * 512 : (n + (size_t{2} << 20) - 1) / (size_t{2} << 20) * (size_t{2} << 20);
  }

  void* allocate(size_t rounded, int device) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto& list = free_[device][rounded];
      if (!list.empty()) {
        void* p = list.back();
        list.pop_back();
        return p;
      }
    }
    DeviceGuard guard(device);
    void* p = nullptr;
    if (cudaMalloc(&p, rounded) != cudaSuccess) {
      cudaGetLastError();  // clear the error, give the cached blocks back and try once more
      release_cached(device);
      const cudaError_t err = cudaMalloc(&p, rounded);
      TANGENT_CHECK(err == cudaSuccess, "allocate: out of memory on cuda:", device, " allocating ", rounded, " bytes (",
                    cudaGetErrorString(err), ")");
    }
    return p;
  }

  void release(void* p, size_t rounded, int device) {
    std::lock_guard<std::mutex> lock(mutex_);
    free_[device][rounded].push_back(p);
  }

  void release_cached(int device) {
    std::lock_guard<std::mutex> lock(mutex_);
    DeviceGuard guard(device);
    for (auto& entry : free_[device])
      for (void* p : entry.second) cudaFree(p);
    free_[device].clear();
  }

 private:
  std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_[kMaxDevices];
};

// Never destroyed: storages released during static destruction still find it.
CachingAllocator& allocator() {
  static auto* a = new CachingAllocator();
  return *a;
}

// The deleter's context packs the rounded size (a multiple of 512) and the device index (< 64) in one word.
void release_block(void* data, void* ctx) {
  const auto packed = reinterpret_cast<uintptr_t>(ctx);
  allocator().release(data, packed & ~uintptr_t{511}, static_cast<int>(packed & 511));
}

[[noreturn]] void not_implemented(const char* primitive) { TANGENT_FAIL(primitive, ": not implemented on cuda yet"); }

void check_on_cuda(const Tensor& t, const char* op) {
  TANGENT_CHECK(t.device().is_cuda(), op, ": expected a cuda tensor, got one on ", t.device(), " (shape ", t.shape(),
                ")");
}

// The iteration space over `shape` for the given operands (size-1 dims dropped; at most kMaxDims remain).
kernels::Geometry geometry(const Shape& shape, std::initializer_list<const Tensor*> tensors,
                           std::initializer_list<kernels::Operand*> operands, const char* op) {
  kernels::Geometry g;
  g.numel = shape.numel();
  g.contiguous = true;
  auto out = operands.begin();
  for (const Tensor* t : tensors) {
    (*out++)->data = static_cast<char*>(t->raw_data());
    g.contiguous = g.contiguous && t->is_contiguous();
  }
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    TANGENT_CHECK(g.ndim < kernels::kMaxDims, op, ": cuda kernels support at most ", kernels::kMaxDims,
                  " non-trivial dims, got shape ", shape);
    g.sizes[g.ndim] = shape[d];
    auto o = operands.begin();
    for (const Tensor* t : tensors) {
      (*o++)->strides[g.ndim] = t->strides()[d] * static_cast<int64_t>(element_size(t->dtype()));
    }
    ++g.ndim;
  }
  return g;
}

size_t nbytes_of(const Tensor& t) { return static_cast<size_t>(t.numel()) * element_size(t.dtype()); }

// dst = src for two tensors of one dtype on the same device, any strides.
void strided_copy(const Tensor& src, const Tensor& dst) {
  DeviceGuard guard(dst.device().index);
  kernels::Operand d, s;
  const auto g = geometry(dst.shape(), {&dst, &src}, {&d, &s}, "copy");
  kernels::copy(g, d, s, element_size(dst.dtype()));
}

// A contiguous host tensor with t's values and dtype (t itself when it already is one).
Tensor host_contiguous(const Tensor& t) {
  if (t.device().is_cpu()) {
    if (t.is_contiguous()) return t;
    Tensor h = empty(t.shape(), t.dtype());
    backend(DeviceType::CPU).copy(t, h);
    return h;
  }
  Tensor dense = t;
  if (!t.is_contiguous()) {
    dense = empty(t.shape(), TensorOptions(t.dtype()).device(t.device()));
    strided_copy(t, dense);
  }
  Tensor h = empty(t.shape(), t.dtype());
  DeviceGuard guard(t.device().index);
  TANGENT_CUDA_CHECK(cudaMemcpy(h.raw_data(), dense.raw_data(), nbytes_of(t), cudaMemcpyDeviceToHost), "copy");
  return h;
}

// Writes the contiguous host tensor h (dst's dtype and shape) into the cuda tensor dst.
void write_from_host(const Tensor& h, const Tensor& dst) {
  DeviceGuard guard(dst.device().index);
  if (dst.is_contiguous()) {
    TANGENT_CUDA_CHECK(cudaMemcpy(dst.raw_data(), h.raw_data(), nbytes_of(h), cudaMemcpyHostToDevice), "copy");
    return;
  }
  Tensor dense = empty(dst.shape(), TensorOptions(dst.dtype()).device(dst.device()));
  TANGENT_CUDA_CHECK(cudaMemcpy(dense.raw_data(), h.raw_data(), nbytes_of(h), cudaMemcpyHostToDevice), "copy");
  strided_copy(dense, dst);
}

CudaBackend& instance() {
  static CudaBackend b;
  return b;
}

// Registers the backend when a GPU is visible. cudaGetDeviceCount fails quietly (no output, no abort) without a
// driver or device, so loading libtangent on a CPU-only machine costs one failed driver probe and nothing else.
[[maybe_unused]] const bool registered = [] {
  if (device_count() > 0) register_backend(DeviceType::CUDA, &instance());
  return true;
}();

}  // namespace

// ---- public queries (cuda/cuda.h) ----

int device_count() {
  static const int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      cudaGetLastError();
      n = 0;
    }
    return n;
  }();
  return count;
}

bool is_available() { return device_count() > 0; }

void synchronize() {
  if (is_available()) instance().synchronize();
}

void empty_cache() {
  for (int d = 0; d < device_count() && d < CachingAllocator::kMaxDevices; ++d) allocator().release_cached(d);
}

// ---- memory ----

Storage CudaBackend::allocate(size_t nbytes, Device device) {
  TANGENT_CHECK(device.is_cuda() && device.index >= 0 && device.index < device_count() &&
                    device.index < CachingAllocator::kMaxDevices,
                "allocate: invalid device ", device, " (", device_count(), " cuda device(s) visible)");
  if (nbytes == 0) return std::make_shared<StorageImpl>(nullptr, 0, device, nullptr, nullptr);
  const size_t rounded = CachingAllocator::round(nbytes);
  void* p = allocator().allocate(rounded, device.index);
  void* ctx = reinterpret_cast<void*>(static_cast<uintptr_t>(rounded) | static_cast<uintptr_t>(device.index));
  return std::make_shared<StorageImpl>(p, nbytes, device, &release_block, ctx);
}

void CudaBackend::copy(const Tensor& src, const Tensor& dst) {
  TANGENT_CHECK(src.shape() == dst.shape(), "copy: shape mismatch ", src.shape(), " -> ", dst.shape());
  TANGENT_CHECK(src.device().is_cuda() || dst.device().is_cuda(), "copy: the cuda backend needs a cuda tensor, got ",
                src.device(), " -> ", dst.device());
  if (src.numel() == 0) return;
  const bool same_dtype = src.dtype() == dst.dtype();
  if (same_dtype && src.is_contiguous() && dst.is_contiguous()) {
    // Unified addressing: one call covers host->device, device->host and device->device (across GPUs too).
    DeviceGuard guard((dst.device().is_cuda() ? dst : src).device().index);
    TANGENT_CUDA_CHECK(cudaMemcpy(dst.raw_data(), src.raw_data(), nbytes_of(src), cudaMemcpyDefault), "copy");
    return;
  }
  if (same_dtype && src.device() == dst.device()) return strided_copy(src, dst);
  // Everything else (dtype conversion, strided host<->device, strided across GPUs) stages through the host,
  // where the CPU backend converts and handles strides.
  Tensor h = host_contiguous(src);
  if (dst.device().is_cpu()) return backend(DeviceType::CPU).copy(h, dst);
  if (h.dtype() != dst.dtype()) {
    Tensor converted = empty(dst.shape(), dst.dtype());
    backend(DeviceType::CPU).copy(h, converted);
    h = converted;
  }
  write_from_host(h, dst);
}

void CudaBackend::fill(const Tensor& dst, const Scalar& value) {
  check_on_cuda(dst, "fill");
  if (dst.numel() == 0) return;
  // The CPU backend converts the value to dst's dtype; the kernel then writes that bit pattern.
  Tensor one = empty({}, dst.dtype());
  backend(DeviceType::CPU).fill(one, value);
  DeviceGuard guard(dst.device().index);
  kernels::Operand d;
  const auto g = geometry(dst.shape(), {&dst}, {&d}, "fill");
  kernels::fill(g, d, one.raw_data(), element_size(dst.dtype()));
}

void CudaBackend::synchronize() { TANGENT_CUDA_CHECK(cudaDeviceSynchronize(), "synchronize"); }

// ---- elementwise ----

void CudaBackend::unary(UnaryOp op, const Tensor& x, const Tensor& out, double p0, double p1) {
  const char* name = unary_op_name(op);
  check_on_cuda(x, name);
  TANGENT_CHECK(x.device() == out.device(), name, ": input on ", x.device(), " but output on ", out.device());
  TANGENT_CHECK(x.dtype() == kFloat32 && out.dtype() == kFloat32 && kernels::unary_f32_supported(op), name,
                ": not implemented on cuda yet for dtype ", x.dtype(), " (float32 only so far)");
  DeviceGuard guard(out.device().index);
  kernels::Operand o, a;
  const auto g = geometry(out.shape(), {&out, &x}, {&o, &a}, name);
  kernels::unary_f32(op, g, o, a, static_cast<float>(p0), static_cast<float>(p1));
}

void CudaBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  const char* name = binary_op_name(op);
  check_on_cuda(a, name);
  TANGENT_CHECK(a.device() == b.device() && a.device() == out.device(), name,
                ": expected all tensors on one device, got ", a.device(), ", ", b.device(), " and output on ",
                out.device());
  const DType want = is_comparison(op) ? kBool : kFloat32;
  TANGENT_CHECK(
      a.dtype() == kFloat32 && b.dtype() == kFloat32 && out.dtype() == want && kernels::binary_f32_supported(op), name,
      ": not implemented on cuda yet for dtypes ", a.dtype(), ", ", b.dtype(), " -> ", out.dtype(),
      " (float32 only so far)");
  DeviceGuard guard(out.device().index);
  kernels::Operand o, x, y;
  const auto g = geometry(out.shape(), {&out, &a, &b}, {&o, &x, &y}, name);
  kernels::binary_f32(op, g, o, x, y);
}

// ---- not implemented yet ----

void CudaBackend::where(const Tensor&, const Tensor&, const Tensor&, const Tensor&) { not_implemented("where"); }
void CudaBackend::reduce(ReduceOp, const Tensor&, const Shape&, const Tensor&) { not_implemented("reduce"); }
void CudaBackend::arg_reduce(ReduceOp, const Tensor&, int64_t, const Tensor&, const Tensor&) {
  not_implemented("arg_reduce");
}
void CudaBackend::softmax(const Tensor&, int64_t, bool, const Tensor&) { not_implemented("softmax"); }
void CudaBackend::matmul(const Tensor&, const Tensor&, const Tensor*, const Tensor&) { not_implemented("matmul"); }
void CudaBackend::conv2d(const Tensor&, const Tensor&, const Tensor*, const Conv2dParams&, const Tensor&) {
  not_implemented("conv2d");
}
void CudaBackend::conv2d_backward_input(const Tensor&, const Tensor&, const Conv2dParams&, const Tensor&) {
  not_implemented("conv2d_backward_input");
}
void CudaBackend::conv2d_backward_weight(const Tensor&, const Tensor&, const Conv2dParams&, const Tensor&,
                                         const Tensor*) {
  not_implemented("conv2d_backward_weight");
}
void CudaBackend::pool2d(PoolKind, const Tensor&, const Pool2dParams&, const Tensor&, const Tensor*) {
  not_implemented("pool2d");
}
void CudaBackend::avg_pool2d_backward(const Tensor&, const Pool2dParams&, const Tensor&) {
  not_implemented("avg_pool2d_backward");
}
void CudaBackend::index_select(const Tensor&, int64_t, const Tensor&, const Tensor&) {
  not_implemented("index_select");
}
void CudaBackend::index_add(const Tensor&, int64_t, const Tensor&, const Tensor&) { not_implemented("index_add"); }
void CudaBackend::gather(const Tensor&, int64_t, const Tensor&, const Tensor&) { not_implemented("gather"); }
void CudaBackend::scatter_add(const Tensor&, int64_t, const Tensor&, const Tensor&) { not_implemented("scatter_add"); }
void CudaBackend::random(RandomKind, const Tensor&, PhiloxState, double, double) { not_implemented("random"); }

}  // namespace tangent::cuda
