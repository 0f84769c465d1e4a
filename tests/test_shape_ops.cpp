// Tests of ops/shape_ops.h: views (storage sharing, version counter, errors), cat/stack/split/chunk, and the
// indexing ops (index_select, index_add, gather, scatter_add, one_hot) with their gradients.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include <tangent/tangent.h>

#include "support/errors.h"
#include "support/gradcheck.h"

using namespace tangent;
using tangent::testing::expect_error;
using tangent::testing::gradcheck;
using tangent::testing::gradgradcheck;

namespace {

std::vector<double> vals(const Tensor& t) { return to_vector<double>(t); }

// 0, 1, 2, ... in float64 with the given shape.
Tensor iota(const Shape& shape, DType dtype = kFloat64) {
  return arange(0, shape.numel(), 1, TensorOptions(dtype)).reshape(shape);
}

Tensor idx(const std::vector<int64_t>& v, const Shape& shape = {}) {
  return tensor(v, shape.empty() ? Shape{static_cast<int64_t>(v.size())} : shape);
}

// Expects fn to throw a tangent::Error whose message contains every string in `parts`.
Tensor leaf(const Tensor& t) {
  Tensor c = t.clone();
  c.requires_grad_(true);
  return c;
}

}  // namespace

// ---------------------------------------------------------------- views

TEST(ShapeOpsViews, ViewAndReshapeShareStorage) {
  Tensor x = iota({2, 3});
  Tensor v = x.view({3, 2});
  Tensor r = x.reshape({-1});
  EXPECT_EQ(v.shape(), (Shape{3, 2}));
  EXPECT_EQ(r.shape(), (Shape{6}));
  EXPECT_EQ(v.raw_data(), x.raw_data());
  EXPECT_EQ(r.raw_data(), x.raw_data());
  const uint64_t before = x.version();
  v.select(0, 2).fill_(9.0);  // elements 4 and 5
  EXPECT_EQ(vals(x), (std::vector<double>{0, 1, 2, 3, 9, 9}));
  EXPECT_EQ(vals(r), (std::vector<double>{0, 1, 2, 3, 9, 9}));
  EXPECT_GT(x.version(), before);
  EXPECT_EQ(x.version(), v.version());
  EXPECT_EQ(x.version(), r.version());
}

