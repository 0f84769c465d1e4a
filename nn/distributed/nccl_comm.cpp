// NcclComm: NCCL collectives on device buffers with a deadline (see nccl_comm.h).
#include "nn/distributed/nccl_comm.h"

#include "core/error.h"

#ifdef TANGENT_WITH_NCCL
#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <cstring>
#include <thread>
#endif

namespace tangent::distributed::detail {

#ifndef TANGENT_WITH_NCCL

bool nccl_built() { return false; }
struct NcclComm::Impl {};
std::vector<uint8_t> NcclComm::unique_id() { TANGENT_FAIL("distributed: this build of Tangent has no NCCL"); }
NcclComm::NcclComm(const std::vector<uint8_t>&, int, int, int) {
  TANGENT_FAIL("distributed: this build of Tangent has no NCCL");
}
NcclComm::~NcclComm() = default;
void NcclComm::all_reduce(void*, int64_t, DType, Op, double, const std::string&) {}
void NcclComm::reduce(void*, int64_t, DType, int, double, const std::string&) {}
void NcclComm::broadcast(void*, int64_t, DType, int, double, const std::string&) {}
void NcclComm::all_gather(const void*, void*, int64_t, DType, double, const std::string&) {}
void NcclComm::reduce_scatter(const void*, void*, int64_t, DType, Op, double, const std::string&) {}

#else

bool nccl_built() { return true; }

namespace {

ncclDataType_t nccl_type(DType d) {
  switch (d) {
    case DType::Bool:
      return ncclUint8;
    case DType::Int64:
      return ncclInt64;
    case DType::Float16:
      return ncclFloat16;
    case DType::BFloat16:
      return ncclBfloat16;
    case DType::Float32:
      return ncclFloat32;
    case DType::Float64:
      return ncclFloat64;
  }
  return ncclUint8;
}

ncclRedOp_t nccl_op(DType d, NcclComm::Op op) {
  if (d == DType::Bool) return ncclMax;  // logical OR of 0/1 bytes
  return op == NcclComm::Op::Mean ? ncclAvg : ncclSum;
}

}  // namespace

struct NcclComm::Impl {
  ncclComm_t comm = nullptr;
  int rank = 0, size = 1, device = 0;
  bool aborted = false;

  void check(ncclResult_t r, const std::string& what) {
    if (r == ncclSuccess) return;
    abort();
    TANGENT_FAIL("distributed ", what, " failed in NCCL: ", ncclGetErrorString(r));
  }
  void abort() {
    if (comm != nullptr && !aborted) ncclCommAbort(comm);
    aborted = true;
  }
  // Polls the stream (and the communicator's asynchronous error) until the enqueued collective is done.
  void wait(double timeout, const std::string& what) {
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
      const cudaError_t q = cudaStreamQuery(nullptr);
      if (q == cudaSuccess) return;
      if (q != cudaErrorNotReady) {
        abort();
        TANGENT_FAIL("distributed ", what, " failed on cuda:", device, ": ", cudaGetErrorString(q));
      }
      ncclResult_t async = ncclSuccess;
      ncclCommGetAsyncError(comm, &async);
      check(async, what);
      const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (waited > timeout) {
        abort();
        TANGENT_FAIL("distributed ", what, " did not complete within ", timeout, " s on cuda:", device,
                     ": another rank has stalled or died (the NCCL communicator was aborted)");
      }
      if (waited > 0.002) std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }
  void usable(const std::string& what) const {
    TANGENT_CHECK(!aborted, "distributed ", what, ": the NCCL communicator was aborted by an earlier failure");
  }
};

std::vector<uint8_t> NcclComm::unique_id() {
  ncclUniqueId id;
  const ncclResult_t r = ncclGetUniqueId(&id);
  TANGENT_CHECK(r == ncclSuccess, "distributed: ncclGetUniqueId failed: ", ncclGetErrorString(r));
  static_assert(sizeof(ncclUniqueId) == kIdBytes, "ncclUniqueId size");
  std::vector<uint8_t> out(kIdBytes);
  std::memcpy(out.data(), &id, kIdBytes);
  return out;
}

NcclComm::NcclComm(const std::vector<uint8_t>& id, int rank, int size, int device) : impl_(std::make_unique<Impl>()) {
  TANGENT_CHECK(id.size() == kIdBytes, "distributed: an NCCL unique id has ", kIdBytes, " bytes, got ", id.size());
  impl_->rank = rank;
  impl_->size = size;
  impl_->device = device;
  const cudaError_t e = cudaSetDevice(device);
  TANGENT_CHECK(e == cudaSuccess, "distributed: cudaSetDevice(", device, ") failed: ", cudaGetErrorString(e));
  ncclUniqueId uid;
  std::memcpy(&uid, id.data(), kIdBytes);
  const ncclResult_t r = ncclCommInitRank(&impl_->comm, size, uid, rank);
  TANGENT_CHECK(r == ncclSuccess, "distributed: ncclCommInitRank (rank ", rank, " of ", size, ", cuda:", device,
                ") failed: ", ncclGetErrorString(r));
}

NcclComm::~NcclComm() {
  if (impl_ && impl_->comm != nullptr && !impl_->aborted) ncclCommDestroy(impl_->comm);
}

void NcclComm::all_reduce(void* buf, int64_t count, DType dtype, Op op, double timeout, const std::string& what) {
  impl_->usable(what);
  impl_->check(
      ncclAllReduce(buf, buf, static_cast<size_t>(count), nccl_type(dtype), nccl_op(dtype, op), impl_->comm, nullptr),
      what);
  impl_->wait(timeout, what);
}

void NcclComm::reduce(void* buf, int64_t count, DType dtype, int root, double timeout, const std::string& what) {
  impl_->usable(what);
  impl_->check(ncclReduce(buf, buf, static_cast<size_t>(count), nccl_type(dtype), nccl_op(dtype, Op::Sum), root,
                          impl_->comm, nullptr),
               what);
  impl_->wait(timeout, what);
}

void NcclComm::broadcast(void* buf, int64_t count, DType dtype, int root, double timeout, const std::string& what) {
  impl_->usable(what);
  impl_->check(ncclBroadcast(buf, buf, static_cast<size_t>(count), nccl_type(dtype), root, impl_->comm, nullptr), what);
  impl_->wait(timeout, what);
}

void NcclComm::all_gather(const void* src, void* dst, int64_t count, DType dtype, double timeout,
                          const std::string& what) {
  impl_->usable(what);
  impl_->check(ncclAllGather(src, dst, static_cast<size_t>(count), nccl_type(dtype), impl_->comm, nullptr), what);
  impl_->wait(timeout, what);
}

void NcclComm::reduce_scatter(const void* src, void* dst, int64_t count, DType dtype, Op op, double timeout,
                              const std::string& what) {
  impl_->usable(what);
  impl_->check(ncclReduceScatter(src, dst, static_cast<size_t>(count), nccl_type(dtype), nccl_op(dtype, op),
                                 impl_->comm, nullptr),
               what);
  impl_->wait(timeout, what);
}

#endif

}  // namespace tangent::distributed::detail
