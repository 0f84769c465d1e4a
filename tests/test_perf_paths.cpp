// Performance paths: the caching host allocator (size classes, reuse, alignment, cap, cross-thread frees), and the
// fused fast paths checked against the composed ops they replace (cross_entropy with class indices, relu's
// backward), in value, gradient and double backward.
#include <gtest/gtest.h>

#include <cstdint>
#include <thread>
#include <vector>

#include <tangent/tangent.h>

#include "core/allocator.h"
#include "support/gradcheck.h"

using namespace tangent;
using tangent::testing::all_close;
using tangent::testing::gradcheck;
using tangent::testing::gradgradcheck;
namespace F = tangent::nn::functional;

// ---------------------------------------------------------------- allocator
TEST(HostAllocator, BlocksAreAlignedAndWritable) {
  for (size_t n : {size_t{1}, size_t{63}, size_t{64}, size_t{65}, size_t{1000}, size_t{1025}, size_t{5000},
                   size_t{1} << 20, (size_t{1} << 20) + 1}) {
    auto* p = static_cast<unsigned char*>(host_alloc(n));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u) << n;
    for (size_t i = 0; i < n; ++i) p[i] = static_cast<unsigned char>(i);
    EXPECT_EQ(p[n - 1], static_cast<unsigned char>(n - 1));
    host_free(p, n);
  }
}

TEST(HostAllocator, ReusesFreedBlocksOfTheSameClass) {
  if (!host_caching_enabled()) GTEST_SKIP() << "caching is off (sanitizer build or TANGENT_HOST_CACHE_MB=0)";
  host_empty_cache();
  EXPECT_EQ(host_cache_stats().cached_bytes, 0u);
  void* a = host_alloc(3000);
  host_free(a, 3000);
  EXPECT_GE(host_cache_stats().cached_bytes, 3000u);
  const size_t hits = host_cache_stats().hits;
  void* b = host_alloc(2900);  // same class as 3000 (2560 < n <= 3072)
  EXPECT_EQ(b, a);
  EXPECT_EQ(host_cache_stats().hits, hits + 1);
  void* c = host_alloc(3500);  // next class: a fresh block
  EXPECT_NE(c, a);
  host_free(b, 2900);
  host_free(c, 3500);
  host_empty_cache();
  EXPECT_EQ(host_cache_stats().cached_bytes, 0u);
}

TEST(HostAllocator, TensorsRecycleTheirBuffers) {
  if (!host_caching_enabled()) GTEST_SKIP() << "caching is off";
  const void* first;
  {
    Tensor t = empty({256, 256});
    first = t.raw_data();
  }
  Tensor u = empty({256, 256});
  EXPECT_EQ(u.raw_data(), first);
  u.fill_(2.0);
  EXPECT_EQ(u.sum().item<double>(), 2.0 * 256 * 256);
}

TEST(HostAllocator, FreesFromOtherThreadsAndThreadExit) {
  // Blocks allocated here and freed on worker threads (and the reverse) stay valid; worker caches are released when
  // the workers exit.
  std::vector<void*> blocks;
  for (int i = 0; i < 64; ++i) blocks.push_back(host_alloc(static_cast<size_t>(128 + 512 * i)));
  std::thread freer([&] {
    for (int i = 0; i < 64; ++i) host_free(blocks[static_cast<size_t>(i)], static_cast<size_t>(128 + 512 * i));
    void* own = host_alloc(4096);
    host_free(own, 4096);
  });
  freer.join();
  Tensor kept;
  std::thread maker([&] { kept = full({1000}, 3.0); });
  maker.join();
  EXPECT_EQ(kept.sum().item<double>(), 3000.0);
  kept = Tensor();  // freed here: into this thread's cache
}

// ---------------------------------------------------------------- fused cross_entropy
namespace {
// The composed reference: log_softmax, pick, mask, reduce (what cross_entropy computes without fusion).
Tensor ce_reference(const Tensor& logits, const Tensor& target, F::Reduction r, int64_t ignore) {
  return F::nll_loss(log_softmax(logits, 1), target, r, ignore);
}
}  // namespace

TEST(FusedCrossEntropy, MatchesComposedValueAndGradient) {
  manual_seed(3);
  const Tensor target = tensor(std::vector<int64_t>{4, -100, 0, 2, 4, 1}, {6});
  for (DType dt : {kFloat32, kFloat64}) {
    for (F::Reduction r : {F::Reduction::Mean, F::Reduction::Sum, F::Reduction::None}) {
      const Tensor base = randn({6, 5}, kFloat64).to(dt);
      Tensor a = base.clone().requires_grad_(), b = base.clone().requires_grad_();
      F::CrossEntropyOptions o;
      o.reduction = r;
      const Tensor la = F::cross_entropy(a, target, o), lb = ce_reference(b, target, r, -100);
      const double tol = dt == kFloat32 ? 1e-6 : 1e-12;
      EXPECT_TRUE(all_close(la, lb, tol, tol));
      const Tensor seed = r == F::Reduction::None ? randn({6}, dt) : Tensor();
      la.backward(seed);
      lb.backward(seed);
      EXPECT_TRUE(all_close(a.grad(), b.grad(), tol, tol));
      // Ignored row 1 gets no gradient.
      EXPECT_EQ(a.grad().select(0, 1).abs().sum().item<double>(), 0.0);
    }
  }
}

TEST(FusedCrossEntropy, GradcheckAndDoubleBackward) {
  manual_seed(4);
  const Tensor target = tensor(std::vector<int64_t>{2, 0, 3, 3}, {4});
  for (F::Reduction r : {F::Reduction::Mean, F::Reduction::Sum, F::Reduction::None}) {
    F::CrossEntropyOptions o;
    o.reduction = r;
    o.ignore_index = 0;  // an ignore index inside [0, C)
    auto fn = [&](const std::vector<Tensor>& x) { return F::cross_entropy(x[0], target, o); };
    const Tensor x = randn({4, 4}, kFloat64).requires_grad_();
    EXPECT_TRUE(gradcheck(fn, {x}));
    EXPECT_TRUE(gradgradcheck(fn, {x}));
  }
}

TEST(FusedCrossEntropy, RejectsOutOfRangeTargets) {
  const Tensor logits = zeros({2, 3});
  try {
    F::cross_entropy(logits, tensor(std::vector<int64_t>{1, 3}, {2}));
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("out of range [0, 3)"), std::string::npos) << m;
    EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
  }
}

// ---------------------------------------------------------------- relu backward
TEST(ReluBackward, MaskIsOutputPositivity) {
  const Tensor x = tensor(std::vector<double>{-2.0, -0.0, 0.0, 1e-300, 3.0}, {5}, kFloat64).requires_grad_();
  relu(x).backward(tensor(std::vector<double>{1, 2, 3, 4, 5}, {5}, kFloat64));
  EXPECT_TRUE(all_close(x.grad(), tensor(std::vector<double>{0, 0, 0, 4, 5}, {5}, kFloat64), 0, 0));
  auto fn = [](const std::vector<Tensor>& v) { return relu(v[0]) * v[0]; };
  const Tensor y = tensor(std::vector<double>{-1.5, -0.5, 0.5, 2.0}, {4}, kFloat64).requires_grad_();
  EXPECT_TRUE(gradcheck(fn, {y}));
  EXPECT_TRUE(gradgradcheck(fn, {y}));
}