TEST(ShapeOpsViews, ViewOnNonViewableStridesMentionsReshape) {
  Tensor x = iota({2, 3});
  Tensor t = x.t();
  expect_error([&] { (void)t.view({6}); }, {"view", "[3, 2]", "reshape"});
  Tensor r = t.reshape({6});  // a copy
  EXPECT_EQ(vals(r), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  EXPECT_NE(r.raw_data(), x.raw_data());
  expect_error([&] { (void)x.view({4, 2}); }, {"view", "[4, 2]", "[2, 3]"});
  expect_error([&] { (void)x.view({-1, -1}); }, {"view"});
}

TEST(ShapeOpsViews, PermuteAndTranspose) {
  Tensor x = iota({2, 3, 4});
  Tensor p = x.permute({2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(p.strides(), (Shape{1, 12, 4}));
  EXPECT_EQ(p.raw_data(), x.raw_data());
  // p[i, j, k] = x[j, k, i] = 12 j + 4 k + i
  const std::vector<double> pv = vals(p);
  EXPECT_EQ(pv[0 * 6 + 1 * 3 + 2], 12 + 8 + 0);
  EXPECT_EQ(pv[3 * 6 + 0 * 3 + 1], 4 + 3);
  Tensor t = x.transpose(-1, 0);
  EXPECT_EQ(t.shape(), (Shape{4, 3, 2}));
  EXPECT_EQ(vals(t.contiguous()), vals(x.permute({2, 1, 0}).contiguous()));
  t.select(0, 1).select(0, 2).fill_(-1.0);  // x[:, 2, 1]
  EXPECT_EQ(vals(x)[9], -1.0);
  EXPECT_EQ(vals(x)[21], -1.0);
  expect_error([&] { (void)x.permute({0, 0, 1}); }, {"permute"});
  expect_error([&] { (void)x.permute({0, 1}); }, {"permute", "[2, 3, 4]"});
}

TEST(ShapeOpsViews, SqueezeUnsqueezeFlatten) {
  Tensor x = iota({2, 1, 3, 1});
  EXPECT_EQ(x.squeeze().shape(), (Shape{2, 3}));
  EXPECT_EQ(x.squeeze(1).shape(), (Shape{2, 3, 1}));
  EXPECT_EQ(x.squeeze(-1).shape(), (Shape{2, 1, 3}));
  EXPECT_EQ(x.squeeze(0).shape(), (Shape{2, 1, 3, 1}));  // not size 1: unchanged
  EXPECT_EQ(x.unsqueeze(-1).shape(), (Shape{2, 1, 3, 1, 1}));
  EXPECT_EQ(x.unsqueeze(0).shape(), (Shape{1, 2, 1, 3, 1}));
  EXPECT_EQ(x.squeeze().raw_data(), x.raw_data());
  Tensor y = iota({2, 3, 4});
  EXPECT_EQ(y.flatten().shape(), (Shape{24}));
  EXPECT_EQ(y.flatten(1).shape(), (Shape{2, 12}));
  EXPECT_EQ(y.flatten(0, -2).shape(), (Shape{6, 4}));
  EXPECT_EQ(y.flatten(1).raw_data(), y.raw_data());
  Tensor s = y.squeeze();
  s.select(0, 1).select(0, 0).fill_(5.0);
  EXPECT_EQ(vals(y)[12], 5.0);
  expect_error([&] { (void)y.unsqueeze(5); }, {"unsqueeze", "dim 5"});
}

TEST(ShapeOpsViews, ExpandHasZeroStrides) {
  Tensor x = tensor(std::vector<double>{1, 2, 3}, {3, 1});
  Tensor e = x.expand({2, 3, 4});
  EXPECT_EQ(e.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(e.strides()[0], 0);
  EXPECT_EQ(e.strides()[2], 0);
  EXPECT_EQ(e.raw_data(), x.raw_data());
  const std::vector<double> v = vals(e);
  EXPECT_EQ(v[0 * 12 + 2 * 4 + 3], 3.0);
  EXPECT_EQ(v[1 * 12 + 1 * 4 + 0], 2.0);
  EXPECT_EQ(x.expand({-1, 5}).shape(), (Shape{3, 5}));
  expect_error([&] { (void)x.expand({4, 4}); }, {"expand", "[3, 1]"});
}

TEST(ShapeOpsViews, NarrowSliceSelect) {
  Tensor x = iota({4, 5});
  Tensor n = x.narrow(1, 1, 3);
  EXPECT_EQ(n.shape(), (Shape{4, 3}));
  EXPECT_EQ(vals(n.select(0, 1)), (std::vector<double>{6, 7, 8}));
  EXPECT_EQ(vals(x.narrow(-1, -2, 2).select(0, 0)), (std::vector<double>{3, 4}));
  Tensor s = x.slice(1, 0, 5, 2);  // columns 0, 2, 4
  EXPECT_EQ(s.shape(), (Shape{4, 3}));
  EXPECT_EQ(s.strides(), (Shape{5, 2}));
  EXPECT_EQ(vals(s.select(0, 2)), (std::vector<double>{10, 12, 14}));
  EXPECT_EQ(vals(x.slice(0, 1, 100, 2).select(1, 0)), (std::vector<double>{5, 15}));
  EXPECT_EQ(vals(x.select(-1, -1)), (std::vector<double>{4, 9, 14, 19}));
  EXPECT_EQ(vals(x[3]), (std::vector<double>{15, 16, 17, 18, 19}));
  // Writing through a strided slice is visible in the base.
  const uint64_t v0 = x.version();
  s.select(0, 0).fill_(-1.0);
  EXPECT_EQ(vals(x.select(0, 0)), (std::vector<double>{-1, 1, -1, 3, -1}));
  EXPECT_EQ(s.version(), x.version());
  EXPECT_GT(x.version(), v0);
  expect_error([&] { (void)x.narrow(1, 3, 3); }, {"narrow", "[4, 5]"});
  expect_error([&] { (void)x.select(0, 4); }, {"select", "[4, 5]"});
  expect_error([&] { (void)x.slice(0, 0, 2, 0); }, {"slice", "step"});
}

TEST(ShapeOpsViews, ContiguousAndCloneCopy) {
  Tensor x = iota({2, 3});
  EXPECT_TRUE(x.contiguous().is_same(x));
  Tensor t = x.t();
  EXPECT_FALSE(t.is_contiguous());
  Tensor c = t.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_NE(c.raw_data(), x.raw_data());
  EXPECT_EQ(vals(c), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  Tensor k = x.clone();
  k.fill_(7.0);
  EXPECT_EQ(vals(x), (std::vector<double>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(vals(k), std::vector<double>(6, 7.0));
}

TEST(ShapeOpsViews, Gradients) {
  Tensor x = leaf(randn({2, 3, 4}, kFloat64));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return v[0].view({6, 4}); }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return v[0].transpose(0, 2).reshape({4, 6}); }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return v[0].slice(2, 1, 4, 2); }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return v[0].select(1, -1); }, {x}));
  EXPECT_TRUE(
      gradgradcheck([](const std::vector<Tensor>& v) { return v[0].narrow(2, 1, 2) * v[0].narrow(2, 0, 2); }, {x}));
}

// ---------------------------------------------------------------- cat / stack

TEST(ShapeOpsCat, Values) {
  Tensor a = iota({2, 2});
  Tensor b = iota({2, 3}) + 10.0;
  Tensor c = cat({a, b}, 1);
  EXPECT_EQ(c.shape(), (Shape{2, 5}));
  EXPECT_EQ(vals(c), (std::vector<double>{0, 1, 10, 11, 12, 2, 3, 13, 14, 15}));
  EXPECT_EQ(vals(cat({a, b}, -1)), vals(c));
  Tensor r = cat({a, a * 2.0, a}, 0);
  EXPECT_EQ(r.shape(), (Shape{6, 2}));
  EXPECT_EQ(vals(r), (std::vector<double>{0, 1, 2, 3, 0, 2, 4, 6, 0, 1, 2, 3}));
  // A single tensor and an empty piece.
  EXPECT_EQ(vals(cat({a})), vals(a));
  EXPECT_EQ(vals(cat({a, zeros({0, 2}, kFloat64)}, 0)), vals(a));
}

TEST(ShapeOpsCat, NonContiguousInputs) {
  Tensor a = iota({3, 2}).t();                // [2, 3]: 0 2 4 / 1 3 5
  Tensor b = iota({2, 6}).slice(1, 0, 6, 3);  // [2, 2]: 0 3 / 6 9
  Tensor c = cat({a, b}, 1);
  EXPECT_EQ(vals(c), (std::vector<double>{0, 2, 4, 0, 3, 1, 3, 5, 6, 9}));
}

TEST(ShapeOpsCat, PromotesDtypes) {
  Tensor i = tensor(std::vector<int64_t>{1, 2});
  Tensor f = tensor(std::vector<float>{0.5f}, {1});
  Tensor d = tensor(std::vector<double>{0.25}, {1});
  Tensor c1 = cat({i, f});
  EXPECT_EQ(c1.dtype(), kFloat32);
  EXPECT_EQ(vals(c1), (std::vector<double>{1, 2, 0.5}));
  Tensor c2 = cat({f, d, i});
  EXPECT_EQ(c2.dtype(), kFloat64);
  EXPECT_EQ(vals(c2), (std::vector<double>{0.5, 0.25, 1, 2}));
  EXPECT_EQ(cat({i, i}).dtype(), kInt64);
}

TEST(ShapeOpsCat, Errors) {
  Tensor a = zeros({2, 3}), b = zeros({2, 4}), c = zeros({2, 3, 1});
  expect_error([&] { (void)cat({a, b}, 0); }, {"cat", "[2, 3]", "[2, 4]", "dim 0"});
  expect_error([&] { (void)cat({a, c}, 0); }, {"cat", "[2, 3]", "[2, 3, 1]"});
  expect_error([&] { (void)cat({}, 0); }, {"cat"});
  expect_error([&] { (void)cat({a, a}, 2); }, {"cat", "dim 2"});
  expect_error([&] { (void)cat({scalar_tensor(1.0)}, 0); }, {"cat"});
  EXPECT_EQ(cat({a, b}, 1).shape(), (Shape{2, 7}));
}

TEST(ShapeOpsCat, Backward) {
  Tensor a = leaf(iota({2, 2})), b = leaf(iota({2, 1}));
  Tensor w = iota({2, 3}) + 1.0;  // 1 2 3 / 4 5 6
  cat({a, b}, 1).backward(w);
  EXPECT_EQ(vals(a.grad()), (std::vector<double>{1, 2, 4, 5}));
  EXPECT_EQ(vals(b.grad()), (std::vector<double>{3, 6}));
  // An int input among float ones gets no gradient, the float one still does.
  Tensor f = leaf(tensor(std::vector<double>{1, 2}));
  cat({tensor(std::vector<int64_t>{5}, {1}), f}).backward(tensor(std::vector<double>{7, 8, 9}));
  EXPECT_EQ(vals(f.grad()), (std::vector<double>{8, 9}));
  Tensor x = leaf(randn({2, 3}, kFloat64)), y = leaf(randn({2, 1}, kFloat64)), z = leaf(randn({2, 2}, kFloat64));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return cat({v[0], v[1], v[2]}, 1); }, {x, y, z}));
  EXPECT_TRUE(gradgradcheck([](const std::vector<Tensor>& v) { return cat({v[0] * v[0], v[1]}, -1); }, {x, y}));
}

