#include <cstring>

#include "ops/cpu/cpu_backend.h"
#include "ops/cpu/loops.h"

namespace tangent::cpu {

namespace {
CpuBackend instance;
BackendRegistrar registrar(DeviceType::CPU, &instance);
}  // namespace

// Every optional primitive, for the floating dtypes its kernels are written for.
bool CpuBackend::supports(Primitive, DType dt) const { return dt == kFloat32 || dt == kFloat64; }

Storage CpuBackend::allocate(size_t nbytes, Device) { return allocate_cpu_storage(nbytes); }

void CpuBackend::copy(const Tensor& src, const Tensor& dst) {
  TANGENT_CHECK(src.device().is_cpu() && dst.device().is_cpu(),
                "copy: the CPU backend copies host tensors only, "
                "got ",
                src.device(), " -> ", dst.device());
  TANGENT_CHECK(src.shape() == dst.shape(), "copy: shape mismatch ", src.shape(), " -> ", dst.shape());
  if (src.dtype() == dst.dtype() && src.is_contiguous() && dst.is_contiguous()) {
    if (src.raw_data() != dst.raw_data())
      std::memmove(dst.raw_data(), src.raw_data(), static_cast<size_t>(src.numel()) * element_size(src.dtype()));
    return;
  }
  TANGENT_DISPATCH_ALL(dst.dtype(), "copy", [&](auto dtag) {
    using D = decltype(dtag);
    TANGENT_DISPATCH_ALL(src.dtype(), "copy", [&](auto stag) {
      using S = decltype(stag);
      cpu_loop<2>(dst.shape(), {&dst, &src}, [](std::array<char*, 2> p, std::array<int64_t, 2> s, int64_t n) {
        for (int64_t i = 0; i < n; ++i) {
          const S v = *reinterpret_cast<const S*>(p[1] + i * s[1]);
          D* o = reinterpret_cast<D*>(p[0] + i * s[0]);
          if constexpr (std::is_same_v<D, bool>) {
            *o = static_cast<float>(v) != 0.0f;
          } else if constexpr (std::is_same_v<S, bool>) {
            *o = D(v ? 1.0f : 0.0f);
          } else if constexpr (std::is_same_v<D, int64_t> || std::is_same_v<S, int64_t>) {
            *o = static_cast<D>(static_cast<acc_t<S>>(v));
          } else {
            *o = D(static_cast<acc_t<D>>(static_cast<acc_t<S>>(v)));
          }
        }
      });
    });
  });
}

void CpuBackend::fill(const Tensor& dst, const Scalar& value) {
  TANGENT_DISPATCH_ALL(dst.dtype(), "fill", [&](auto tag) {
    using T = decltype(tag);
    const T v = value.to<T>();
    cpu_loop<1>(dst.shape(), {&dst}, [v](std::array<char*, 1> p, std::array<int64_t, 1> s, int64_t n) {
      for (int64_t i = 0; i < n; ++i) *reinterpret_cast<T*>(p[0] + i * s[0]) = v;
    });
  });
}

}  // namespace tangent::cpu
