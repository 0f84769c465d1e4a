// ProcessGroup over MPI: non-blocking collectives polled against the group's deadline.
#include "nn/distributed/mpi_group.h"

#include "core/error.h"

#ifdef TANGENT_WITH_MPI
#include <mpi.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <thread>

#include "autograd/grad_mode.h"
#include "nn/distributed/nccl_comm.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#endif

namespace tangent::distributed {

#ifndef TANGENT_WITH_MPI

namespace detail {
bool mpi_built() { return false; }
std::shared_ptr<ProcessGroup> make_mpi_world() {
  TANGENT_FAIL("distributed: this build of Tangent has no MPI support (install libopenmpi-dev and reconfigure)");
}
}  // namespace detail

void abort_job(int) {}

#else

namespace {

bool g_broken = false;  // a collective timed out or failed: MPI_Finalize could wait forever, so abort instead

void finish_mpi() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  if (g_broken) MPI_Abort(MPI_COMM_WORLD, 1);
  MPI_Finalize();
}

std::string mpi_error(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  return std::string(text, static_cast<size_t>(len));
}

MPI_Datatype mpi_type(DType d) {
  switch (d) {
    case DType::Bool:
      return MPI_C_BOOL;
    case DType::Int64:
      return MPI_INT64_T;
    case DType::Float16:
    case DType::BFloat16:
      return MPI_UINT16_T;  // moved as bits; reductions go through float32
    case DType::Float32:
      return MPI_FLOAT;
    case DType::Float64:
      return MPI_DOUBLE;
  }
  return MPI_BYTE;
}

bool is_half(DType d) { return d == DType::Float16 || d == DType::BFloat16; }

std::string describe(const Tensor& t) {
  std::ostringstream os;
  os << dtype_name(t.dtype()) << " " << t.shape();
  return os.str();
}

class MpiGroup final : public ProcessGroup {
 public:
  MpiGroup(MPI_Comm comm, int rank, int size) : ProcessGroup(rank, size), comm_(comm) {}

  void all_reduce(const Tensor& t, ReduceOp op) override {
    check(t, "all_reduce", op);
    NoGradGuard no_grad;
    if (use_nccl(t)) {
      const Tensor buf = device_buffer(t);
      nccl_for(t).all_reduce(buf.raw_data(), buf.numel(), buf.dtype(), nccl_op(op), timeout_, label("all_reduce", t));
      finish(t, buf);
      return;
    }
    const Tensor buf = stage(t, /*reduce=*/true);
    MPI_Request req;
    call(MPI_Iallreduce(MPI_IN_PLACE, buf.raw_data(), count(buf, "all_reduce"), mpi_type(buf.dtype()),
                        reduce_op(buf.dtype()), comm_, &req),
         "all_reduce", t);
    wait(req, "all_reduce", t);
    finish(t, op == ReduceOp::Mean ? div(buf, static_cast<double>(size_)) : buf);
  }

  void reduce(const Tensor& t, int root) override {
    check(t, "reduce", ReduceOp::Sum);
    check_root(root, "reduce");
    NoGradGuard no_grad;
    if (use_nccl(t)) {
      const Tensor buf = device_buffer(t);
      nccl_for(t).reduce(buf.raw_data(), buf.numel(), buf.dtype(), root, timeout_, label("reduce", t));
      if (rank_ == root) finish(t, buf);
      return;
    }
    const Tensor buf = stage(t, /*reduce=*/true);
    MPI_Request req;
    const bool me = rank_ == root;
    call(MPI_Ireduce(me ? MPI_IN_PLACE : buf.raw_data(), me ? buf.raw_data() : nullptr, count(buf, "reduce"),
                     mpi_type(buf.dtype()), reduce_op(buf.dtype()), root, comm_, &req),
         "reduce", t);
    wait(req, "reduce", t);
    if (me) finish(t, buf);
  }

  void broadcast(const Tensor& t, int root) override {
    check(t, "broadcast", ReduceOp::Sum);
    check_root(root, "broadcast");
    NoGradGuard no_grad;
    if (use_nccl(t)) {
      const Tensor buf = device_buffer(t);
      nccl_for(t).broadcast(buf.raw_data(), buf.numel(), buf.dtype(), root, timeout_, label("broadcast", t));
      finish(t, buf);
      return;
    }
    const Tensor buf = stage(t, /*reduce=*/false);
    MPI_Request req;
    call(MPI_Ibcast(buf.raw_data(), count(buf, "broadcast"), mpi_type(buf.dtype()), root, comm_, &req), "broadcast", t);
    wait(req, "broadcast", t);
    finish(t, buf);
  }