TEST(ShapeOpsCat, Stack) {
  Tensor a = iota({2, 3}), b = iota({2, 3}) + 6.0;
  Tensor s0 = stack({a, b});
  EXPECT_EQ(s0.shape(), (Shape{2, 2, 3}));
  EXPECT_EQ(vals(s0), (std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
  Tensor s2 = stack({a, b}, -1);
  EXPECT_EQ(s2.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(vals(s2), (std::vector<double>{0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11}));
  EXPECT_EQ(stack({a, b}, 1).shape(), (Shape{2, 2, 3}));
  expect_error([&] { (void)stack({a, zeros({3, 2}, kFloat64)}); }, {"stack", "[2, 3]", "[3, 2]"});
  Tensor x = leaf(randn({2, 3}, kFloat64)), y = leaf(randn({2, 3}, kFloat64));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return stack({v[0], v[1]}, 1); }, {x, y}));
}

// ---------------------------------------------------------------- split / chunk

TEST(ShapeOpsSplit, SplitSizes) {
  Tensor x = iota({5, 2});
  std::vector<Tensor> p = split(x, 2);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(p[2].shape(), (Shape{1, 2}));
  EXPECT_EQ(vals(p[1]), (std::vector<double>{4, 5, 6, 7}));
  EXPECT_EQ(vals(p[2]), (std::vector<double>{8, 9}));
  // Views: writing through a piece changes x.
  p[2].fill_(-1.0);
  EXPECT_EQ(vals(x)[9], -1.0);
  std::vector<Tensor> q = split(x, 1, -1);
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(vals(q[1]), (std::vector<double>{1, 3, 5, 7, -1}));
  EXPECT_EQ(split(x, 10).size(), 1u);
  expect_error([&] { (void)split(x, 0); }, {"split", "[5, 2]"});
}

