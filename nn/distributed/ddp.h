#pragma once
// DistributedDataParallel: data-parallel training over a ProcessGroup, as PyTorch's DDP does it.
//
//   DistributedDataParallel ddp(group, model.parameters(), buffers);   // rank 0's values on every rank
//   for each batch (this rank's shard):
//     optimizer.zero_grad(); loss.backward(); ddp.synchronize(); optimizer.step();
//
// Construction broadcasts rank 0's parameters and buffers. Gradient hooks on the parameters (leaf hooks, run by
// autograd when a parameter's gradient is final) copy each gradient into a bucket; buckets are filled in reverse
// parameter order (backward produces the last layers' gradients first) and a full bucket's all-reduce starts at
// once, so communication overlaps the rest of backward. synchronize() waits for every bucket and replaces each
// parameter's .grad by the mean over ranks; with equal per-rank batches that is the gradient of the mean loss over
// the global batch. Every parameter must receive a gradient in every backward (an Error names those that did
// not); .grad is replaced, so zero the gradients before each backward as the trainer does. Buffers (BatchNorm
// statistics) are per rank between broadcast_buffers() calls; the trainer broadcasts rank 0's before each step.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "nn/distributed/process_group.h"

namespace tangent::distributed {

struct DdpOptions {
  int64_t bucket_bytes = 25 << 20;       // bucket capacity (PyTorch's bucket_cap_mb = 25)
  int64_t first_bucket_bytes = 1 << 20;  // the first bucket is small so communication starts early
};

class DistributedDataParallel {
 public:
  // `params`: (name, tensor) of the trainable parameters in model order; `buffers` likewise.
  DistributedDataParallel(std::shared_ptr<ProcessGroup> group, std::vector<std::pair<std::string, Tensor>> params,
                          std::vector<std::pair<std::string, Tensor>> buffers, DdpOptions options = {});
  ~DistributedDataParallel();
  DistributedDataParallel(const DistributedDataParallel&) = delete;
  DistributedDataParallel& operator=(const DistributedDataParallel&) = delete;

  // Waits for every bucket's all-reduce and writes the mean gradients into the parameters' .grad.
  void synchronize();
  // Copies rank 0's buffers to every rank.
  void broadcast_buffers();
  ProcessGroup& group() { return *group_; }
  size_t num_buckets() const;

  struct State;  // shared with the hooks (nn/distributed/ddp.cpp)

 private:
  std::shared_ptr<ProcessGroup> group_;
  std::shared_ptr<State> state_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
};

}  // namespace tangent::distributed
