// Convolution and pooling suite: conv2d (stride, padding, dilation, groups, bias; float32 on oneDNN and float64 on
// our loops) against a naive reference; its gradients (float32 oneDNN backward against float64, gradcheck and
// gradgradcheck); max/avg/adaptive pooling against naive loops, their gradients; error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <tangent/tangent.h>

#include "support/errors.h"
#include "support/gradcheck.h"

using namespace tangent;
using tangent::testing::error_message;
using tangent::testing::gradcheck;
using tangent::testing::gradgradcheck;

namespace {

void expect_close(const Tensor& got, const Tensor& want, double tol) {
  ASSERT_EQ(got.shape(), want.shape());
  const std::vector<double> g = to_vector<double>(got), w = to_vector<double>(want);
  double scale = 1.0;
  for (double v : w) scale = std::max(scale, std::abs(v));
  for (size_t i = 0; i < g.size(); ++i) ASSERT_NEAR(g[i], w[i], tol * scale) << "at flat index " << i;
}

struct ConvCase {
  Shape x, w;
  Pair stride, padding, dilation;
  int64_t groups;
  bool bias;
};

// Naive direct convolution in double.
Tensor naive_conv(const Tensor& x, const Tensor& w, const Tensor& b, Pair s, Pair p, Pair d, int64_t groups) {
  const auto xv = to_vector<double>(x), wv = to_vector<double>(w);
  const std::vector<double> bv = b.defined() ? to_vector<double>(b) : std::vector<double>();
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t O = w.size(0), cpg = w.size(1), kH = w.size(2), kW = w.size(3), opg = O / groups;
  const int64_t Ho = (H + 2 * p[0] - d[0] * (kH - 1) - 1) / s[0] + 1,
                Wo = (W + 2 * p[1] - d[1] * (kW - 1) - 1) / s[1] + 1;
  std::vector<double> out(static_cast<size_t>(N * O * Ho * Wo));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t i = 0; i < Ho; ++i)
        for (int64_t j = 0; j < Wo; ++j) {
          double acc = bv.empty() ? 0.0 : bv[static_cast<size_t>(o)];
          for (int64_t c = 0; c < cpg; ++c)
            for (int64_t u = 0; u < kH; ++u)
              for (int64_t v = 0; v < kW; ++v) {
                const int64_t ih = i * s[0] - p[0] + u * d[0], iw = j * s[1] - p[1] + v * d[1];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const int64_t ci = (o / opg) * cpg + c;
                acc += xv[static_cast<size_t>(((n * C + ci) * H + ih) * W + iw)] *
                       wv[static_cast<size_t>(((o * cpg + c) * kH + u) * kW + v)];
              }
          out[static_cast<size_t>(((n * O + o) * Ho + i) * Wo + j)] = acc;
        }
  return tensor(out, {N, O, Ho, Wo});
}

// Naive pooling in double; `max` also returns the flat argmax per plane.
Tensor naive_pool(const Tensor& x, Pair k, Pair s, Pair p, bool max, bool count_include_pad,
                  std::vector<int64_t>* argmax = nullptr) {
  const auto xv = to_vector<double>(x);
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t Ho = (H + 2 * p[0] - k[0]) / s[0] + 1, Wo = (W + 2 * p[1] - k[1]) / s[1] + 1;
  std::vector<double> out;
  for (int64_t pl = 0; pl < N * C; ++pl)
    for (int64_t i = 0; i < Ho; ++i)
      for (int64_t j = 0; j < Wo; ++j) {
        double best = -std::numeric_limits<double>::infinity(), sum = 0;
        int64_t arg = -1, count = 0, padded = 0;
        for (int64_t u = 0; u < k[0]; ++u)
          for (int64_t v = 0; v < k[1]; ++v) {
            const int64_t ih = i * s[0] - p[0] + u, iw = j * s[1] - p[1] + v;
            if (ih < H + p[0] && iw < W + p[1]) ++padded;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            const double val = xv[static_cast<size_t>((pl * H + ih) * W + iw)];
            if (val > best) best = val, arg = ih * W + iw;
            sum += val;
            ++count;
          }
        out.push_back(max ? best : sum / static_cast<double>(count_include_pad ? padded : count));
        if (argmax) argmax->push_back(arg);
      }
  return tensor(out, {N, C, Ho, Wo});
}

