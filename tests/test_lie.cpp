// Tests of the Lie-group machinery and layers (nn/lie/) and of the "lie" model (models/lie): the 2x2 closed forms
// and the polar chart against independent oracles (Taylor series, products, round trips up to condition number
// 1e6), sampling, the kernels against the formula entry by entry (layout, masks, the GL2 determinant factor on the
// input-sample axis), exact C4 equivariance of the whole network, equivariance under a general affine map within
// interpolation error, gradcheck/gradgradcheck of both layers in float64, and the model's train step, checkpoint
// round trip, NTK and export error.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include <tangent/tangent.h>
#include "support/errors.h"
#include "support/gradcheck.h"

using namespace tangent;
using namespace tangent::lie;
using tangent::testing::expect_error;

namespace {

const double kPi = 3.14159265358979323846;

// A deterministic uniform in [lo, hi) for test inputs.
struct Rng {
  uint64_t state;
  double next(double lo, double hi) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (hi - lo) * static_cast<double>(state >> 11) / 9007199254740992.0;
  }
};

Mat2 taylor_exp(const Mat2& A) {
  Mat2 sum = Mat2::identity(), term = Mat2::identity();
  for (int n = 1; n < 60; ++n) {
    term = (1.0 / n) * (term * A);
    sum = sum + term;
  }
  return sum;
}

double rel_diff(const Mat2& p, const Mat2& q) {
  const double scale = std::fmax(std::fmax(std::fabs(q.a), std::fabs(q.b)), std::fmax(std::fabs(q.c), std::fabs(q.d)));
  return max_abs_diff(p, q) / scale;
}

// The 90-degree rotation as an exact signed permutation.
const Mat2 kR90 = {0, -1, 1, 0};

// (L_u f)[r][c] = f[W - 1 - c][r] for u = kR90 (x along columns, y along rows), on the last two dims.
Tensor rot90(const Tensor& x) {
  const Tensor src = x.to(kFloat64).contiguous();
  const int64_t h = x.size(-2), w = x.size(-1), planes = x.numel() / (h * w);
  TANGENT_CHECK(h == w, "rot90: square planes only");
  std::vector<double> out(static_cast<size_t>(x.numel()));
  const double* in = src.data_ptr<double>();
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t r = 0; r < h; ++r)
      for (int64_t c = 0; c < w; ++c) out[(p * h + r) * w + c] = in[(p * h + (w - 1 - c)) * w + r];
  return tensor(out, x.shape()).to(x.dtype());
}

double max_abs(const Tensor& t) { return amax(abs(t)).to(kFloat64).item<double>(); }

}  // namespace

// ---- closed forms ----

TEST(LieMat2, ExpMatchesTaylorSeriesInAllThreeRegimes) {
  // delta > 0 (hyperbolic), delta < 0 (elliptic), delta ~ 0 (nilpotent part), and a general one.
  for (const Mat2& A : {Mat2{0.3, 1.2, 0.7, -0.1}, Mat2{0.2, -1.5, 1.1, 0.4}, Mat2{0.5, 1.0, 0.0, 0.5},
                        Mat2{0.1, 1e-5, 1e-5, 0.1}, Mat2{-1.0, 2.0, -3.0, 0.5}}) {
    EXPECT_LT(rel_diff(expm(A), taylor_exp(A)), 1e-14) << A.str();
  }
}

