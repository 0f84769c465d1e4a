#pragma once
// Storage: a reference-counted buffer on one device, shared by every view of it, with the version counter that
// in-place operations bump (autograd compares it against the version it saved).
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/device.h"

namespace tangent {

class StorageImpl {
 public:
  using Deleter = void (*)(void* data, void* ctx);
  StorageImpl(void* data, size_t nbytes, Device device, Deleter deleter, void* ctx)
      : data_(data), nbytes_(nbytes), device_(device), deleter_(deleter), ctx_(ctx) {}
  ~StorageImpl() {
    if (deleter_) deleter_(data_, ctx_);
  }
  StorageImpl(const StorageImpl&) = delete;
  StorageImpl& operator=(const StorageImpl&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

 private:
  void* data_;
  size_t nbytes_;
  Device device_;
  Deleter deleter_;
  void* ctx_;
  uint64_t version_ = 0;
};

using Storage = std::shared_ptr<StorageImpl>;

// 64-byte aligned host memory (the CPU backend's allocator).
Storage allocate_cpu_storage(size_t nbytes);

}  // namespace tangent