TEST(ShapeOpsSplit, SplitWithSizes) {
  Tensor x = iota({2, 6});
  std::vector<Tensor> p = split_with_sizes(x, {1, 0, 2, 3}, 1);
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[1].shape(), (Shape{2, 0}));
  EXPECT_EQ(vals(p[2]), (std::vector<double>{1, 2, 7, 8}));
  EXPECT_EQ(vals(p[3]), (std::vector<double>{3, 4, 5, 9, 10, 11}));
  expect_error([&] { (void)split_with_sizes(x, {2, 3}, 1); }, {"split_with_sizes", "[2, 3]", "[2, 6]"});
  expect_error([&] { (void)split_with_sizes(x, {7, -1}, 1); }, {"split_with_sizes", "negative"});
}

TEST(ShapeOpsSplit, Chunk) {
  Tensor x = iota({5});
  auto sizes = [](const std::vector<Tensor>& ps) {
    std::vector<int64_t> s;
    for (const auto& p : ps) s.push_back(p.numel());
    return s;
  };
  EXPECT_EQ(sizes(chunk(x, 3)), (std::vector<int64_t>{2, 2, 1}));
  EXPECT_EQ(sizes(chunk(x, 4)), (std::vector<int64_t>{2, 2, 1}));  // as PyTorch: fewer pieces
  EXPECT_EQ(sizes(chunk(x, 5)), (std::vector<int64_t>{1, 1, 1, 1, 1}));
  EXPECT_EQ(sizes(chunk(x, 7)), (std::vector<int64_t>{1, 1, 1, 1, 1}));
  EXPECT_EQ(sizes(chunk(iota({6}), 3)), (std::vector<int64_t>{2, 2, 2}));
  EXPECT_EQ(vals(chunk(iota({2, 4}), 2, -1)[1]), (std::vector<double>{2, 3, 6, 7}));
  expect_error([&] { (void)chunk(x, 0); }, {"chunk"});
}