TEST(LieMat2, LogSqrtAndPolarOfSpdAreExactToRoundOff) {
  Rng rng{7};
  for (int t = 0; t < 200; ++t) {
    const double s = rng.next(0, 6.9);  // eigenvalues of X up to +-6.9: condition number up to e^13.8 ~ 1e6
    const double phi = rng.next(-kPi, kPi), m = rng.next(-2, 2);
    const Mat2 R = Mat2::rotation(phi);
    const Mat2 X = R * Mat2::diagonal(m + s, m - s) * R.transpose();
    const Mat2 Xs = {X.a, (X.b + X.c) / 2, (X.b + X.c) / 2, X.d};
    const Mat2 P = expm_symmetric(Xs);
    EXPECT_EQ(P.b, P.c);
    const double cond = std::exp(2 * s);
    // log: the SPD matrix's small eigenvalue carries relative error eps * cond, so log does too.
    EXPECT_LT(max_abs_diff(logm_spd(P), Xs), 1e-15 * cond + 1e-13) << "cond " << cond;
    const Mat2 Q = sqrtm_spd(P);
    EXPECT_LT(rel_diff(Q * Q, P), 1e-14);
    const Mat2 A = P * Mat2::rotation(rng.next(-kPi, kPi));
    const Polar pd = polar(A);
    EXPECT_LT(rel_diff(pd.P * Mat2::rotation(pd.theta), A), 1e-14);
    EXPECT_EQ(pd.P.b, pd.P.c);
    EXPECT_GT(pd.P.trace(), 0);
  }
  expect_error([] { logm_spd({1, 2, 2, 1}); }, {"logm_spd", "symmetric positive-definite"});
  expect_error([] { polar({1, 0, 0, -1}); }, {"polar", "positive determinant"});
}

// ---- the chart ----

TEST(LieChart, RoundTripsToRoundOffFarFromTheIdentity) {
  Rng rng{11};
  for (Group g : {Group::SL2, Group::GL2}) {
    for (int t = 0; t < 300; ++t) {
      std::vector<double> v;
      const double s = rng.next(0, 6.9 / std::sqrt(2.0) * std::sqrt(2.0));
      const double a = rng.next(-kPi, kPi), theta = rng.next(-kPi + 1e-9, kPi);
      if (g == Group::SL2) {
        v = {s * std::sin(a), theta, s * std::cos(a)};  // |log P| eigenvalues +-s/sqrt2
      } else {
        v = {rng.next(-3, 3), rng.next(-3, 3) * std::sqrt(2.0), rng.next(-3, 3), theta};
      }
      const Mat2 h = from_chart(g, v);
      ASSERT_TRUE(contains(g, h, 1e-6)) << h.str();
      const std::vector<double> w = chart(g, h);
      ASSERT_EQ(w.size(), v.size());
      const Polar p = polar(h);
      const double cond = (p.P.trace() / 2 + std::hypot((p.P.a - p.P.d) / 2, p.P.b)) /
                          (p.P.det() / (p.P.trace() / 2 + std::hypot((p.P.a - p.P.d) / 2, p.P.b)));
      for (size_t i = 0; i < v.size(); ++i) EXPECT_NEAR(w[i], v[i], 1e-15 * cond + 1e-12) << group_name(g) << " " << i;
      EXPECT_LT(rel_diff(from_chart(g, w), h), 1e-12 + 1e-17 * cond);
    }
  }
  // diag(-2, -1/2) is in SL(2) but has no real logarithm: the chart reaches it (a rotation by pi).
  const Mat2 h = {-2, 0, 0, -0.5};
  const std::vector<double> w = chart(Group::SL2, h);
  EXPECT_NEAR(std::fabs(w[1]), kPi, 1e-15);
  EXPECT_LT(rel_diff(from_chart(Group::SL2, w), h), 1e-15);
  // xi^-1(exp(X) R(theta)) = (X, theta)
  const std::vector<double> c = chart(Group::GL2, expm_symmetric({0.3, 0.2, 0.2, -0.1}) * Mat2::rotation(1.0));
  EXPECT_NEAR(c[0], 0.3, 1e-15);
  EXPECT_NEAR(c[1], 0.2 * std::sqrt(2.0), 1e-15);
  EXPECT_NEAR(c[2], -0.1, 1e-15);
  EXPECT_NEAR(c[3], 1.0, 1e-15);
  expect_error([] { from_chart(Group::SL2, {1, 2}); }, {"from_chart(sl2)", "expected 3 coordinates, got 2"});
  expect_error([] { parse_group("se2"); }, {"unknown group 'se2'", "sl2, gl2"});
}

