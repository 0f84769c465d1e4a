// CPU storage: the buffer and the StorageImpl (with its shared_ptr control block) both come from the caching host
// allocator (core/allocator.h), so a small tensor's allocation is two freelist pops in the steady state.
#include "core/storage.h"

#include <cstdint>

#include "core/allocator.h"

namespace tangent {

namespace {
void free_host_block(void* data, void* ctx) { host_free(data, reinterpret_cast<uintptr_t>(ctx)); }
}  // namespace

Storage allocate_cpu_storage(size_t nbytes) {
  void* p = nbytes > 0 ? host_alloc(nbytes) : nullptr;
  // The deleter's context is the requested size, which selects the block's freelist.
  return std::allocate_shared<StorageImpl>(HostAllocator<StorageImpl>(), p, nbytes, Device(DeviceType::CPU),
                                           &free_host_block, reinterpret_cast<void*>(static_cast<uintptr_t>(nbytes)));
}

}  // namespace tangent
