#pragma once
// The NCCL backend of the MPI process group, for CUDA tensors (nn/distributed/nccl_comm.cpp; built in CUDA builds
// that find NCCL, TANGENT_WITH_NCCL). The MPI group creates one communicator per device on first use (rank 0's
// unique id broadcast over MPI) and hands it contiguous device buffers; every call enqueues on the legacy default
// stream (ordered after the kernels that produced the buffers) and polls it against the group's deadline, aborting
// the communicator and raising on timeout. Not installed API.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace tangent::distributed::detail {

bool nccl_built();

class NcclComm {
 public:
  enum class Op { Sum, Mean };
  static constexpr size_t kIdBytes = 128;   // sizeof(ncclUniqueId)
  static std::vector<uint8_t> unique_id();  // called on rank 0

  NcclComm(const std::vector<uint8_t>& id, int rank, int size, int device);
  ~NcclComm();
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;

  // Each call names itself in errors as `what` (e.g. "all_reduce (rank 0 of 2) of float32 [4]") and waits at most
  // `timeout` seconds. Counts are elements; bool reduces with logical OR (max of bytes).
  void all_reduce(void* buf, int64_t count, DType dtype, Op op, double timeout, const std::string& what);
  void reduce(void* buf, int64_t count, DType dtype, int root, double timeout, const std::string& what);
  void broadcast(void* buf, int64_t count, DType dtype, int root, double timeout, const std::string& what);
  void all_gather(const void* src, void* dst, int64_t count, DType dtype, double timeout, const std::string& what);
  void reduce_scatter(const void* src, void* dst, int64_t count, DType dtype, Op op, double timeout,
                      const std::string& what);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tangent::distributed::detail