TEST(LieAffine, ProductsInversesAndActions) {
  Affine p{Mat2{1.5, 0.2, -0.3, 0.8}, {1.0, -2.0}}, q{Mat2::rotation(0.7), {0.5, 0.25}};
  const auto x = (p * q).apply(0.3, -0.9);
  const auto qx = q.apply(0.3, -0.9);
  const auto pqx = p.apply(qx[0], qx[1]);
  EXPECT_NEAR(x[0], pqx[0], 1e-15);
  EXPECT_NEAR(x[1], pqx[1], 1e-15);
  const Affine e = p * p.inverse();
  EXPECT_LT(max_abs_diff(e.A, Mat2::identity()), 1e-15);
  EXPECT_LT(std::fabs(e.t[0]) + std::fabs(e.t[1]), 1e-15);
}

// ---- sampling ----

TEST(LieSampling, ElementsInverseDeterminantAndDeterminism) {
  for (Group g : {Group::SO2, Group::SL2, Group::GL2}) {
    SamplerOptions o;
    o.group = g;
    o.n = 8;
    const SampleSet s = draw_samples(o, {123, 0});
    ASSERT_EQ(s.size(), 8);
    EXPECT_TRUE(s == draw_samples(o, {123, 0}));
    EXPECT_FALSE(g != Group::SO2 && s == draw_samples(o, {124, 0}));
    for (int64_t j = 0; j < 8; ++j) {
      EXPECT_TRUE(contains(g, s.g[j], 1e-12)) << s.g[j].str();
      EXPECT_LT(max_abs_diff(s.g[j] * s.g_inv[j], Mat2::identity()), 1e-14);
      // the even grid over [-pi, pi): -pi + 2 pi j / N, no duplicate at +pi
      EXPECT_NEAR(std::remainder(polar(s.g[j]).theta - (-kPi + 2 * kPi * j / 8.0), 2 * kPi), 0, 1e-12);
    }
    if (g == Group::GL2) {
      EXPECT_GT(std::fabs(s.g[0].det() - 1), 1e-3);  // not confined to SL2
    }
  }
  SamplerOptions bad;
  bad.angles = "haar";
  expect_error([&] { draw_samples(bad, {}); }, {"unknown angle sampling 'haar'", "grid, uniform"});
}

TEST(LieSampling, TrainingRedrawsEvalIsFixedBySeed) {
  LieConvOptions c;
  SamplerOptions s;
  s.n = 3;
  LiftConv2d layer(c, s, /*eval_seed=*/5);
  const auto a = layer.draw(), b = layer.draw();
  EXPECT_FALSE(*a == *b);
  layer.eval();
  const auto e1 = layer.draw(), e2 = layer.draw();
  EXPECT_TRUE(*e1 == *e2);
  EXPECT_TRUE(*e1 == draw_samples(s, {5, 0}));
}

// ---- kernels: the formula, entry by entry ----

namespace {

double grid(int64_t i, int64_t k) { return (2.0 * i + 1.0) / k - 1.0; }

SampleSet gl2_samples(uint64_t seed, int64_t n) {
  SamplerOptions o;
  o.group = Group::GL2;
  o.n = n;
  o.spd_std = 0.6;
  return draw_samples(o, {seed, 0});
}

}  // namespace