const std::vector<ConvCase>& conv_cases() {
  static const std::vector<ConvCase> cases = {
      {{2, 3, 7, 6}, {4, 3, 3, 3}, {1, 1}, {0, 0}, {1, 1}, 1, true},
      {{2, 4, 9, 8}, {6, 2, 3, 2}, {2, 1}, {1, 0}, {1, 1}, 2, true},
      {{1, 2, 10, 9}, {3, 2, 3, 3}, {2, 3}, {2, 1}, {2, 1}, 1, false},
      {{3, 6, 5, 5}, {6, 1, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 6, true},  // depthwise
      {{2, 3, 8, 8}, {5, 3, 1, 1}, {2, 2}, {0, 0}, {1, 1}, 1, true},  // 1x1, stride 2 (rows left unread)
  };
  return cases;
}

}  // namespace

// ---------------------------------------------------------------- conv2d
TEST(Conv2d, MatchesNaiveReferenceFloat32AndFloat64) {
  manual_seed(1);
  for (const auto& c : conv_cases()) {
    for (DType dt : {kFloat32, kFloat64}) {
      const Tensor x = randn(c.x, dt), w = randn(c.w, dt), b = c.bias ? randn({c.w[0]}, dt) : Tensor();
      const Tensor y = conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups);
      expect_close(y, naive_conv(x, w, b, c.stride, c.padding, c.dilation, c.groups), dt == kFloat32 ? 1e-5 : 1e-12);
      // Non-contiguous input gives the same values.
      const Tensor xn = tangent::testing::make_noncontiguous(x);
      expect_close(conv2d(xn, w, b, c.stride, c.padding, c.dilation, c.groups), y, 1e-6);
    }
  }
}

TEST(Conv2d, UnbatchedInputAndHalfDtypes) {
  manual_seed(2);
  const Tensor x = randn({3, 6, 6}), w = randn({2, 3, 3, 3});
  const Tensor y = conv2d(x, w, Tensor(), {1, 1}, {1, 1});
  EXPECT_EQ(y.shape(), Shape({2, 6, 6}));
  expect_close(y, naive_conv(x.reshape({1, 3, 6, 6}), w, Tensor(), {1, 1}, {1, 1}, {1, 1}, 1).reshape({2, 6, 6}), 1e-5);
  for (DType dt : {kFloat16, kBFloat16}) {
    const Tensor xh = x.to(dt), wh = w.to(dt);
    const Tensor yh = conv2d(xh, wh, Tensor(), {1, 1}, {1, 1});
    EXPECT_EQ(yh.dtype(), dt);
    expect_close(yh, naive_conv(xh.reshape({1, 3, 6, 6}), wh, Tensor(), {1, 1}, {1, 1}, {1, 1}, 1).reshape({2, 6, 6}),
                 dt == kFloat16 ? 5e-3 : 2e-2);
  }
}

TEST(Conv2d, Float32BackwardMatchesFloat64) {
  // float32 gradients come from oneDNN's backward primitives, float64 ones from our loops (checked by gradcheck).
  manual_seed(3);
  for (const auto& c : conv_cases()) {
    const Tensor x64 = randn(c.x, kFloat64), w64 = randn(c.w, kFloat64);
    const Tensor b64 = c.bias ? randn({c.w[0]}, kFloat64) : Tensor();
    const Tensor gy = randn(conv2d(x64, w64, b64, c.stride, c.padding, c.dilation, c.groups).shape(), kFloat64);
    std::vector<Tensor> grads[2];
    for (int i = 0; i < 2; ++i) {
      const DType dt = i == 0 ? kFloat64 : kFloat32;
      Tensor x = x64.to(dt).detach().requires_grad_(), w = w64.to(dt).detach().requires_grad_();
      Tensor b = c.bias ? b64.to(dt).detach().requires_grad_() : Tensor();
      conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups).backward(gy.to(dt));
      grads[i] = {x.grad(), w.grad()};
      if (c.bias) grads[i].push_back(b.grad());
    }
    for (size_t k = 0; k < grads[0].size(); ++k) expect_close(grads[1][k], grads[0][k], 1e-5);
  }
}

