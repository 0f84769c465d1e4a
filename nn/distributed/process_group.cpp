// The parts of ProcessGroup every build has: the environment checks, the single-process group, and world().
#include "nn/distributed/process_group.h"

#include <cstdlib>
#include <mutex>
#include <string>

#include "autograd/grad_mode.h"
#include "core/error.h"
#include "nn/distributed/mpi_group.h"
#include "ops/factory.h"

namespace tangent::distributed {

bool launched_by_mpirun() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(v) != nullptr) return true;
  return false;
}

ProcessGroup::ProcessGroup(int rank, int size) : rank_(rank), size_(size) {
  if (const char* v = std::getenv("TANGENT_DISTRIBUTED_TIMEOUT")) {
    char* end = nullptr;
    const double s = std::strtod(v, &end);
    TANGENT_CHECK(end != v && *end == '\0' && s > 0, "distributed: TANGENT_DISTRIBUTED_TIMEOUT must be a positive ",
                  "number of seconds, got '", v, "'");
    timeout_ = s;
  }
}

void ProcessGroup::set_timeout(double seconds) {
  TANGENT_CHECK(seconds > 0, "distributed: the collective timeout must be positive, got ", seconds, " s");
  timeout_ = seconds;
}

std::string rank_label(const ProcessGroup& group) {
  return "rank " + std::to_string(group.rank()) + " of " + std::to_string(group.size());
}

namespace {

void check_mean(const char* what, const Tensor& t, ReduceOp op) {
  TANGENT_CHECK(op != ReduceOp::Mean || t.is_floating_point(), "distributed ", what,
                ": Mean needs a floating tensor, got ", t.dtype(), " ", t.shape());
}

// A job of one process: every collective is the identity (or its shape change).
class LocalGroup final : public ProcessGroup {
 public:
  LocalGroup() : ProcessGroup(0, 1) {}
  void all_reduce(const Tensor& t, ReduceOp op) override {
    check_defined(t, "all_reduce");
    check_mean("all_reduce", t, op);
  }
  void reduce(const Tensor& t, int root) override {
    check_defined(t, "reduce");
    check_root(root, "reduce");
  }
  void broadcast(const Tensor& t, int root) override {
    check_defined(t, "broadcast");
    check_root(root, "broadcast");
  }
  Tensor all_gather(const Tensor& t) override {
    check_defined(t, "all_gather");
    NoGradGuard no_grad;
    return t.detach().unsqueeze(0).clone();
  }
  Tensor reduce_scatter(const Tensor& t, ReduceOp op) override {
    check_defined(t, "reduce_scatter");
    check_mean("reduce_scatter", t, op);
    TANGENT_CHECK(t.dim() >= 1, "distributed reduce_scatter: needs a tensor [K * m, ...], got a 0-dim tensor");
    NoGradGuard no_grad;
    return t.detach().clone();
  }
  void barrier() override {}
  std::unique_ptr<Work> all_reduce_async(const Tensor& t) override {
    check_defined(t, "all_reduce_async");
    struct Done final : Work {
      void wait() override {}
    };
    return std::make_unique<Done>();
  }

 private:
  static void check_defined(const Tensor& t, const char* what) {
    TANGENT_CHECK(t.defined(), "distributed ", what, ": the tensor is undefined");
  }
  static void check_root(int root, const char* what) {
    TANGENT_CHECK(root == 0, "distributed ", what, ": root ", root, " is not a rank of a group of 1");
  }
};

}  // namespace

bool mpi_built() { return detail::mpi_built(); }

std::shared_ptr<ProcessGroup> ProcessGroup::world() {
  static std::mutex mutex;
  static std::shared_ptr<ProcessGroup> group;
  std::lock_guard<std::mutex> lock(mutex);
  if (!group) {
    if (launched_by_mpirun()) {
      TANGENT_CHECK(detail::mpi_built(), "distributed: this process was started by mpirun, but this build of Tangent ",
                    "has no MPI support (install libopenmpi-dev and reconfigure with -DTANGENT_MPI=AUTO or ON)");
      group = detail::make_mpi_world();
    } else {
      group = std::make_shared<LocalGroup>();
    }
  }
  return group;
}

}  // namespace tangent::distributed