TEST(LieKernels, LiftAndGroupKernelsFollowTheFormula) {
  manual_seed(3);
  const int64_t k = 3, ci = 2, co = 3;
  for (Group g : {Group::SL2, Group::GL2}) {
    LieConvOptions c;
    c.group = g;
    c.in_channels = ci;
    c.out_channels = co;
    c.kernel_size = k;
    SamplerOptions so;
    so.group = g;
    SampleSet out = g == Group::GL2 ? gl2_samples(1, 3) : draw_samples(SamplerOptions{g, 3, "grid", 0.6}, {1, 0});
    SampleSet in = g == Group::GL2 ? gl2_samples(2, 2) : draw_samples(SamplerOptions{g, 2, "uniform", 0.6}, {2, 0});
    GroupConv2d layer(c, so);
    layer.to(kFloat64);
    const Tensor K = layer.kernel(out, in);
    ASSERT_EQ(K.shape(), Shape({co * 3, ci * 2, k, k}));
    LiftConv2d lift(c, so);
    lift.to(kFloat64);
    const Tensor L = lift.kernel(out);
    ASSERT_EQ(L.shape(), Shape({co * 3, ci, k, k}));
    int64_t zeros = 0;
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t r = 0; r < k; ++r)
        for (int64_t cc = 0; cc < k; ++cc) {
          const auto z = out.g_inv[j].apply(grid(cc, k), grid(r, k));
          const double nz = std::hypot(z[0], z[1]);
          // lift
          const Tensor vl = (*lift.net)(tensor(std::vector<double>{z[0], z[1]}, {1, 2}));
          const double ml = (g == Group::GL2 ? 1 / (1 + std::exp(-2 * (1 - nz))) * std::fabs(out.g_inv[j].det())
                                             : (nz <= 1 ? 1.0 : 0.0));
          for (int64_t o = 0; o < co; ++o)
            for (int64_t c2 = 0; c2 < ci; ++c2)
              EXPECT_NEAR(L[o * 3 + j][c2][r][cc].item<double>(), vl[0][o * ci + c2].item<double>() * ml, 1e-12);
          // group conv
          for (int64_t i = 0; i < 2; ++i) {
            std::vector<double> p = {z[0], z[1]};
            const std::vector<double> rel = chart(g, out.g_inv[j] * in.g[i]);
            p.insert(p.end(), rel.begin(), rel.end());
            double nn = 0;
            for (double v : p) nn += v * v;
            const double m = g == Group::GL2 ? 1 / (1 + std::exp(-2 * (1 - std::sqrt(nn)))) / std::fabs(in.g[i].det())
                                             : (nz <= 1 ? 1.0 : 0.0);
            zeros += m == 0;
            const Tensor v = (*layer.net)(tensor(p, {1, static_cast<int64_t>(p.size())}));
            for (int64_t o = 0; o < co; ++o)
              for (int64_t c2 = 0; c2 < ci; ++c2)
                EXPECT_NEAR(K[o * 3 + j][c2 * 2 + i][r][cc].item<double>(), v[0][o * ci + c2].item<double>() * m,
                            1e-12);
          }
        }
    if (g == Group::SL2) {
      EXPECT_GT(zeros, 0);  // the disk mask cuts some corners
    }
  }
}

TEST(LieKernels, TransportedSamplesGiveTheKernelOnTheRotatedGrid) {
  manual_seed(4);
  LieConvOptions c;
  c.in_channels = 2;
  c.out_channels = 2;
  SamplerOptions so;
  GroupConv2d layer(c, so);
  layer.to(kFloat64);
  const SampleSet out = draw_samples(so, {1, 0}), in = draw_samples(so, {2, 0});
  const Tensor K = layer.kernel(out, in);
  const Tensor Ku = layer.kernel(out.transported(kR90), in.transported(kR90));
  // Equal up to the round-off of the relative elements' chart (atan2 and log of the same products).
  EXPECT_LT(max_abs(Ku - rot90(K)), 1e-14 * max_abs(K));
  EXPECT_FALSE(equal(Ku, K));
}

// ---- equivariance ----

namespace {

models::LieNetOptions small_net(const std::string& group) {
  models::LieNetOptions o;
  o.group = group;
  o.samples = 3;
  o.channels = 4;
  o.hidden = 16;
  o.num_classes = 5;
  o.input_shape = {1, 20, 20};  // 20 -> 16 -> 8 -> 4: every pooled size even
  return o;
}

}  // namespace

TEST(LieEquivariance, C4RotationWithTransportedSamplesIsExact) {
  for (const char* group : {"sl2", "gl2"}) {
    for (DType dt : {kFloat32, kFloat64}) {
      manual_seed(8);
      models::LieNet net(small_net(group));
      net.to(dt);
      net.eval();
      const Tensor x = rand({2, 1, 20, 20}, dt);
      const Tensor y = net(x);
      const Tensor y_rot = net(rot90(x));
      net.set_transport(kR90);
      const Tensor y_eq = net(rot90(x));
      net.set_transport(Mat2::identity());
      const double tol = dt == kFloat32 ? 2e-5 : 1e-12;
      EXPECT_LT(max_abs(y_eq - y), tol * max_abs(y)) << group << " " << dt;
      // Without moving the samples along, the logits change: the check above is not vacuous.
      EXPECT_GT(max_abs(y_rot - y), 1e-3 * max_abs(y)) << group << " " << dt;
      EXPECT_TRUE(equal(net(x), y));  // eval mode is deterministic
    }
  }
}