  Tensor all_gather(const Tensor& t) override {
    check(t, "all_gather", ReduceOp::Sum);
    NoGradGuard no_grad;
    if (use_nccl(t)) {
      const Tensor src = device_buffer(t);
      Shape shape = t.shape();
      shape.insert(0, size_);
      const Tensor out = empty(shape, t.options());
      nccl_for(t).all_gather(src.raw_data(), out.raw_data(), src.numel(), src.dtype(), timeout_,
                             label("all_gather", t));
      return out;
    }
    const Tensor src = stage(t, /*reduce=*/false);
    Shape shape = t.shape();
    shape.insert(0, size_);
    const Tensor out = empty(shape, TensorOptions(src.dtype()));
    const int n = count(src, "all_gather");
    MPI_Request req;
    call(
        MPI_Iallgather(src.raw_data(), n, mpi_type(src.dtype()), out.raw_data(), n, mpi_type(src.dtype()), comm_, &req),
        "all_gather", t);
    wait(req, "all_gather", t);
    return t.device().is_cpu() ? out : out.to(t.device());
  }

  Tensor reduce_scatter(const Tensor& t, ReduceOp op) override {
    check(t, "reduce_scatter", op);
    TANGENT_CHECK(t.dim() >= 1 && t.size(0) % size_ == 0, "distributed reduce_scatter (", rank_label(*this),
                  "): needs a tensor [K * m, ...] with K = ", size_, " ranks, got ", describe(t));
    NoGradGuard no_grad;
    if (use_nccl(t)) {
      const Tensor src = device_buffer(t);
      Shape shape = t.shape();
      shape[0] /= size_;
      const Tensor out = empty(shape, t.options());
      nccl_for(t).reduce_scatter(src.raw_data(), out.raw_data(), out.numel(), src.dtype(), nccl_op(op), timeout_,
                                 label("reduce_scatter", t));
      return out;
    }
    const Tensor src = stage(t, /*reduce=*/true);
    Shape shape = t.shape();
    shape[0] /= size_;
    Tensor out = empty(shape, TensorOptions(src.dtype()));
    MPI_Request req;
    call(MPI_Ireduce_scatter_block(src.raw_data(), out.raw_data(), count(out, "reduce_scatter"), mpi_type(src.dtype()),
                                   reduce_op(src.dtype()), comm_, &req),
         "reduce_scatter", t);
    wait(req, "reduce_scatter", t);
    if (op == ReduceOp::Mean) out = div(out, static_cast<double>(size_));
    if (out.dtype() != t.dtype()) out = out.to(t.dtype());
    return t.device().is_cpu() ? out : out.to(t.device());
  }

  void barrier() override {
    check_usable("barrier");
    MPI_Request req;
    call(MPI_Ibarrier(comm_, &req), "barrier", Tensor());
    wait(req, "barrier", Tensor());
  }

  std::unique_ptr<Work> all_reduce_async(const Tensor& t) override {
    check(t, "all_reduce", ReduceOp::Sum);
    TANGENT_CHECK(t.device().is_cpu() && t.is_contiguous() && !is_half(t.dtype()), "distributed all_reduce_async (",
                  rank_label(*this), "): needs a contiguous CPU tensor of a non-half dtype, got ", describe(t));
    auto work = std::make_unique<Pending>(this, t);
    call(MPI_Iallreduce(MPI_IN_PLACE, t.raw_data(), count(t, "all_reduce"), mpi_type(t.dtype()), reduce_op(t.dtype()),
                        comm_, &work->req),
         "all_reduce", t);
    return work;
  }

 private:
  struct Pending final : Work {
    Pending(MpiGroup* g, Tensor t) : group(g), tensor(std::move(t)) {}
    void wait() override {
      if (done) return;
      done = true;
      group->wait(req, "all_reduce", tensor);
    }
    MpiGroup* group;
    Tensor tensor;
    MPI_Request req = MPI_REQUEST_NULL;
    bool done = false;
  };

  void check_usable(const char* what) const {
    TANGENT_CHECK(!g_broken, "distributed ", what, " (", rank_label(*this),
                  "): an earlier collective failed or timed out; the process group cannot be used any more");
  }
  void check(const Tensor& t, const char* what, ReduceOp op) const {
    check_usable(what);
    TANGENT_CHECK(t.defined(), "distributed ", what, " (", rank_label(*this), "): the tensor is undefined");
    TANGENT_CHECK(op != ReduceOp::Mean || t.is_floating_point(), "distributed ", what, " (", rank_label(*this),
                  "): Mean needs a floating tensor, got ", describe(t));
  }
  void check_root(int root, const char* what) const {
    TANGENT_CHECK(root >= 0 && root < size_, "distributed ", what, " (", rank_label(*this), "): root ", root,
                  " is not a rank (0..", size_ - 1, ")");
  }
  int count(const Tensor& t, const char* what) const {
    TANGENT_CHECK(t.numel() <= INT_MAX, "distributed ", what, " (", rank_label(*this), "): ", describe(t),
                  " has more than 2^31 - 1 elements; split it");
    return static_cast<int>(t.numel());
  }
  static MPI_Op reduce_op(DType d) { return d == DType::Bool ? MPI_LOR : MPI_SUM; }

