// oneDNN engine, per-thread stream and primitive cache, dtype mapping (see dnnl_common.h).
#include "ops/cpu/dnnl_common.h"

#include "core/backend.h"

namespace tangent::cpu::dnnl_util {

dnnl::engine& engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

dnnl::stream& stream() {
  thread_local dnnl::stream s(engine());
  return s;
}

PrimCache& cache() {
  thread_local PrimCache c;
  return c;
}

bool to_dnnl_type(DType t, dnnl::memory::data_type* out) {
  switch (t) {
    case DType::Float32:
      *out = dnnl::memory::data_type::f32;
      return true;
    case DType::Float16:
      *out = dnnl::memory::data_type::f16;
      return true;
    case DType::BFloat16:
      *out = dnnl::memory::data_type::bf16;
      return true;
    default:
      return false;
  }
}

Tensor to_float32(const Tensor& t) {
  Tensor out = empty(t.shape(), TensorOptions(kFloat32).device(t.device()));
  backend_for(t).copy(t, out);
  return out;
}

}  // namespace tangent::cpu::dnnl_util