TEST(LieEquivariance, AffineMapWithTransportedSamplesAgreesWithinInterpolationError) {
  // The lift of L_u f on samples u g against L_u applied to the lift of f on samples g, on the central disk of
  // radius H/4, for u = rotation(0.5) * shear(0.2) (det 1). f is smooth (Gaussian blobs) and the error comes from
  // sampling the kernel and the image on pixel grids: it falls as the kernel grid (k) and the image resolution grow
  // together (the kernel covers the same part of the image).
  const Mat2 u = Mat2::rotation(0.5) * Mat2{1, 0.2, 0, 1};
  const Mat2 ui = u.inverse();
  const Tensor theta = tensor(std::vector<double>{ui.a, ui.b, 0, ui.c, ui.d, 0}, {1, 2, 3});
  auto warp = [&](const Tensor& t) {
    return grid_sample(t, affine_grid(theta, t.shape(), false), "bilinear", "zeros", false);
  };
  for (Group g : {Group::SL2, Group::GL2}) {
    std::vector<double> errors, group_errors;
    for (int64_t k : {5, 9, 17}) {
      const int64_t H = 10 * k;
      const double scale = static_cast<double>(k) / 5;
      std::vector<double> img(H * H, 0.0);
      Rng rng{3};
      for (int b = 0; b < 6; ++b) {
        const double cx = H / 2.0 + rng.next(-10, 10) * scale, cy = H / 2.0 + rng.next(-10, 10) * scale;
        const double s = rng.next(3, 5) * scale, w = rng.next(-1, 1);
        for (int64_t r = 0; r < H; ++r)
          for (int64_t c = 0; c < H; ++c)
            img[r * H + c] += w * std::exp(-((c - cx) * (c - cx) + (r - cy) * (r - cy)) / (2 * s * s));
      }
      const Tensor f = tensor(img, {1, 1, H, H});
      manual_seed(5);
      LieConvOptions c;
      c.group = g;
      c.out_channels = 3;
      c.kernel_size = k;
      SamplerOptions so;
      so.group = g;
      so.n = 4;
      LiftConv2d lift(c, so);
      // A group convolution after the lift: its kernels read g_j^-1 x_p and xi^-1(g_j^-1 h_i); moving both sample
      // sets by u leaves the second unchanged and reads the first on the warped grid.
      LieConvOptions gc = c;
      gc.in_channels = 3;
      gc.out_channels = 2;
      GroupConv2d conv(gc, so);
      lift.to(kFloat64);
      conv.to(kFloat64);
      lift.eval();
      conv.eval();
      const auto s = lift.draw();
      const auto s2 = conv.draw();
      const auto us = std::make_shared<const SampleSet>(s->transported(u));
      const auto us2 = std::make_shared<const SampleSet>(s2->transported(u));
      const GroupTensor lifted_warped = lift.lift(warp(f), us), lifted = lift.lift(f, s);
      auto central_error = [&](const Tensor& a, const Tensor& b) {
        const int64_t h = a.size(2);
        std::vector<double> disk(h * h);
        for (int64_t r = 0; r < h; ++r)
          for (int64_t cc = 0; cc < h; ++cc)
            disk[r * h + cc] = std::hypot(r - (h - 1) / 2.0, cc - (h - 1) / 2.0) <= h / 4.0 ? 1.0 : 0.0;
        const Tensor m = tensor(disk, {1, 1, h, h});
        return max_abs((a - b) * m) / max_abs(b * m);
      };
      errors.push_back(central_error(lifted_warped.data, warp(lifted.data)));
      group_errors.push_back(central_error(conv.apply(lifted_warped, us2).data, warp(conv.apply(lifted, s2).data)));
      std::printf(
          "[ lie ] %s, k=%lld on %lldx%lld, affine u: relative error on the central disk: lift %.4f, "
          "lift + group conv %.4f\n",
          group_name(g), static_cast<long long>(k), static_cast<long long>(H), static_cast<long long>(H), errors.back(),
          group_errors.back());
    }
    EXPECT_LT(errors[2], errors[0]) << group_name(g);
    EXPECT_LT(errors[2], 0.15) << group_name(g);  // measured 0.098 (sl2), 0.116 (gl2)
    EXPECT_LT(group_errors[2], group_errors[0]) << group_name(g);
    EXPECT_LT(group_errors[2], 0.25) << group_name(g);  // measured 0.162 (sl2), 0.103 (gl2)
  }
}