  // CUDA tensors go to NCCL when the build has it (else through host memory and MPI).
  static bool use_nccl(const Tensor& t) { return t.device().is_cuda() && detail::nccl_built(); }
  static detail::NcclComm::Op nccl_op(ReduceOp op) {
    return op == ReduceOp::Mean ? detail::NcclComm::Op::Mean : detail::NcclComm::Op::Sum;
  }
  static Tensor device_buffer(const Tensor& t) {
    const Tensor d = t.detach();
    return d.is_contiguous() ? d : d.contiguous();
  }
  std::string label(const char* what, const Tensor& t) const {
    return std::string(what) + " (" + rank_label(*this) + ") of " + describe(t);
  }
  // The communicator of t's device, created on first use from rank 0's unique id (sent over MPI).
  detail::NcclComm& nccl_for(const Tensor& t) {
    const int device = t.device().index;
    auto it = nccl_.find(device);
    if (it != nccl_.end()) return *it->second;
    const Tensor id = zeros({static_cast<int64_t>(detail::NcclComm::kIdBytes / 8)}, TensorOptions(kInt64));
    if (rank_ == 0) {
      const std::vector<uint8_t> mine = detail::NcclComm::unique_id();
      std::memcpy(id.raw_data(), mine.data(), mine.size());
    }
    broadcast(id, 0);
    std::vector<uint8_t> bytes(detail::NcclComm::kIdBytes);
    std::memcpy(bytes.data(), id.raw_data(), bytes.size());
    auto comm = std::make_unique<detail::NcclComm>(bytes, rank_, size_, device);
    return *nccl_.emplace(device, std::move(comm)).first->second;
  }

  // A contiguous CPU tensor to hand to MPI: `t` itself when it already is one, else a copy (float32 for half
  // dtypes when reducing).
  static Tensor stage(const Tensor& t, bool reduce) {
    Tensor buf = t.detach();
    if (!buf.device().is_cpu()) buf = buf.to(Device(kCPU));
    if (reduce && is_half(buf.dtype())) buf = buf.to(kFloat32);
    return buf.is_contiguous() ? buf : buf.contiguous();
  }
  // Writes a staged result back into `t` unless it already is `t`'s memory.
  static void finish(const Tensor& t, const Tensor& result) {
    if (result.device() == t.device() && result.dtype() == t.dtype() && result.raw_data() == t.raw_data() &&
        t.is_contiguous())
      return;
    t.detach().copy_(result.dtype() == t.dtype() ? result : result.to(t.dtype()));
  }

  void call(int code, const char* what, const Tensor& t) const {
    if (code == MPI_SUCCESS) return;
    g_broken = true;
    TANGENT_FAIL("distributed ", what, " (", rank_label(*this), ")", t.defined() ? " of " + describe(t) : "",
                 " failed: ", mpi_error(code));
  }

  // Polls `req` until it completes or the deadline passes: spins for the first milliseconds (short collectives),
  // then sleeps between tests so a waiting rank leaves its core to the others.
  void wait(MPI_Request& req, const char* what, const Tensor& t) const {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    for (;;) {
      int done = 0;
      call(MPI_Test(&req, &done, MPI_STATUS_IGNORE), what, t);
      if (done) return;
      const double waited = std::chrono::duration<double>(clock::now() - start).count();
      if (waited > timeout_) {
        g_broken = true;
        std::string others;
        for (int r = 0; r < size_; ++r)
          if (r != rank_) others += (others.empty() ? "" : ", ") + std::to_string(r);
        TANGENT_FAIL("distributed ", what, " (", rank_label(*this), ")", t.defined() ? " of " + describe(t) : "",
                     " did not complete within ", timeout_, " s: rank", size_ > 2 ? "s " : " ", others,
                     size_ > 2 ? " include one that has" : " has",
                     " stalled or died (timeout: ProcessGroup::", "set_timeout or TANGENT_DISTRIBUTED_TIMEOUT)");
      }
      if (waited > 0.002) std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }

  MPI_Comm comm_;
  std::map<int, std::unique_ptr<detail::NcclComm> > nccl_;  // by CUDA device index
};

}  // namespace

namespace detail {

bool mpi_built() { return true; }

std::shared_ptr<ProcessGroup> make_mpi_world() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    const int code = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    TANGENT_CHECK(code == MPI_SUCCESS, "distributed: MPI_Init_thread failed: ", mpi_error(code));
    TANGENT_CHECK(provided >= MPI_THREAD_FUNNELED, "distributed: MPI provides thread level ", provided,
                  ", below MPI_THREAD_FUNNELED");
    std::atexit(finish_mpi);
  }
  MPI_Comm comm;
  MPI_Comm_dup(MPI_COMM_WORLD, &comm);
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  return std::make_shared<MpiGroup>(comm, rank, size);
}

}  // namespace detail

void abort_job(int code) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized) return;
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

#endif

}  // namespace tangent::distributed