TEST(Conv2d, GradcheckAndGradgradcheck) {
  manual_seed(4);
  for (const auto& c : conv_cases()) {
    auto fn = [c](const std::vector<Tensor>& in) {
      return conv2d(in[0], in[1], c.bias ? in[2] : Tensor(), c.stride, c.padding, c.dilation, c.groups);
    };
    Shape xs = c.x;
    xs[0] = 1;  // keep the numerical Jacobian small
    std::vector<Tensor> in = {randn(xs, kFloat64).requires_grad_(), randn(c.w, kFloat64).requires_grad_()};
    if (c.bias) in.push_back(randn({c.w[0]}, kFloat64).requires_grad_());
    EXPECT_TRUE(gradcheck(fn, in)) << c.x << " " << c.w;
    EXPECT_TRUE(gradgradcheck(fn, in)) << c.x << " " << c.w;
  }
}

TEST(Conv2d, ErrorsNameTheOpAndShapes) {
  const std::string ch = error_message([] { conv2d(zeros({1, 3, 5, 5}), zeros({2, 4, 3, 3})); });
  EXPECT_NE(ch.find("conv2d"), std::string::npos) << ch;
  EXPECT_NE(ch.find("[1, 3, 5, 5]"), std::string::npos) << ch;
  EXPECT_NE(ch.find("[2, 4, 3, 3]"), std::string::npos) << ch;
  const std::string gr = error_message([] {
    conv2d(zeros({1, 3, 5, 5}), zeros({2, 1, 3, 3}), Tensor(), {1, 1}, {0, 0}, {1, 1}, 2);
  });
  EXPECT_NE(gr.find("groups"), std::string::npos) << gr;
  const std::string big = error_message([] {
    conv2d(zeros({1, 1, 3, 3}), zeros({1, 1, 5, 5}), Tensor(), {1, 1}, {0, 0});
  });
  EXPECT_NE(big.find("larger than the padded input"), std::string::npos) << big;
  EXPECT_NE(big.find("[1, 1, 3, 3]"), std::string::npos) << big;
  const std::string dim = error_message([] { conv2d(zeros({3, 5}), zeros({1, 1, 1, 1})); });
  EXPECT_NE(dim.find("conv2d"), std::string::npos) << dim;
  EXPECT_NE(dim.find("[3, 5]"), std::string::npos) << dim;
  const std::string bias = error_message([] { conv2d(zeros({1, 2, 3, 3}), zeros({4, 2, 1, 1}), zeros({3})); });
  EXPECT_NE(bias.find("bias"), std::string::npos) << bias;
  EXPECT_NE(error_message([] {
              conv2d(zeros({1, 2, 3, 3}), zeros({4, 2, 1, 1}, kFloat64));
            }).find("dtype"),
            std::string::npos);
}

TEST(Conv2d, InputGradMatchesAutogradAndNamesMismatches) {
  manual_seed(4);
  // Strided, padded, dilated and grouped.
  const Tensor x = randn({2, 4, 7, 8}, kFloat64).requires_grad_(true), w = randn({6, 2, 3, 2}, kFloat64);
  const Tensor y = conv2d(x, w, Tensor(), {2, 1}, {1, 0}, {1, 2}, 2);
  const Tensor g = randn(y.shape(), kFloat64);
  const Tensor want = autograd::grad({y}, {x}, {g})[0];
  expect_close(conv2d_input_grad(g, w, {7, 8}, {2, 1}, {1, 0}, {1, 2}, 2), want, 1e-12);
  // float32 on oneDNN against the float64 result.
  expect_close(conv2d_input_grad(g.to(kFloat32), w.to(kFloat32), {7, 8}, {2, 1}, {1, 0}, {1, 2}, 2), want, 1e-4);
  const std::string size = error_message([&] { conv2d_input_grad(g, w, {9, 8}, {2, 1}, {1, 0}, {1, 2}, 2); });
  EXPECT_NE(size.find("conv2d_input_grad"), std::string::npos) << size;
  EXPECT_NE(size.find("9x8"), std::string::npos) << size;
  const std::string ch = error_message([&] { conv2d_input_grad(g, randn({5, 2, 3, 2}, kFloat64), {7, 8}); });
  EXPECT_NE(ch.find("[5, 2, 3, 2]"), std::string::npos) << ch;
  EXPECT_NE(ch.find("[2, 6, 4, 6]"), std::string::npos) << ch;
}