// ---- gradients ----

TEST(LieGradients, LiftAndGroupConvGradcheckFloat64) {
  for (Group g : {Group::SL2, Group::GL2}) {
    manual_seed(6);
    LieConvOptions c;
    c.group = g;
    c.in_channels = 2;
    c.out_channels = 2;
    c.kernel_size = 3;
    c.padding = 1;
    c.width = 6;
    c.hidden_layers = 1;
    SamplerOptions so;
    so.group = g;
    so.n = 2;
    LiftConv2d lift(c, so);
    GroupConv2d conv(c, so);
    lift.to(kFloat64);
    conv.to(kFloat64);
    const auto s = std::make_shared<const SampleSet>(draw_samples(so, {9, 0}));
    const auto s2 = std::make_shared<const SampleSet>(draw_samples(so, {10, 0}));
    const Tensor x = randn({1, 2, 4, 4}, kFloat64).requires_grad_();
    const Tensor w0 = lift.net->weights[0].detach().clone().requires_grad_();
    const Tensor w2 = lift.net->weights[2].detach().clone().requires_grad_();
    EXPECT_TRUE(tangent::testing::gradcheck(
        [&](const std::vector<Tensor>& v) {
          lift.net->weights[0] = v[1];
          lift.net->weights[2] = v[2];
          return lift.lift(v[0], s).data;
        },
        {x, w0, w2}, 1e-6, 1e-5, 1e-3, "lift"));
    EXPECT_TRUE(tangent::testing::gradgradcheck(
        [&](const std::vector<Tensor>& v) {
          lift.net->weights[0] = v[1];
          return lift.lift(v[0], s).data;
        },
        {x, w0}, 1e-6, 1e-4, 1e-3, "lift (2nd order)"));
    const Tensor gx = randn({1, 4, 4, 4}, kFloat64).requires_grad_();
    const Tensor cw1 = conv.net->weights[1].detach().clone().requires_grad_();
    EXPECT_TRUE(tangent::testing::gradcheck(
        [&](const std::vector<Tensor>& v) {
          conv.net->weights[1] = v[1];
          return conv.apply(GroupTensor(v[0], s), s2).data;
        },
        {gx, cw1}, 1e-6, 1e-5, 1e-3, "group conv"));
    EXPECT_TRUE(tangent::testing::gradgradcheck(
        [&](const std::vector<Tensor>& v) { return conv.apply(GroupTensor(v[0], s), s2).data; }, {gx}, 1e-6, 1e-4, 1e-3,
        "group conv (2nd order)"));
    EXPECT_TRUE(tangent::testing::gradcheck(
        [&](const std::vector<Tensor>& v) {
          const GroupTensor t(v[0], s);
          return global_max(max_pool2d(gelu(layer_norm(t)), 2));
        },
        {gx}, 1e-6, 1e-5, 1e-3, "ln/gelu/pool/max"));
  }
}

TEST(LieLayers, BadInputsAreClearErrors) {
  LieConvOptions c;
  c.in_channels = 2;
  SamplerOptions so;
  LiftConv2d lift(c, so);
  expect_error([&] { lift.lift(zeros({1, 3, 8, 8})); }, {"LiftConv2d", "expected input [B, 2, H, W]", "[1, 3, 8, 8]"});
  expect_error([&] { lift.lift(zeros({1, 2, 3, 3})); }, {"LiftConv2d", "plane 3x3", "5x5 kernel"});
  GroupConv2d conv(c, so);
  const auto s = std::make_shared<const SampleSet>(draw_samples(so, {1, 0}));
  const auto t = std::make_shared<const SampleSet>(draw_samples(so, {2, 0}));
  expect_error(
      [&] {
        conv.apply(GroupTensor(zeros({1, 12, 8, 8}), s));
      },
      {"GroupConv2d", "expected 2 input channels, got 3"});
  expect_error([&] { GroupTensor(zeros({1, 7, 8, 8}), s); }, {"GroupTensor", "N = 4", "[1, 7, 8, 8]"});
  expect_error(
      [&] {
        add(GroupTensor(zeros({1, 8, 2, 2}), s), GroupTensor(zeros({1, 8, 2, 2}), t));
      },
      {"lie::add", "different sample sets"});
  SamplerOptions gl;
  gl.group = Group::GL2;
  expect_error([&] { LiftConv2d(c, gl); }, {"LiftConv2d", "sampler's group gl2", "layer's sl2"});
}