TEST(ShapeOpsSplit, Gradients) {
  Tensor x = leaf(randn({5, 3}, kFloat64));
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& v) {
        std::vector<Tensor> p = split(v[0], 2);
        return p[0] * 2.0 + p[1] * p[1] * 3.0;
      },
      {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return chunk(v[0], 3, 1)[2]; }, {x}));
}

// ---------------------------------------------------------------- indexing

TEST(ShapeOpsIndex, IndexSelectValues) {
  Tensor x = iota({3, 4});
  EXPECT_EQ(vals(index_select(x, 0, idx({2, 0, 2}))), (std::vector<double>{8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11}));
  Tensor c = index_select(x, -1, idx({3, 1}));
  EXPECT_EQ(c.shape(), (Shape{3, 2}));
  EXPECT_EQ(vals(c), (std::vector<double>{3, 1, 7, 5, 11, 9}));
  EXPECT_EQ(index_select(x, 1, idx({})).shape(), (Shape{3, 0}));
  // Non-contiguous input and index.
  Tensor t = x.t();                                            // [4, 3]
  Tensor strided_index = idx({1, 9, 0, 9}).slice(0, 0, 4, 2);  // {1, 0}
  EXPECT_EQ(vals(index_select(t, 1, strided_index)), (std::vector<double>{4, 0, 5, 1, 6, 2, 7, 3}));
  // Other dtypes.
  Tensor xi = iota({2, 3}, kInt64);
  Tensor si = index_select(xi, 1, idx({2, 2}));
  EXPECT_EQ(si.dtype(), kInt64);
  EXPECT_EQ(to_vector<int64_t>(si), (std::vector<int64_t>{2, 2, 5, 5}));
  Tensor xf = iota({4}).to(kFloat16);
  EXPECT_EQ(vals(index_select(xf, 0, idx({3, 1}))), (std::vector<double>{3, 1}));
}

TEST(ShapeOpsIndex, IndexAddValues) {
  Tensor x = ones({3, 2}, kFloat64);
  Tensor src = iota({4, 2});  // rows 0 1 / 2 3 / 4 5 / 6 7
  Tensor y = index_add(x, 0, idx({2, 0, 2, 1}), src);
  EXPECT_EQ(vals(y), (std::vector<double>{3, 4, 7, 8, 5, 7}));
  EXPECT_EQ(vals(x), std::vector<double>(6, 1.0));  // out of place
  // Along the last dim, with a non-contiguous source and negative dim.
  Tensor z = index_add(zeros({2, 3}, kFloat64), -1, idx({1, 1}), iota({2, 2}).t());
  EXPECT_EQ(vals(z), (std::vector<double>{0, 2, 0, 0, 4, 0}));
  // Promotion: int64 x, float source.
  Tensor p = index_add(zeros({2}, kInt64), 0, idx({1}), tensor(std::vector<float>{1.5f}, {1}));
  EXPECT_EQ(p.dtype(), kFloat32);
  EXPECT_EQ(vals(p), (std::vector<double>{0, 1.5}));
  expect_error([&] { (void)index_add(x, 0, idx({0, 1}), src); }, {"index_add", "[4, 2]", "[3, 2]"});
}

TEST(ShapeOpsIndex, GatherValues) {
  Tensor x = tensor(std::vector<double>{1, 2, 3, 4}, {2, 2});
  EXPECT_EQ(vals(gather(x, 1, idx({0, 0, 1, 0}, {2, 2}))), (std::vector<double>{1, 1, 4, 3}));
  EXPECT_EQ(vals(gather(x, 0, idx({1, 0, 1}, {1, 3}).narrow(1, 0, 2))), (std::vector<double>{3, 2}));
  // index smaller than x along the other dim; non-contiguous x; negative dim.
  Tensor y = iota({3, 4}).t();  // [4, 3]; y[i][j] = 4 j + i
  Tensor g = gather(y, -1, idx({2, 0}, {2, 1}));
  EXPECT_EQ(g.shape(), (Shape{2, 1}));
  EXPECT_EQ(vals(g), (std::vector<double>{8, 1}));
  expect_error([&] { (void)gather(x, 1, idx({0, 1, 0}, {3, 1})); }, {"gather", "[3, 1]", "[2, 2]"});
}