// ---------------------------------------------------------------- pooling
TEST(Pool2d, MaxPoolValuesAndIndicesDriveTheGradient) {
  manual_seed(5);
  struct P {
    Shape x;
    Pair k, s, p;
  };
  const std::vector<P> cases = {{{2, 3, 6, 6}, {2, 2}, {0, 0}, {0, 0}},
                                {{1, 2, 7, 5}, {2, 2}, {2, 2}, {0, 0}},  // 2x2 fast path, odd sizes
                                {{1, 2, 7, 5}, {3, 3}, {2, 2}, {1, 1}},
                                {{1, 1, 5, 8}, {3, 2}, {1, 3}, {1, 0}}};
  for (const auto& c : cases) {
    for (DType dt : {kFloat32, kFloat64}) {
      const Pair s = c.s[0] == 0 ? c.k : c.s;
      const Tensor x = randn(c.x, dt).requires_grad_();
      std::vector<int64_t> argmax;
      const Tensor want = naive_pool(x.detach(), c.k, s, c.p, true, true, &argmax);
      const Tensor y = max_pool2d(x, c.k, c.s, c.p);
      expect_close(y, want, 0);
      // The gradient lands on the argmax of each window (accumulating where windows overlap).
      const Tensor gy = randn(y.shape(), dt);
      y.backward(gy);
      std::vector<double> gx(static_cast<size_t>(x.numel()), 0.0);
      const auto gv = to_vector<double>(gy);
      const int64_t plane = c.x[2] * c.x[3], outs = y.size(2) * y.size(3);
      for (size_t i = 0; i < argmax.size(); ++i)
        gx[static_cast<size_t>(static_cast<int64_t>(i) / outs * plane + argmax[i])] += gv[i];
      expect_close(x.grad(), tensor(gx, c.x), 1e-6);
    }
  }
}

TEST(Pool2d, AvgPoolCountIncludePad) {
  manual_seed(6);
  const Tensor x = randn({2, 3, 7, 6});
  for (bool cip : {true, false}) {
    expect_close(avg_pool2d(x, {3, 3}, {2, 2}, {1, 1}, cip), naive_pool(x, {3, 3}, {2, 2}, {1, 1}, false, cip), 1e-6);
    expect_close(avg_pool2d(x, {2, 3}, {0, 0}, {1, 1}, cip), naive_pool(x, {2, 3}, {2, 3}, {1, 1}, false, cip), 1e-6);
  }
  const Tensor xh = x.to(kBFloat16);
  expect_close(avg_pool2d(xh, {2, 2}), naive_pool(xh, {2, 2}, {2, 2}, {0, 0}, false, true), 1e-2);
}

TEST(Pool2d, AdaptiveAvgPool) {
  manual_seed(7);
  const Tensor x = randn({2, 3, 6, 8});
  expect_close(adaptive_avg_pool2d(x, {3, 4}), naive_pool(x, {2, 2}, {2, 2}, {0, 0}, false, true), 1e-6);
  expect_close(adaptive_avg_pool2d(x, {1, 1}), x.mean({2, 3}, true), 1e-6);
  // Uneven bins: [floor(i*H/o), ceil((i+1)*H/o)).
  const Tensor y = adaptive_avg_pool2d(x, {4, 3});
  EXPECT_EQ(y.shape(), Shape({2, 3, 4, 3}));
  const auto xv = to_vector<double>(x), yv = to_vector<double>(y);
  for (int64_t pl = 0; pl < 6; ++pl)
    for (int64_t i = 0; i < 4; ++i)
      for (int64_t j = 0; j < 3; ++j) {
        const int64_t h0 = i * 6 / 4, h1 = ((i + 1) * 6 + 3) / 4, w0 = j * 8 / 3, w1 = ((j + 1) * 8 + 2) / 3;
        double sum = 0;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) sum += xv[static_cast<size_t>((pl * 6 + h) * 8 + w)];
        EXPECT_NEAR(yv[static_cast<size_t>((pl * 4 + i) * 3 + j)], sum / static_cast<double>((h1 - h0) * (w1 - w0)),
                    1e-5);
      }
}

