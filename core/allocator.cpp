// The per-thread caching host allocator (see allocator.h): size classes, intrusive freelists, a cap on idle bytes.
#include "core/allocator.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <string>

#include "core/error.h"

namespace tangent {

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(TANGENT_SANITIZE)
constexpr bool kCachingBuilt = false;  // let ASan see every allocation and free
#else
constexpr bool kCachingBuilt = true;
#endif

constexpr size_t kAlign = 64;
// Classes 0..15: 64, 128, ..., 1024 bytes. Then for each octave (2^o, 2^(o+1)] with o in [10, kTopOctave), four
// classes 2^o * {1.25, 1.5, 1.75, 2}. Larger blocks are not cached.
constexpr int kSmallClasses = 16;
constexpr size_t kSmallMax = kSmallClasses * kAlign;
constexpr int kTopOctave = 28;  // the largest cached class is 2^28 bytes (256 MiB)
constexpr int kNumClasses = kSmallClasses + (kTopOctave - 10) * 4;
constexpr size_t kDefaultCapMB = 256;

// The class of an n-byte request (n > 0), or -1 when it is too large to cache; *size gets the block size.
inline int size_class(size_t n, size_t* size) {
  if (n <= kSmallMax) {
    const size_t k = (n + kAlign - 1) / kAlign;
    *size = k * kAlign;
    return static_cast<int>(k) - 1;
  }
  const int o = 63 - __builtin_clzll(static_cast<unsigned long long>(n - 1));  // 2^o < n <= 2^(o+1)
  if (o >= kTopOctave) {
    *size = (n + kAlign - 1) / kAlign * kAlign;
    return -1;
  }
  const size_t base = size_t{1} << o, step = base >> 2;
  const size_t k = (n - base + step - 1) / step;  // 1..4
  *size = base + k * step;
  return kSmallClasses + (o - 10) * 4 + static_cast<int>(k) - 1;
}

// The block size of class c (the inverse of size_class).
inline size_t class_size(int c) {
  if (c < kSmallClasses) return static_cast<size_t>(c + 1) * kAlign;
  const int o = 10 + (c - kSmallClasses) / 4;
  const size_t base = size_t{1} << o;
  return base + static_cast<size_t>((c - kSmallClasses) % 4 + 1) * (base >> 2);
}

// Bytes this process holds from the system through host_alloc (idle cached blocks included), and the most it may
// hold: the machine's physical memory, or its cgroup's memory limit when that is lower. Linux overcommits, so
// malloc itself rarely fails; without this bound a model too big for the machine would be killed by the kernel's
// OOM killer while its weights are initialised, instead of raising an Error. (Memory taken outside host_alloc,
// such as oneDNN's scratch buffers, is not counted.)
std::atomic<size_t> g_system_bytes{0};

size_t read_limit_file(const char* path) {
  std::ifstream in(path);
  unsigned long long v = 0;
  return in >> v ? static_cast<size_t>(v) : SIZE_MAX;  // "max" (no limit) reads as no number
}

}  // namespace

size_t host_memory_limit() {
  static const size_t limit = [] {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    size_t l = pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) : SIZE_MAX;
    for (const char* f : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"})
      l = std::min(l, read_limit_file(f));
    return l;
  }();
  return limit;
}

namespace {

void* system_alloc(size_t size, size_t requested) {
  const size_t held = g_system_bytes.load(std::memory_order_relaxed), limit = host_memory_limit();
  TANGENT_CHECK(size <= limit && held <= limit - size, "allocate: out of host memory: ", requested,
                " bytes requested while ", held, " are in use, and this machine has ", limit, " bytes of memory");
  void* p = std::aligned_alloc(kAlign, size);
  TANGENT_CHECK(p != nullptr, "allocate: out of host memory allocating ", requested, " bytes");
  g_system_bytes.fetch_add(size, std::memory_order_relaxed);
  return p;
}

void system_free(void* p, size_t size) noexcept {
  std::free(p);
  g_system_bytes.fetch_sub(size, std::memory_order_relaxed);
}

size_t read_cap_bytes() {
  if (!kCachingBuilt) return 0;
  static const size_t cap = [] {
    size_t mb = kDefaultCapMB;
    if (const char* env = std::getenv("TANGENT_HOST_CACHE_MB")) {
      try {
        mb = static_cast<size_t>(std::stoull(env));
      } catch (...) {
        mb = kDefaultCapMB;
      }
    }
    return mb << 20;
  }();
  return cap;
}

struct FreeBlock {
  FreeBlock* next;
};

struct ThreadCache {
  FreeBlock* heads[kNumClasses] = {};
  size_t cached = 0;
  size_t cap = read_cap_bytes();
  size_t hits = 0, misses = 0;

  void release() {
    for (int c = 0; c < kNumClasses; ++c) {
      while (FreeBlock* b = heads[c]) {
        heads[c] = b->next;
        system_free(b, class_size(c));
      }
    }
    cached = 0;
  }
};

// The calling thread's cache. The hot path reads one initial-exec TLS pointer (no __tls_get_addr call, no lazy
// TLS-init guard); the cache itself is created on first use and owned by a thread_local holder whose destructor
// (thread exit) frees the cached blocks and marks the thread dead, so later frees (static destructors) go to the
// system.
#define TANGENT_TLS_IE __attribute__((tls_model("initial-exec")))
thread_local ThreadCache* tls_cache TANGENT_TLS_IE = nullptr;
thread_local bool tls_dead TANGENT_TLS_IE = false;

struct CacheHolder {
  ThreadCache cache;
  ~CacheHolder() {
    tls_cache = nullptr;
    tls_dead = true;
    cache.release();
  }
};

// The cache of this thread, or nullptr once the thread is shutting down.
__attribute__((noinline)) ThreadCache* create_cache() {
  if (tls_dead) return nullptr;
  static thread_local CacheHolder holder;
  tls_cache = &holder.cache;
  return tls_cache;
}

inline ThreadCache* thread_cache() {
  ThreadCache* c = tls_cache;
  return __builtin_expect(c != nullptr, 1) ? c : create_cache();
}

}  // namespace

void* host_alloc(size_t nbytes) {
  size_t size;
  const int c = size_class(nbytes, &size);
  if (kCachingBuilt && c >= 0) {
    if (ThreadCache* tc = thread_cache()) {
      if (FreeBlock* b = tc->heads[c]) {
        tc->heads[c] = b->next;
        tc->cached -= size;
        ++tc->hits;
        return b;
      }
      ++tc->misses;
    }
  }
  return system_alloc(size, nbytes);
}

void host_free(void* p, size_t nbytes) noexcept {
  if (!p) return;
  size_t size;
  const int c = size_class(nbytes, &size);
  if (kCachingBuilt && c >= 0) {
    ThreadCache* tc = thread_cache();
    if (tc && tc->cached + size <= tc->cap) {
      FreeBlock* b = static_cast<FreeBlock*>(p);
      b->next = tc->heads[c];
      tc->heads[c] = b;
      tc->cached += size;
      return;
    }
  }
  system_free(p, size);
}

void host_empty_cache() {
  if (!kCachingBuilt) return;
  if (ThreadCache* tc = thread_cache()) tc->release();
}

HostCacheStats host_cache_stats() {
  HostCacheStats s;
  if (!kCachingBuilt) return s;
  if (const ThreadCache* tc = thread_cache()) {
    s.cached_bytes = tc->cached;
    s.hits = tc->hits;
    s.misses = tc->misses;
  }
  return s;
}

bool host_caching_enabled() { return kCachingBuilt && read_cap_bytes() > 0; }

}  // namespace tangent