// ---- the model ----

TEST(LieModel, ParameterCountsMatchThePaper) {
  for (const char* group : {"sl2", "gl2"}) {
    models::LieNetOptions o;
    o.group = group;
    o.samples = 10;
    o.channels = 40;
    EXPECT_EQ(o.parameter_count(), std::string(group) == "sl2" ? 339102 : 339282);
    models::LieNet net(o);
    EXPECT_EQ(net.num_parameters(), o.parameter_count());
  }
  models::LieNetOptions small = small_net("sl2");
  EXPECT_EQ(models::LieNet(small).num_parameters(), small.parameter_count());
  small.input_shape = {1, 12, 12};
  expect_error([&] { models::LieNet net(small); }, {"LieNet", "too small for kernel_size 5"});
}

TEST(LieModel, TrainStepCheckpointRoundTripNtkAndExportError) {
  manual_seed(12);
  auto net = std::make_shared<models::LieNet>(small_net("gl2"));
  const Tensor x = rand({6, 1, 20, 20});
  const Tensor y = tensor(std::vector<int64_t>{0, 1, 2, 3, 4, 0}, {6});
  optim::AdamOptions ao;
  ao.lr = 3e-3;
  optim::Adam opt(net->parameters(), ao);
  auto eval_loss = [&] {
    NoGradGuard no_grad;
    net->eval();
    const double l = cross_entropy(net->forward(x), y).item<double>();
    net->train();
    return l;
  };
  const double first = eval_loss();
  for (int step = 0; step < 25; ++step) {
    opt.zero_grad();
    cross_entropy(net->forward(x), y).backward();
    opt.step();
  }
  const double last = eval_loss();
  std::printf("[ lie ] eval loss %.4f -> %.4f after 25 Adam steps\n", first, last);
  EXPECT_LT(last, 0.9 * first) << first << " -> " << last;  // measured 1.79 -> 1.56
  net->eval();
  const Tensor out = net->forward(x);

  nn::Checkpoint c;
  c.model_kind = net->kind();
  c.model_config = net->config();
  c.model_state = net->state_dict();
  const std::string path = ::testing::TempDir() + "/lie.tgt";
  nn::save_checkpoint(path, c);
  const nn::Checkpoint back = nn::load_checkpoint(path);
  auto rebuilt = models::create_model(back.model_kind, back.model_config);
  rebuilt->load_state_dict(back.model_state);
  rebuilt->eval();
  EXPECT_EQ(back.model_config.get_string("group"), "gl2");
  EXPECT_TRUE(equal(rebuilt->forward(x), out));

  // NTK: auto (structured for the head, jacobian for the kernel nets) equals the jacobian method.
  net->to(kFloat64);
  const Tensor x64 = x.narrow(0, 0, 2).to(kFloat64);
  ntk::NtkOptions o;
  o.method = ntk::Method::Jacobian;
  const Tensor kj = ntk::empirical_ntk(*net, x64, Tensor(), o).kernel;
  o.method = ntk::Method::Auto;
  const ntk::NtkResult ra = ntk::empirical_ntk(*net, x64, Tensor(), o);
  EXPECT_FALSE(ra.fallback.empty());
  EXPECT_LT(max_abs(ra.kernel - kj), 1e-7 * max_abs(kj));  // measured 3e-9
  EXPECT_GT(max_abs(kj), 0);

  expect_error([&] { nn::export_onnx(*net); }, {"'lie' model kind has no ONNX exporter"});
}