TEST(ShapeOpsIndex, ScatterAddValues) {
  Tensor src = ones({2, 5}, kFloat64);
  Tensor index = idx({0, 1, 2, 0, 0, 2, 0, 0, 1, 2}, {2, 5});
  Tensor y = scatter_add(zeros({3, 5}, kFloat64), 0, index, src);
  EXPECT_EQ(vals(y), (std::vector<double>{1, 1, 1, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1}));
  // Along dim 1 with repeats, a larger src (only its index-shaped block is used), negative dim.
  Tensor z = scatter_add(zeros({2, 3}, kFloat64), -1, idx({2, 2, 0, 1}, {2, 2}), iota({2, 3}));
  EXPECT_EQ(vals(z), (std::vector<double>{0, 0, 1, 3, 4, 0}));
  expect_error(
      [&] {
        (void)scatter_add(zeros({2, 3}), 1, idx({0, 1, 2}, {1, 3}), zeros({1, 2}));
      },
      {"scatter_add", "[1, 3]", "[1, 2]"});
}

TEST(ShapeOpsIndex, LargeAccumulationIsExactAndDeterministic) {
  // Many rows collide on few targets (parallel over columns, serial over rows); integer values: exact sums.
  const int64_t n = 200000, k = 7;
  std::vector<int64_t> target(static_cast<size_t>(n));
  std::vector<double> expected(static_cast<size_t>(k * 3), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    target[static_cast<size_t>(i)] = (i * 5) % k;
    for (int64_t c = 0; c < 3; ++c) expected[static_cast<size_t>(target[static_cast<size_t>(i)] * 3 + c)] += i + c;
  }
  Tensor src = iota({n, 1}) + tensor(std::vector<double>{0, 1, 2}, {1, 3});
  Tensor y = index_add(zeros({k, 3}, kFloat64), 0, idx(target), src);
  EXPECT_EQ(vals(y), expected);
  EXPECT_EQ(vals(index_add(zeros({k, 3}, kFloat64), 0, idx(target), src)), vals(y));
  // scatter_add along dim 1 of a tall tensor: parallel over rows.
  std::vector<int64_t> cols(static_cast<size_t>(n * 2));
  for (int64_t i = 0; i < n; ++i) {
    cols[static_cast<size_t>(2 * i)] = i % 3;
    cols[static_cast<size_t>(2 * i + 1)] = (i + 1) % 3;
  }
  Tensor s = scatter_add(zeros({n, 3}, kFloat64), 1, idx(cols, {n, 2}), ones({n, 2}, kFloat64));
  const std::vector<double> sv = vals(s);
  for (int64_t i = 0; i < n; i += 9973) {
    std::vector<double> row(3, 0.0);
    row[static_cast<size_t>(i % 3)] += 1;
    row[static_cast<size_t>((i + 1) % 3)] += 1;
    for (int64_t c = 0; c < 3; ++c) EXPECT_EQ(sv[static_cast<size_t>(i * 3 + c)], row[static_cast<size_t>(c)]);
  }
  // gather of a large tensor against index_select.
  Tensor big = iota({n, 3});
  Tensor gi = gather(big, 0, idx(target).reshape({n, 1}).expand({n, 3}).contiguous());
  EXPECT_EQ(vals(gi), vals(index_select(big, 0, idx(target))));
}

