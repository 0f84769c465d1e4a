// nn/distributed: the collectives against hand-computed values, for every dtype and for non-contiguous tensors.
// ctest runs this binary twice: alone (a group of one) and as `mpirun -np 2` (test_distributed_mpi2); every
// expectation is written for any world size K.
#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "nn/distributed/process_group.h"
#include "ops/factory.h"
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

}  // namespace
}  // namespace tangent