TEST(Pool2d, Gradients) {
  manual_seed(8);
  auto avg = [](const std::vector<Tensor>& in) { return avg_pool2d(in[0], {3, 3}, {2, 2}, {1, 1}, false); };
  auto avg_cip = [](const std::vector<Tensor>& in) { return avg_pool2d(in[0], {2, 3}, {1, 2}, {1, 1}, true); };
  auto mx = [](const std::vector<Tensor>& in) { return max_pool2d(in[0], {3, 2}, {2, 1}, {1, 1}); };
  auto ad = [](const std::vector<Tensor>& in) { return adaptive_avg_pool2d(in[0], {3, 2}); };
  const Tensor x = randn({2, 2, 5, 5}, kFloat64).requires_grad_();
  for (const auto& fn :
       {tangent::testing::Fn(avg), tangent::testing::Fn(avg_cip), tangent::testing::Fn(mx), tangent::testing::Fn(ad)}) {
    EXPECT_TRUE(gradcheck(fn, {x}));
    EXPECT_TRUE(gradgradcheck(fn, {x}));
  }
}

// The 2x2 / stride 2 kernel keeps the general loop's rules: the first of equal maxima wins, the first NaN wins.
TEST(Pool2d, MaxPool2x2TiesAndNaN) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // Windows (row-major within each): ties; a NaN second; NaN third after a larger value; two NaNs; max last.
  const std::vector<float> v = {1, 1, 5, nan, 9,   2, nan, nan, 0, 1,  //
                                1, 1, 3, 4,   nan, 1, nan, 3,   2, 7};
  const Tensor x = tensor(v, Shape{1, 1, 2, 10}).requires_grad_(true);
  const Tensor y = max_pool2d(x, {2, 2});
  const std::vector<float> out = to_vector<float>(y);
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0], 1.f);
  EXPECT_TRUE(std::isnan(out[1]) && std::isnan(out[2]) && std::isnan(out[3]));
  EXPECT_EQ(out[4], 7.f);
  y.backward(tensor(std::vector<float>{1, 2, 3, 4, 5}, Shape{1, 1, 1, 5}));
  // Gradient lands on: window 0 at (0,0); window 1 at (0,3); window 2 at (1,4); window 3 at (0,6); window 4 at (1,9).
  std::vector<float> want(20, 0.f);
  want[0] = 1;
  want[3] = 2;
  want[14] = 3;
  want[6] = 4;
  want[19] = 5;
  EXPECT_EQ(to_vector<float>(x.grad()), want);
}

TEST(Pool2d, ErrorsNameTheOpAndShapes) {
  const std::string pad = error_message([] { max_pool2d(zeros({1, 1, 4, 4}), {2, 2}, {2, 2}, {2, 2}); });
  EXPECT_NE(pad.find("max_pool2d"), std::string::npos) << pad;
  EXPECT_NE(pad.find("half the kernel"), std::string::npos) << pad;
  const std::string big = error_message([] { avg_pool2d(zeros({1, 1, 2, 2}), {3, 3}); });
  EXPECT_NE(big.find("avg_pool2d"), std::string::npos) << big;
  EXPECT_NE(big.find("[1, 1, 2, 2]"), std::string::npos) << big;
  const std::string dim = error_message([] { adaptive_avg_pool2d(zeros({4, 4}), {2, 2}); });
  EXPECT_NE(dim.find("adaptive_avg_pool2d"), std::string::npos) << dim;
  EXPECT_NE(dim.find("[4, 4]"), std::string::npos) << dim;
}