TEST(ShapeOpsIndex, Errors) {
  Tensor x = zeros({2, 3});
  expect_error([&] { (void)index_select(x, 1, idx({0, 5})); }, {"index_select", "index 5", "size 3", "[2, 3]"});
  expect_error([&] { (void)index_select(x, 0, idx({-1})); }, {"index_select", "index -1", "size 2", "[2, 3]"});
  expect_error([&] { (void)index_select(x, 0, tensor(std::vector<float>{0.f})); },
               {"index_select", "int64", "float32"});
  expect_error([&] { (void)index_select(x, 0, idx({0, 1}, {1, 2})); }, {"index_select", "[1, 2]"});
  expect_error([&] { (void)index_select(x, 2, idx({0})); }, {"index_select", "dim 2"});
  expect_error([&] { (void)index_add(x, 0, idx({3}), zeros({1, 3})); }, {"index_add", "index 3", "size 2", "[2, 3]"});
  expect_error([&] { (void)gather(x, 1, idx({0, 3}, {1, 2})); }, {"gather", "index 3", "size 3", "[2, 3]"});
  expect_error([&] { (void)gather(x, 1, zeros({2, 3})); }, {"gather", "int64"});
  expect_error(
      [&] {
        (void)scatter_add(x, 0, idx({2}, {1, 1}), zeros({1, 1}));
      },
      {"scatter_add", "index 2", "size 2", "[2, 3]"});
  expect_error([&] { (void)scatter_add(x, 0, zeros({1, 1}), zeros({1, 1})); }, {"scatter_add", "int64"});
}

TEST(ShapeOpsIndex, OneHot) {
  Tensor y = one_hot(idx({0, 2, 1, 2}, {2, 2}), 3);
  EXPECT_EQ(y.dtype(), kInt64);
  EXPECT_EQ(y.shape(), (Shape{2, 2, 3}));
  EXPECT_EQ(to_vector<int64_t>(y), (std::vector<int64_t>{1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1}));
  EXPECT_EQ(one_hot(idx({1, 3}), -1).shape(), (Shape{2, 4}));
  expect_error([&] { (void)one_hot(idx({0, 3}), 3); }, {"one_hot", "class 3", "3"});
  expect_error([&] { (void)one_hot(idx({-1}), 3); }, {"one_hot", "class -1"});
  expect_error([&] { (void)one_hot(zeros({2}), 3); }, {"one_hot", "int64"});
}

TEST(ShapeOpsIndex, Backward) {
  // index_select: gradients accumulate on repeated indices.
  Tensor x = leaf(iota({3, 2}));
  index_select(x, 0, idx({2, 0, 2})).backward(iota({3, 2}) + 1.0);
  EXPECT_EQ(vals(x.grad()), (std::vector<double>{3, 4, 0, 0, 6, 8}));
  // gather: scatter_add of the gradient.
  Tensor g = leaf(iota({2, 2}));
  gather(g, 1, idx({1, 1, 0, 1}, {2, 2})).backward(ones({2, 2}, kFloat64));
  EXPECT_EQ(vals(g.grad()), (std::vector<double>{0, 2, 1, 1}));
  // index_add and scatter_add: the identity for x, a read for the source.
  Tensor a = leaf(zeros({3}, kFloat64)), s = leaf(ones({2}, kFloat64));
  index_add(a, 0, idx({2, 1}), s).backward(tensor(std::vector<double>{10, 20, 30}));
  EXPECT_EQ(vals(a.grad()), (std::vector<double>{10, 20, 30}));
  EXPECT_EQ(vals(s.grad()), (std::vector<double>{30, 20}));

  Tensor r = leaf(randn({4, 3}, kFloat64)), src = leaf(randn({2, 3}, kFloat64));
  const Tensor i1 = idx({3, 0});
  const Tensor i2 = idx({1, 0, 2, 3, 3, 0}, {2, 3});
  auto check = [](const tangent::testing::Fn& f, const std::vector<Tensor>& in) {
    EXPECT_TRUE(gradcheck(f, in));
    EXPECT_TRUE(gradgradcheck(f, in));
  };
  check([i1](const std::vector<Tensor>& v) { return index_select(v[0], 0, i1) * v[0].narrow(0, 0, 2); }, {r});
  check([i1](const std::vector<Tensor>& v) { return index_add(v[0], 0, i1, v[1] * v[1]); }, {r, src});
  check([i2](const std::vector<Tensor>& v) { return gather(v[0] * v[0], 0, i2); }, {r});
  check([i2](const std::vector<Tensor>& v) { return scatter_add(v[0], 0, i2, v[1] * v[1]); }, {r, src});
  // A src larger than the index: only its index-shaped block gets a gradient.
  Tensor wide = leaf(randn({2, 4}, kFloat64));
  EXPECT_TRUE(gradcheck([i2](const std::vector<Tensor>& v) { return scatter_add(v[0], 0, i2, v[1]); }, {r, wide}));
}
