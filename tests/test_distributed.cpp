// nn/distributed: the collectives against hand-computed values, for every dtype and for non-contiguous tensors.
// ctest runs this binary twice: alone (a group of one) and as `mpirun -np 2` (test_distributed_mpi2); every
// expectation is written for any world size K.
#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include <cstdio>
#include <cstring>

#include "autograd/grad_mode.h"
#include "core/generator.h"
#include "models/mlp.h"
#include "nn/checkpoint.h"
#include "nn/data/dataloader.h"
#include "nn/distributed/ddp.h"
#include "nn/distributed/process_group.h"
#include "nn/trainer.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/shape_ops.h"
#include "support/errors.h"

namespace tangent {
namespace {

using distributed::ProcessGroup;
using distributed::ReduceOp;

const std::vector<DType> kAllDTypes = {kBool, kInt64, kFloat16, kBFloat16, kFloat32, kFloat64};

std::shared_ptr<ProcessGroup> group() { return ProcessGroup::world(); }

// A [rows, cols] tensor of `dtype` whose element i (row-major) is f(i); bool takes f(i) != 0.
Tensor make(DType dtype, int64_t rows, int64_t cols, const std::function<double(int64_t)>& f) {
  std::vector<double> v(static_cast<size_t>(rows * cols));
  for (size_t i = 0; i < v.size(); ++i) v[i] = f(static_cast<int64_t>(i));
  return tensor(v, {rows, cols}).to(dtype);
}

std::vector<double> values(const Tensor& t) {
  const Tensor d = t.contiguous().to(kFloat64);
  return std::vector<double>(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
}

// Rank r's input: small integers (exact in every dtype); for bool, true on a rank-dependent subset.
double input(DType dtype, int r, int64_t i) {
  if (dtype == kBool) return (i + r) % 3 == 0 ? 1.0 : 0.0;
  return static_cast<double>((r + 1) * (i % 7 + 1));
}

// The sum over ranks (logical OR for bool) of input(r, i).
double combined(DType dtype, int world, int64_t i) {
  double s = 0;
  for (int r = 0; r < world; ++r) s += input(dtype, r, i);
  return dtype == kBool ? (s != 0 ? 1.0 : 0.0) : s;
}

TEST(Distributed, WorldIsConsistent) {
  auto g = group();
  EXPECT_GE(g->size(), 1);
  EXPECT_GE(g->rank(), 0);
  EXPECT_LT(g->rank(), g->size());
  // Every rank sees the same size, and the ranks are 0..K-1 exactly once.
  const Tensor ranks = g->all_gather(tensor(std::vector<int64_t>{g->rank(), g->size()}, {2}));
  ASSERT_EQ(ranks.shape(), Shape({g->size(), 2}));
  const auto v = values(ranks);
  for (int r = 0; r < g->size(); ++r) {
    EXPECT_EQ(v[2 * r], r);
    EXPECT_EQ(v[2 * r + 1], g->size());
  }
  EXPECT_EQ(distributed::launched_by_mpirun(), g->size() > 1);
}

TEST(Distributed, AllReduceSumEveryDTypeContiguousAndStrided) {
  auto g = group();
  const int K = g->size(), me = g->rank();
  for (DType dt : kAllDTypes) {
    SCOPED_TRACE(dtype_name(dt));
    // Contiguous [5, 3].
    const Tensor a = make(dt, 5, 3, [&](int64_t i) { return input(dt, me, i); });
    g->all_reduce(a, ReduceOp::Sum);
    const auto got = values(a);
    for (int64_t i = 0; i < 15; ++i) EXPECT_EQ(got[i], combined(dt, K, i)) << "element " << i;
    // A transposed view [5, 3] of a [3, 5] tensor: the reduction lands in the base tensor's memory.
    const Tensor base = make(dt, 3, 5, [&](int64_t i) { return input(dt, me, i); });
    const Tensor view = base.t();
    ASSERT_FALSE(view.is_contiguous());
    g->all_reduce(view, ReduceOp::Sum);
    const auto b = values(base);
    for (int64_t i = 0; i < 15; ++i) EXPECT_EQ(b[i], combined(dt, K, i)) << "base element " << i;
  }
  // Size 0 and a large odd size.
  const Tensor none = zeros({0}, kFloat32);
  g->all_reduce(none);
  EXPECT_EQ(none.numel(), 0);
  const int64_t n = 1000003;
  const Tensor big = full({n}, static_cast<double>(me + 1), kFloat64);
  g->all_reduce(big);
  const auto bv = values(big);
  EXPECT_EQ(bv[0], K * (K + 1) / 2.0);
  EXPECT_EQ(bv[n - 1], K * (K + 1) / 2.0);
}

TEST(Distributed, AllReduceMeanFloatingDTypes) {
  auto g = group();
  const int K = g->size(), me = g->rank();
  for (DType dt : {kFloat16, kBFloat16, kFloat32, kFloat64}) {
    SCOPED_TRACE(dtype_name(dt));
    const Tensor base = make(dt, 4, 2, [&](int64_t i) { return input(dt, me, i); });
    const Tensor view = base.t();  // [2, 4], strided
    g->all_reduce(view, ReduceOp::Mean);
    const auto got = values(base);
    // (r + 1) * c averaged over r: (K + 1) / 2 * c, exact in every dtype for these small c.
    for (int64_t i = 0; i < 8; ++i) EXPECT_EQ(got[i], combined(dt, K, i) / K) << "element " << i;
  }
  testing::expect_error(
      [&] {
        g->all_reduce(tensor(std::vector<int64_t>{1, 2}, {2}), ReduceOp::Mean);
      },
      {"all_reduce", "Mean needs a floating tensor", "int64"});
}

TEST(Distributed, ReduceToRootEveryDType) {
  auto g = group();
  const int K = g->size(), me = g->rank();
  for (DType dt : kAllDTypes) {
    SCOPED_TRACE(dtype_name(dt));
    const Tensor base = make(dt, 3, 4, [&](int64_t i) { return input(dt, me, i); });
    const Tensor view = base.slice(1, 0, 4, 2);  // [3, 2], every other column
    g->reduce(view, 0);
    const auto got = values(base);
    for (int64_t i = 0; i < 12; ++i) {
      const bool reduced = i % 2 == 0;  // columns 0 and 2
      const double want = me == 0 && reduced ? combined(dt, K, i) : input(dt, me, i);
      EXPECT_EQ(got[i], want) << "element " << i;
    }
  }
}

TEST(Distributed, BroadcastEveryDType) {
  auto g = group();
  const int K = g->size(), me = g->rank();
  const int root = K - 1;
  for (DType dt : kAllDTypes) {
    SCOPED_TRACE(dtype_name(dt));
    const Tensor base = make(dt, 4, 3, [&](int64_t i) { return input(dt, me, i); });
    const Tensor view = base.t();
    g->broadcast(view, root);
    const auto got = values(base);
    for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(got[i], input(dt, root, i)) << "element " << i;
  }
  testing::expect_error([&] { g->broadcast(zeros({2}), K); }, {"broadcast", "root " + std::to_string(K)});
}

TEST(Distributed, AllGatherEveryDType) {
  auto g = group();
  const int K = g->size(), me = g->rank();
  for (DType dt : kAllDTypes) {
    SCOPED_TRACE(dtype_name(dt));
    const Tensor base = make(dt, 3, 2, [&](int64_t i) { return input(dt, me, i); });
    const Tensor out = g->all_gather(base.t());  // [2, 3] strided -> [K, 2, 3]
    ASSERT_EQ(out.shape(), Shape({K, 2, 3}));
    EXPECT_EQ(out.dtype(), dt);
    const auto got = values(out);
    for (int r = 0; r < K; ++r)
      for (int64_t a = 0; a < 2; ++a)
        for (int64_t b = 0; b < 3; ++b)
          EXPECT_EQ(got[static_cast<size_t>(r * 6 + a * 3 + b)], input(dt, r, b * 2 + a)) << "rank " << r;
  }
}

TEST(Distributed, ReduceScatterEveryDType) {
  auto g = group();
  const int K = g->size(), me = g->rank();
  const int64_t m = 2, cols = 3;
  for (DType dt : kAllDTypes) {
    SCOPED_TRACE(dtype_name(dt));
    const Tensor base = make(dt, cols, K * m, [&](int64_t i) { return input(dt, me, i); });
    const Tensor in = base.t();  // [K * m, cols], strided
    const Tensor out = g->reduce_scatter(in, ReduceOp::Sum);
    ASSERT_EQ(out.shape(), Shape({m, cols}));
    EXPECT_EQ(out.dtype(), dt);
    const auto got = values(out);
    for (int64_t a = 0; a < m; ++a)
      for (int64_t b = 0; b < cols; ++b) {
        const int64_t row = me * m + a;  // in[row, b] = base[b, row]
        EXPECT_EQ(got[static_cast<size_t>(a * cols + b)], combined(dt, K, b * K * m + row)) << a << "," << b;
      }
  }
  const Tensor mean = g->reduce_scatter(full({K * 2}, static_cast<double>(me + 1), kFloat32), ReduceOp::Mean);
  for (double v : values(mean)) EXPECT_EQ(v, (K + 1) / 2.0);
  if (K > 1) testing::expect_error([&] { g->reduce_scatter(zeros({K * 2 + 1})); }, {"reduce_scatter", "[K * m, ...]"});
}

TEST(Distributed, BarrierAndAsyncAllReduce) {
  auto g = group();
  const int K = g->size(), me = g->rank();
  g->barrier();
  const Tensor a = full({1000}, static_cast<double>(me + 1), kFloat32);
  const Tensor b = full({10}, static_cast<double>(2 * me), kFloat64);
  auto wa = g->all_reduce_async(a);
  auto wb = g->all_reduce_async(b);
  wb->wait();
  wa->wait();
  for (double v : values(a)) ASSERT_EQ(v, K * (K + 1) / 2.0);
  for (double v : values(b)) ASSERT_EQ(v, K * (K - 1.0));
}

TEST(Distributed, TimeoutMustBePositive) {
  testing::expect_error([] { group()->set_timeout(0); }, {"timeout must be positive"});
}

// ---- the sampler ----

TEST(DistributedSampler, ShardsAreDisjointEqualAndCoverTheEpochBatchByBatch) {
  // 3 shards of 11 examples: 3 each, positions r, r + 3, r + 6 of the epoch's order; the last 2 are dropped.
  auto ds = std::make_shared<data::TensorDataset>(arange(0, 11).to(kFloat32).reshape({11, 1}));
  data::DataLoader whole(ds, {6, true, 3, false});
  std::vector<std::vector<int64_t>> shards;
  for (int64_t r = 0; r < 3; ++r) {
    data::DataLoaderOptions o{2, true, 3, false};
    o.num_shards = 3;
    o.shard = r;
    data::DataLoader l(ds, o);
    EXPECT_EQ(l.examples_per_epoch(), 3);
    EXPECT_EQ(l.num_batches(), 2);  // 2 + a partial batch of 1, on every shard alike
    shards.push_back(l.order(4));
  }
  const std::vector<int64_t> order = whole.order(4);
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t i = 0; i < 3; ++i) EXPECT_EQ(shards[r][i], order[r + 3 * i]) << "shard " << r << " item " << i;
  data::DataLoaderOptions bad{2, true, 3, false};
  bad.num_shards = 2;
  bad.shard = 2;
  testing::expect_error([&] { data::DataLoader l(ds, bad); }, {"DataLoader", "shard 2 of 2"});
}

// ---- data-parallel training ----

std::shared_ptr<data::TensorDataset> blobs(int64_t n, uint64_t seed) {
  Generator gen(seed);
  Generator center_gen(98);
  const Tensor centers = mul(randn({3, 8}, {}, &center_gen), 3.0);
  const Tensor labels = randint(0, 3, {n}, kInt64, &gen);
  const Tensor x = add(index_select(centers, 0, labels), randn({n, 8}, {}, &gen));
  return std::make_shared<data::TensorDataset>(x, labels);
}

std::shared_ptr<models::MLP> mlp(double dropout) {
  manual_seed(11);
  models::MLPOptions o;
  o.input_shape = {8};
  o.hidden = {16, 16};
  o.out_features = 3;
  o.dropout = dropout;
  return std::make_shared<models::MLP>(o);
}

nn::TrainOptions sgd(int64_t batch, int64_t epochs) {
  nn::TrainOptions t;
  t.epochs = epochs;
  t.batch_size = batch;
  t.optimizer = "sgd";
  t.schedule = "constant";
  t.lr = 0.05;
  t.seed = 5;
  return t;
}

TEST(DistributedTraining, EqualsOneProcessOnTheConcatenatedBatches) {
  auto g = group();
  const int K = g->size();
  const int64_t b = 8;
  auto ds = blobs(96, 1);  // divisible by K = 1, 2, 3, 4: no example dropped
  // The reference: one process, batches of K * b, no group.
  auto ref = mlp(0.0);
  nn::Trainer single(ref, "mlp", ref->config(), ds, nullptr, sgd(K * b, 2));
  // Data-parallel: batches of b per rank. Start from other weights on rank > 0: the broadcast must fix them.
  auto dp = mlp(0.0);
  if (g->rank() > 0) {
    NoGradGuard no_grad;
    for (auto& p : dp->parameters()) p.copy_(full_like(p, 0.5));
  }
  nn::TrainOptions o = sgd(b, 2);
  o.group = g;
  nn::Trainer parallel(dp, "mlp", dp->config(), ds, nullptr, o);
  ASSERT_EQ(parallel.steps_per_epoch(), single.steps_per_epoch());
  for (int e = 0; e < 2; ++e) {
    const nn::EpochMetrics a = single.train_epoch();
    const nn::EpochMetrics d = parallel.train_epoch();
    EXPECT_NEAR(a.train_loss, d.train_loss, 1e-5) << "epoch " << e;  // metrics over all ranks
    EXPECT_EQ(a.train_accuracy, d.train_accuracy) << "epoch " << e;
  }
  const auto pa = ref->named_parameters(), pd = dp->named_parameters();
  ASSERT_EQ(pa.size(), pd.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    const auto va = values(pa[i].second), vd = values(pd[i].second);
    double worst = 0;
    for (size_t j = 0; j < va.size(); ++j) worst = std::max(worst, std::abs(va[j] - vd[j]));
    EXPECT_LT(worst, 1e-5) << pa[i].first;
  }
  // Every rank ends with the same parameters, bit for bit.
  for (auto& kv : pd) {
    const Tensor mine = kv.second.detach().clone();
    const Tensor root = mine.clone();
    g->broadcast(root, 0);
    EXPECT_EQ(std::memcmp(mine.raw_data(), root.raw_data(), static_cast<size_t>(mine.numel()) * 4), 0) << kv.first;
  }
}

TEST(DistributedTraining, CheckpointResumesBitIdenticallyWithTheSameRanks) {
  auto g = group();
  const std::string path = "test_distributed_resume_" + std::to_string(g->size()) + ".tgt";
  nn::TrainOptions o = sgd(8, 3);
  o.group = g;
  o.optimizer = "adam";
  o.lr = 0.01;
  auto ds = blobs(64, 2);
  // One run of 3 epochs with dropout (per-rank streams), checkpointed after the first.
  auto a = mlp(0.3);
  nn::Trainer whole(a, "mlp", a->config(), ds, nullptr, o);
  whole.train_epoch();
  const nn::Checkpoint c = whole.checkpoint();  // collective
  ASSERT_EQ(c.rank_rngs.size(), static_cast<size_t>(g->size() > 1 ? g->size() : 0));
  if (g->rank() == 0) nn::save_checkpoint(path, c);
  g->barrier();
  whole.train_epoch();
  whole.train_epoch();
  // Resumed from the file in a fresh trainer (the generator elsewhere in between).
  manual_seed(12345);
  auto b = mlp(0.3);
  nn::Trainer resumed(b, "mlp", b->config(), ds, nullptr, o);
  resumed.restore(nn::load_checkpoint(path));
  resumed.train_epoch();
  resumed.train_epoch();
  const auto pa = a->named_parameters(), pb = b->named_parameters();
  for (size_t i = 0; i < pa.size(); ++i) {
    const Tensor x = pa[i].second.contiguous(), y = pb[i].second.contiguous();
    EXPECT_EQ(std::memcmp(x.raw_data(), y.raw_data(), static_cast<size_t>(x.numel()) * 4), 0) << pa[i].first;
  }
  // Another number of ranks is refused, naming both counts.
  nn::Checkpoint other = c;
  other.rank_rngs.assign(static_cast<size_t>(g->size()) + 1, c.rng);
  testing::expect_error([&] { resumed.restore(other); },
                        {"resume", "written by " + std::to_string(g->size() + 1), "mpirun -np"});
  g->barrier();
  if (g->rank() == 0) std::remove(path.c_str());
}

TEST(DistributedTraining, EveryParameterMustGetAGradient) {
  auto g = group();
  auto model = mlp(0.0);
  distributed::DistributedDataParallel ddp(g, model->named_parameters(), {});
  EXPECT_GE(ddp.num_buckets(), 1u);
  testing::expect_error([&] { ddp.synchronize(); }, {"DistributedDataParallel", "no gradient reached", "layers."});
}

}  // namespace
}  // namespace tangent
