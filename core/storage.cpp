#include "core/storage.h"

#include <cstdlib>

#include "core/error.h"

namespace tangent {

Storage allocate_cpu_storage(size_t nbytes) {
  const size_t rounded = (nbytes + 63) / 64 * 64;
  void* p = nullptr;
  if (rounded > 0) {
    p = std::aligned_alloc(64, rounded);
    TANGENT_CHECK(p != nullptr, "allocate: out of host memory allocating ", nbytes, " bytes");
  }
  return std::make_shared<StorageImpl>(p, nbytes, Device(DeviceType::CPU), [](void* d, void*) { std::free(d); },
                                       nullptr);
}

}  // namespace tangent
