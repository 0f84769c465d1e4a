#include "nn/distributed/ddp.h"

#include "autograd/grad_mode.h"
#include "core/error.h"
#include "ops/elementwise.h"
#include "ops/factory.h"

namespace tangent::distributed {

namespace {

// Gradients of float64 parameters are reduced in float64, all others (float32, float16, bfloat16) in float32.
DType bucket_dtype(DType param) { return param == kFloat64 ? kFloat64 : kFloat32; }

}  // namespace

struct DistributedDataParallel::State {
  struct Slot {
    std::string name;
    Tensor param;
    size_t bucket = 0;
    int64_t offset = 0;  // elements into the bucket
    bool ready = false;
  };
  struct Bucket {
    Tensor flat;  // contiguous CPU buffer of bucket_dtype
    std::vector<size_t> slots;
    size_t pending = 0;  // slots not ready yet in this backward
    std::unique_ptr<Work> work;
  };
  std::shared_ptr<ProcessGroup> group;
  std::vector<Slot> slots;
  std::vector<Bucket> buckets;

  void reset() {
    for (auto& s : slots) s.ready = false;
    for (auto& b : buckets) {
      b.pending = b.slots.size();
      b.work.reset();
    }
  }

  // The hook of slot i: stage its gradient; launch the bucket's all-reduce when it is complete.
  void on_grad(size_t i, const Tensor& g) {
    Slot& s = slots[i];
    TANGENT_CHECK(!s.ready, "DistributedDataParallel (", rank_label(*group), "): parameter '", s.name,
                  "' received a second gradient in one backward; call synchronize() after each backward");
    Bucket& b = buckets[s.bucket];
    {
      NoGradGuard no_grad;
      b.flat.narrow(0, s.offset, g.numel()).copy_(g.detach().reshape({-1}).to(b.flat.dtype()).to(Device(kCPU)));
    }
    s.ready = true;
    if (--b.pending == 0) b.work = group->all_reduce_async(b.flat);
  }
};

DistributedDataParallel::DistributedDataParallel(std::shared_ptr<ProcessGroup> group,
                                                 std::vector<std::pair<std::string, Tensor>> params,
                                                 std::vector<std::pair<std::string, Tensor>> buffers,
                                                 DdpOptions options)
    : group_(std::move(group)), state_(std::make_shared<State>()), buffers_(std::move(buffers)) {
  TANGENT_CHECK(group_ != nullptr, "DistributedDataParallel: no process group");
  TANGENT_CHECK(options.bucket_bytes > 0 && options.first_bucket_bytes > 0,
                "DistributedDataParallel: bucket sizes must be positive, got ", options.bucket_bytes, " and ",
                options.first_bucket_bytes);
  state_->group = group_;
  // Rank 0's values everywhere.
  for (auto& kv : params) {
    TANGENT_CHECK(kv.second.defined() && kv.second.is_floating_point(), "DistributedDataParallel: parameter '",
                  kv.first, "' must be a floating tensor");
    group_->broadcast(kv.second, 0);
  }
  broadcast_buffers();
  // Buckets in reverse parameter order, one dtype per bucket.
  struct Open {
    DType dtype;
    int64_t elements = 0, bytes = 0;
    std::vector<size_t> slots;
  };
  std::vector<Open> done;
  std::vector<Open> open;  // at most one open bucket per dtype
  int64_t cap = options.first_bucket_bytes;
  for (size_t k = params.size(); k-- > 0;) {
    const Tensor& p = params[k].second;
    if (!p.requires_grad()) continue;
    const DType dt = bucket_dtype(p.dtype());
    auto it = open.begin();
    while (it != open.end() && it->dtype != dt) ++it;
    if (it == open.end()) {
      open.push_back(Open{dt, 0, 0, {}});
      it = open.end() - 1;
    }
    state_->slots.push_back(State::Slot{params[k].first, p, 0, it->elements, false});
    it->slots.push_back(state_->slots.size() - 1);
    it->elements += p.numel();
    it->bytes += p.numel() * static_cast<int64_t>(element_size(dt));
    if (it->bytes >= cap) {
      done.push_back(std::move(*it));
      open.erase(it);
      cap = options.bucket_bytes;
    }
  }
  for (auto& o : open) done.push_back(std::move(o));
  for (auto& o : done) {
    State::Bucket b;
    b.flat = zeros({o.elements}, TensorOptions(o.dtype));
    b.slots = o.slots;
    for (size_t s : o.slots) state_->slots[s].bucket = state_->buckets.size();
    state_->buckets.push_back(std::move(b));
  }
  state_->reset();
  // The hooks hold the state weakly: a parameter outliving this wrapper keeps a hook that does nothing.
  std::weak_ptr<State> weak = state_;
  for (size_t i = 0; i < state_->slots.size(); ++i)
    state_->slots[i].param.register_hook([weak, i](const Tensor& g) {
      if (auto st = weak.lock()) st->on_grad(i, g);
      return Tensor();
    });
}

DistributedDataParallel::~DistributedDataParallel() = default;

size_t DistributedDataParallel::num_buckets() const { return state_->buckets.size(); }

void DistributedDataParallel::broadcast_buffers() {
  if (group_->size() == 1) return;
  for (auto& kv : buffers_)
    if (kv.second.defined()) group_->broadcast(kv.second, 0);
}

void DistributedDataParallel::synchronize() {
  State& st = *state_;
  std::string missing;
  for (const auto& s : st.slots)
    if (!s.ready) missing += (missing.empty() ? "" : ", ") + s.name;
  if (!missing.empty()) {
    st.reset();
    TANGENT_FAIL("DistributedDataParallel (", rank_label(*group_), "): no gradient reached ", missing,
                 " in this backward; every rank must use every trainable parameter in each step (or freeze it)");
  }
  const double world = static_cast<double>(group_->size());
  NoGradGuard no_grad;
  for (auto& b : st.buckets) {
    if (b.work) b.work->wait();
    for (size_t i : b.slots) {
      State::Slot& s = st.slots[i];
      Tensor g = b.flat.narrow(0, s.offset, s.param.numel()).reshape(s.param.shape());
      g = div(g, world).to(s.param.dtype());
      if (!s.param.device().is_cpu()) g = g.to(s.param.device());
      s.param.set_grad(g);
    }
  }
  st.reset();
}

}  // namespace tangent::distributed
