#pragma once
// Host memory: a per-thread caching allocator for CPU tensor buffers and the small objects every op allocates
// (TensorImpl and the Storage with their shared_ptr control blocks; HostAllocator below serves any such object).
//
// Requests are rounded up to a size class (64-byte steps up to 1 KiB, then four classes per power of two) and
// freed blocks go onto a freelist of the freeing thread, so the next request of that class is a pointer pop: no
// trip through glibc's memalign path, and no page faults on a fresh large buffer (glibc maps big blocks with mmap
// and unmaps them on free). The idle bytes a thread keeps are capped (TANGENT_HOST_CACHE_MB,
// default 256; 0 disables caching); blocks above the largest class go straight to the system.
// Every block is 64-byte aligned. A block may be freed on another thread than the one that allocated it.
// Under AddressSanitizer caching is off, so use-after-free and leaks are still reported.
#include <cstddef>
#include <cstdint>
#include <new>

namespace tangent {

// Returns a 64-byte aligned block of at least nbytes (nbytes > 0); throws tangent::Error when out of memory.
void* host_alloc(size_t nbytes);
// Frees a block from host_alloc; nbytes must be the size it was asked for (it selects the freelist).
void host_free(void* p, size_t nbytes) noexcept;

// The most host memory this process may take through host_alloc: the machine's physical memory, or its cgroup's
// limit when lower. A request beyond it (counting what is already held) raises an Error instead of letting the
// kernel's OOM killer end the process later.
size_t host_memory_limit();

// Returns the calling thread's cached blocks to the system.
void host_empty_cache();

struct HostCacheStats {
  size_t cached_bytes = 0;  // idle bytes held by the calling thread's cache
  size_t hits = 0;          // requests of the calling thread served from its cache
  size_t misses = 0;        // requests of the calling thread that went to the system
};
HostCacheStats host_cache_stats();
// Whether blocks are cached at all (false under AddressSanitizer or with TANGENT_HOST_CACHE_MB=0).
bool host_caching_enabled();

// An STL allocator over host_alloc, for std::allocate_shared of small, hot objects.
template <typename T>
struct HostAllocator {
  using value_type = T;
  HostAllocator() noexcept = default;
  template <typename U>
  HostAllocator(const HostAllocator<U>&) noexcept {}  // NOLINT
  T* allocate(size_t n) { return static_cast<T*>(host_alloc(n * sizeof(T))); }
  void deallocate(T* p, size_t n) noexcept { host_free(p, n * sizeof(T)); }
  template <typename U>
  bool operator==(const HostAllocator<U>&) const noexcept {
    return true;
  }
  template <typename U>
  bool operator!=(const HostAllocator<U>&) const noexcept {
    return false;
  }
};

}  // namespace tangent
