#pragma once
// ProcessGroup: the processes of one job (launched by `mpirun -np K`) and the collectives between them, on tensors.
//
//   auto group = distributed::ProcessGroup::world();   // MPI's world under mpirun, else a group of one
//   group->all_reduce(grad, distributed::ReduceOp::Mean);
//
// Backends, chosen by the tensor's device: CPU tensors go through MPI (every dtype; non-contiguous tensors are
// staged through a contiguous copy and written back; float16/bfloat16 are reduced in float32). CUDA tensors are
// reduced with NCCL in builds that have it, else staged through host memory and reduced over MPI.
// Bool tensors reduce with logical OR for Sum; Mean is defined for floating dtypes only.
//
// Deadline: every collective is started non-blocking and polled; one that does not complete within timeout()
// seconds (default 60, or TANGENT_DISTRIBUTED_TIMEOUT) raises an Error naming this rank, the collective, the
// tensor and the ranks that may have stalled or died. The group is then broken: later collectives raise at once,
// and the process aborts the MPI job at exit instead of waiting in MPI_Finalize.
//
// Without MPI support built in (TANGENT_WITH_MPI off), world() still returns a group of one when the process was
// not launched by mpirun, and raises an Error naming the missing build option when it was.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace tangent::distributed {

enum class ReduceOp { Sum, Mean };

// True when this build has the MPI backend, and when this process was started by mpirun (OMPI_COMM_WORLD_SIZE,
// PMI_SIZE or PMIX_RANK in the environment).
bool mpi_built();
bool launched_by_mpirun();

// A collective started but not finished (from all_reduce_async): wait() completes it within the deadline.
class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
};

class ProcessGroup {
 public:
  // The job's process group (created on first use; MPI is initialised then and finalised at exit).
  static std::shared_ptr<ProcessGroup> world();

  virtual ~ProcessGroup() = default;
  int rank() const { return rank_; }
  int size() const { return size_; }
  double timeout() const { return timeout_; }
  void set_timeout(double seconds);

  // In place on `t` (any layout): every rank ends with the sum (or mean) over ranks.
  virtual void all_reduce(const Tensor& t, ReduceOp op = ReduceOp::Sum) = 0;
  // In place: `root` ends with the sum over ranks; the others' tensors are left as they were.
  virtual void reduce(const Tensor& t, int root = 0) = 0;
  // In place: every rank ends with root's values (same shape and dtype on every rank).
  virtual void broadcast(const Tensor& t, int root = 0) = 0;
  // [K, ...t's shape]: row r is rank r's tensor (same shape and dtype on every rank).
  virtual Tensor all_gather(const Tensor& t) = 0;
  // t [K * m, ...] on every rank -> this rank's [m, ...] slice of the sum (or mean) over ranks.
  virtual Tensor reduce_scatter(const Tensor& t, ReduceOp op = ReduceOp::Sum) = 0;
  virtual void barrier() = 0;
  // Starts a Sum all_reduce of a contiguous CPU float32/float64 tensor in place; the caller must keep `t` alive and
  // untouched until wait() returns.
  virtual std::unique_ptr<Work> all_reduce_async(const Tensor& t) = 0;

 protected:
  ProcessGroup(int rank, int size);
  int rank_, size_;
  double timeout_ = 60.0;
};

// After a fatal error in a job of several processes: aborts the whole MPI job with exit code `code`, so that no
// rank waits on this one until its deadline. Does nothing when MPI was never initialised or the job has one process.
void abort_job(int code);

// Who this process is, as a message prefix: "rank 1 of 2".
std::string rank_label(const ProcessGroup& group);

}  // namespace tangent::distributed
