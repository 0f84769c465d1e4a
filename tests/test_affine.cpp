// Affine suite (nn/data/affine.h, affine_benchmark.h, augment.h): the warp's conventions, the drawing of
// transforms (keyed by seed, image, version; ranges; the transformed image stays on the canvas), the test set's
// stored parameters reproducing its images, the benchmark directory, and augmentation's determinism.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <tangent/tangent.h>

#include "nn/data/data.h"
#include "support/errors.h"

using namespace tangent;
using namespace tangent::data;
using tangent::testing::expect_error;

namespace {

// Garment-like test images, int64 [n, h, w]: a filled blob of random size and place (some fill the frame, the
// hardest case for the scale cap), values 1..255 inside, 0 outside.
Tensor blob_images(int64_t n, int64_t h, int64_t w, uint64_t seed) {
  Tensor out = zeros({n, h, w}, kInt64);
  int64_t* d = out.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const auto r = philox4x32(static_cast<uint64_t>(i), 0, seed);
    const bool full = i % 4 == 0;
    const int64_t bw = full ? w : 1 + r[0] % w, bh = full ? h : 1 + r[1] % h;
    const int64_t x0 = full ? 0 : r[2] % (w - bw + 1), y0 = full ? 0 : r[3] % (h - bh + 1);
    for (int64_t y = y0; y < y0 + bh; ++y)
      for (int64_t x = x0; x < x0 + bw; ++x) d[(i * h + y) * w + x] = 1 + (x * 37 + y * 11 + i) % 255;
  }
  return out;
}

std::vector<float> as_floats(const Tensor& image) {
  const Tensor c = image.to(kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

// Labels 0, 1, ..., k-1, 0, 1, ... (int64 [n]).
Tensor cyclic_labels(int64_t n, int64_t k) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = i % k;
  return tensor(v, {n});
}

bool same_params(const AffineParams& a, const AffineParams& b) {
  return a.rotation_degrees == b.rotation_degrees && a.shear == b.shear && a.scale_x == b.scale_x &&
         a.scale_y == b.scale_y && a.tx == b.tx && a.ty == b.ty;
}

}  // namespace

TEST(Affine, WarpConventions) {
  const int64_t h = 8, w = 10;
  std::vector<float> in(h * w), out(h * w);
  for (int64_t i = 0; i < h * w; ++i) in[i] = static_cast<float>(i + 1);
  const ImageView view{in.data(), h, w};
  // The identity reproduces the image exactly.
  warp_affine(view, AffineParams{}, out.data());
  EXPECT_EQ(out, in);
  // An integer translation shifts it: out(x, y) = in(x - 2, y + 1), zeros where that falls outside.
  AffineParams shift;
  shift.tx = 2, shift.ty = -1;
  warp_affine(view, shift, out.data());
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const int64_t sx = x - 2, sy = y + 1;
      const float want = sx >= 0 && sx < w && sy >= 0 && sy < h ? in[sy * w + sx] : 0.0f;
      EXPECT_EQ(out[y * w + x], want) << x << "," << y;
    }
  // A quarter turn about the centre c: the point c + (dx, dy) goes to c + (-dy, dx) (R = [[cos, -sin], [sin, cos]]
  // in (column, row) coordinates). On a square canvas it maps pixels onto pixels.
  const int64_t n = 6;
  std::vector<float> sq(n * n), rot(n * n);
  for (int64_t i = 0; i < n * n; ++i) sq[i] = static_cast<float>(i + 1);
  AffineParams quarter;
  quarter.rotation_degrees = 90;
  warp_affine({sq.data(), n, n}, quarter, rot.data());
  const double c = (n - 1) / 2.0;
  for (int64_t y = 0; y < n; ++y)
    for (int64_t x = 0; x < n; ++x) {
      const auto px = static_cast<int64_t>(std::lround(c - (y - c))),
                 py = static_cast<int64_t>(std::lround(c + (x - c)));
      EXPECT_NEAR(rot[py * n + px], sq[y * n + x], 1e-4) << x << "," << y;
    }
  // A half-pixel translation averages neighbours.
  AffineParams half;
  half.tx = 0.5;
  warp_affine(view, half, out.data());
  EXPECT_FLOAT_EQ(out[3 * w + 4], 0.5f * (in[3 * w + 3] + in[3 * w + 4]));
  EXPECT_FLOAT_EQ(out[3 * w + 0], 0.5f * in[3 * w + 0]);  // zero fill outside
  // A translation far beyond the canvas (or not a number) samples nothing.
  for (double t : {1e300, -1e300, static_cast<double>(NAN)}) {
    AffineParams far;
    far.tx = t;
    warp_affine(view, far, out.data());
    EXPECT_EQ(out, std::vector<float>(h * w, 0.0f)) << t;
  }
  AffineParams flat;
  flat.scale_y = 0;
  expect_error([&] { warp_affine(view, flat, out.data()); }, {"warp_affine", "singular"});
}

TEST(Affine, DrawIsKeyedBySeedImageAndVersion) {
  const Tensor images = blob_images(4, 40, 40, 7);
  const std::vector<float> img = as_floats(images[1]);
  const ImageView view{img.data(), 40, 40};
  const AffineRanges ranges;
  const AffineParams p = draw_affine(view, ranges, 5, 1, 0);
  EXPECT_TRUE(same_params(p, draw_affine(view, ranges, 5, 1, 0)));   // same key and counter: same transform
  EXPECT_FALSE(same_params(p, draw_affine(view, ranges, 5, 1, 1)));  // another version
  EXPECT_FALSE(same_params(p, draw_affine(view, ranges, 5, 2, 0)));  // another image index
  EXPECT_FALSE(same_params(p, draw_affine(view, ranges, 6, 1, 0)));  // another seed
  EXPECT_NE(p.rotation_degrees, draw_affine(view, ranges, 5, 1, 1).rotation_degrees);
  // The test set: the same seed gives the same bytes, another seed other images.
  const Tensor centred = pad_images(blob_images(6, 28, 28, 3), 6);
  const auto a = affine_test_set(centred, 3, 11), b = affine_test_set(centred, 3, 11),
             c = affine_test_set(centred, 3, 12);
  EXPECT_TRUE(equal(a.first, b.first));
  EXPECT_TRUE(equal(a.second, b.second));
  EXPECT_FALSE(equal(a.first, c.first));
  // Row i * versions + k is (image i, version k): its parameters are draw_affine's for counter (i, k).
  const std::vector<float> img4 = as_floats(centred[4]);
  const AffineParams p42 = draw_affine({img4.data(), 40, 40}, ranges, 11, 4, 2);
  EXPECT_TRUE(same_params(p42, params_from_row(a.second.contiguous().data_ptr<double>() + (4 * 3 + 2) * 6)));
}

TEST(Affine, RangesHoldAndTheImageStaysOnTheCanvas) {
  const int64_t n = 64, versions = 4, pad = 40;
  const Tensor centred = pad_images(blob_images(n, 28, 28, 9), 6);  // 40x40
  const auto set = affine_test_set(centred, versions, 21);
  const Tensor params = set.second.contiguous();
  const double* pr = params.data_ptr<double>();
  int64_t capped = 0, moved = 0;
  for (int64_t row = 0; row < n * versions; ++row) {
    const AffineParams p = params_from_row(pr + row * 6);
    EXPECT_LE(std::abs(p.rotation_degrees), 20.0);
    EXPECT_LE(std::abs(p.shear), 0.2);
    EXPECT_LE(p.scale_x, 1.2);
    EXPECT_LE(p.scale_y, 1.2);
    // The cap multiplies both scales by one factor, so their ratio stays within the drawn range's.
    EXPECT_GE(p.scale_x / p.scale_y, 0.8 / 1.2 - 1e-12);
    EXPECT_LE(p.scale_x / p.scale_y, 1.2 / 0.8 + 1e-12);
    // The transformed support box (the non-zero pixels grown by one, which bilinear sampling can light up) lies
    // within [-1, 40] once translated; a box as wide or tall as that was capped.
    const std::vector<float> src = as_floats(centred[row / versions]);
    double box[4];
    ASSERT_TRUE(transformed_support({src.data(), 40, 40}, p, box));
    EXPECT_GE(box[0] + p.tx, -1.0);
    EXPECT_LE(box[1] + p.tx, 40.0);
    EXPECT_GE(box[2] + p.ty, -1.0);
    EXPECT_LE(box[3] + p.ty, 40.0);
    if (box[1] - box[0] > 41 - 1e-3 || box[3] - box[2] > 41 - 1e-3) ++capped;
    if (std::abs(p.tx) > 1 || std::abs(p.ty) > 1) ++moved;
    // On a canvas 40 px wider on every side, with the same transform about the same centre, every non-zero pixel
    // lands inside the middle 40x40 window, and the window is the 40x40 result.
    const std::vector<float>& small = src;
    const std::vector<float> big = as_floats(pad_images(centred.narrow(0, row / versions, 1), pad)[0]);
    const int64_t bw = 40 + 2 * pad;
    std::vector<float> out_small(40 * 40), out_big(bw * bw);
    warp_affine({small.data(), 40, 40}, p, out_small.data());
    warp_affine({big.data(), bw, bw}, p, out_big.data());
    double outside = 0, inside_diff = 0;
    for (int64_t y = 0; y < bw; ++y)
      for (int64_t x = 0; x < bw; ++x) {
        const float v = out_big[y * bw + x];
        if (x < pad || y < pad || x >= pad + 40 || y >= pad + 40)
          outside = std::max(outside, static_cast<double>(v));
        else
          inside_diff = std::max(inside_diff, std::abs(static_cast<double>(v) - out_small[(y - pad) * 40 + x - pad]));
      }
    EXPECT_EQ(outside, 0.0) << "row " << row << ": part of the image fell off the canvas";
    EXPECT_LT(inside_diff, 1e-3) << "row " << row;
  }
  // Full-frame blobs at scale 1.2 and 20 degrees do not fit: some draws are capped, most are not.
  EXPECT_GT(capped, 0);
  EXPECT_LT(capped, n * versions / 2);
  EXPECT_GT(moved, n * versions / 2);
}

TEST(Affine, StoredParamsReproduceTheImages) {
  const int64_t n = 12, versions = 3;
  const Tensor centred = pad_images(blob_images(n, 28, 28, 4), 6);
  const auto set = affine_test_set(centred, versions, 8);
  ASSERT_EQ(set.first.shape(), (Shape{n * versions, 40, 40}));
  ASSERT_EQ(set.second.shape(), (Shape{n * versions, 6}));
  const Tensor params = set.second.contiguous(), images = set.first.contiguous();
  for (int64_t row = 0; row < n * versions; ++row) {
    const std::vector<float> src = as_floats(centred[row / versions]);
    std::vector<float> out(40 * 40);
    warp_affine({src.data(), 40, 40}, params_from_row(params.data_ptr<double>() + row * 6), out.data());
    const int64_t* got = images.data_ptr<int64_t>() + row * 1600;
    int64_t mismatches = 0;
    for (int64_t j = 0; j < 1600; ++j) mismatches += got[j] != std::clamp<int64_t>(std::llround(out[j]), 0, 255);
    EXPECT_EQ(mismatches, 0) << "row " << row;
    // Bilinear warping keeps the total intensity times the area factor (det A = sx sy), up to resampling error,
    // while nothing is cut.
    double before = 0, after = 0;
    for (int64_t j = 0; j < 1600; ++j) before += src[j], after += out[j];
    const AffineParams p = params_from_row(params.data_ptr<double>() + row * 6);
    EXPECT_NEAR(after, before * p.scale_x * p.scale_y, 2e-2 * before) << "row " << row;
  }
}

TEST(Affine, PadImagesCentres) {
  const Tensor images = blob_images(3, 5, 4, 1);
  const Tensor padded = pad_images(images, 2);
  ASSERT_EQ(padded.shape(), (Shape{3, 9, 8}));
  EXPECT_TRUE(equal(padded.narrow(1, 2, 5).narrow(2, 2, 4), images));
  EXPECT_EQ(sum(padded).item<int64_t>(), sum(images).item<int64_t>());
  expect_error([&] { pad_images(images.to(kFloat32), 2); }, {"pad_images", "int64"});
  expect_error([&] { pad_images(images, -1); }, {"pad_images", "padding"});
  expect_error([&] { affine_test_set(images, 0, 1); }, {"affine_test_set", "versions"});
}

class AffineBenchmark : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("tangent_affine_" + std::to_string(::getpid()) + "_" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    train_ = blob_images(10, 12, 12, 1), test_ = blob_images(5, 12, 12, 2);
    write_idx(path("tr-img"), train_);
    write_idx(path("tr-lab"), cyclic_labels(10, 3));
    write_idx(path("te-img"), test_);
    write_idx(path("te-lab"), cyclic_labels(5, 3));
    source_ = {path("tr-img"), path("tr-lab"), path("te-img"), path("te-lab")};
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
  Tensor train_, test_;
  AffineBenchmarkSource source_;
};

TEST_F(AffineBenchmark, WritesAndReadsTheDirectory) {
  AffineBenchmarkOptions o;
  o.versions = 2, o.seed = 3, o.padding = 6;
  const AffineBenchmarkSummary s = write_affine_benchmark(path("out"), source_, o);
  EXPECT_EQ(s.train, 10);
  EXPECT_EQ(s.test, 5);
  EXPECT_EQ(s.test_affine, 10);
  EXPECT_EQ(s.height, 24);
  const TensorDataset train = load_affine_benchmark(path("out"), "train");
  ASSERT_EQ(train.data().shape(), (Shape{10, 1, 24, 24}));
  // Centred: the originals (scaled to [0, 1]) in the middle, zeros around.
  EXPECT_TRUE(allclose(train.data().squeeze(1), div(pad_images(train_, 6).to(kFloat32), 255.0)));
  EXPECT_TRUE(equal(train.targets(), cyclic_labels(10, 3)));
  const TensorDataset affine = load_affine_benchmark(path("out"), "test-affine");
  ASSERT_EQ(affine.data().shape(), (Shape{10, 1, 24, 24}));
  EXPECT_TRUE(equal(affine.targets(), tensor(std::vector<int64_t>{0, 0, 1, 1, 2, 2, 0, 0, 1, 1})));
  const auto want = affine_test_set(pad_images(test_, 6), 2, 3);
  EXPECT_TRUE(allclose(affine.data().squeeze(1), div(want.first.to(kFloat32), 255.0)));
  EXPECT_TRUE(equal(read_npy(path("out/test-affine-params.npy")), want.second));
  EXPECT_EQ(load_affine_benchmark(path("out"), "test", 3).size(), 3);
  // load_dataset reads a directory as the benchmark's centred splits.
  EXPECT_EQ(load_dataset(path("out"), true).size(), 10);
  EXPECT_EQ(load_dataset(path("out"), false).size(), 5);
  for (const auto& e : std::filesystem::directory_iterator(path("out")))  // no temporary files left
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
}

TEST_F(AffineBenchmark, BadSourcesAreErrors) {
  AffineBenchmarkOptions o;
  AffineBenchmarkSource s = source_;
  s.test_labels = path("tr-lab");  // 10 labels for 5 images
  expect_error([&] { write_affine_benchmark(path("out"), s, o); }, {"5 images", "10 labels", "tr-lab"});
  s = source_;
  s.train_images = path("missing");
  expect_error([&] { write_affine_benchmark(path("out"), s, o); }, {"missing"});
  s = source_;
  s.train_images = path("tr-lab");  // a label file is not an image file
  expect_error([&] { write_affine_benchmark(path("out"), s, o); }, {"tr-lab"});
  write_idx(path("te-img-8"), blob_images(5, 8, 8, 2));
  s = source_;
  s.test_images = path("te-img-8");
  expect_error([&] { write_affine_benchmark(path("out"), s, o); }, {"12x12", "8x8"});
  EXPECT_FALSE(std::filesystem::exists(path("out")));  // nothing written
  std::filesystem::create_directories(path("empty"));
  expect_error([&] { load_affine_benchmark(path("empty"), "train"); }, {"empty", "train-images-idx3-ubyte"});
  expect_error([&] { load_affine_benchmark(path("empty"), "valid"); }, {"valid"});
}

TEST(Augment, DeterministicPerEpochAndIndex) {
  const Tensor images = div(pad_images(blob_images(16, 10, 10, 5), 4).to(kFloat32), 255.0).unsqueeze(1);
  auto base = std::make_shared<TensorDataset>(images, cyclic_labels(16, 2));
  AffineAugmented a(base, 42), b(base, 42), other_seed(base, 43);
  const Tensor idx = tensor(std::vector<int64_t>{3, 7, 0, 15});
  const Example e0 = a.get_batch(idx);
  EXPECT_TRUE(equal(e0.target, base->get_batch(idx).target));
  EXPECT_TRUE(equal(e0.data, b.get_batch(idx).data));  // same seed and epoch: the same images
  EXPECT_FALSE(equal(e0.data, other_seed.get_batch(idx).data));
  EXPECT_FALSE(equal(e0.data, base->get_batch(idx).data));  // it does transform them
  // An example's transform depends on its index, not on its batch or position in it.
  EXPECT_TRUE(equal(a.get(7).data, e0.data[1]));
  EXPECT_TRUE(equal(a.get_batch(tensor(std::vector<int64_t>{7})).data[0], e0.data[1]));
  // And it is params(index) applied to the base image.
  const std::vector<float> src = as_floats(images[7][0]);
  std::vector<float> out(18 * 18);
  warp_affine({src.data(), 18, 18}, a.params(7), out.data());
  EXPECT_TRUE(equal(e0.data[1][0], tensor(out, {18, 18})));
  // Another epoch draws other transforms; going back gives the first ones again.
  a.set_epoch(1);
  EXPECT_FALSE(equal(a.get_batch(idx).data, e0.data));
  a.set_epoch(0);
  EXPECT_TRUE(equal(a.get_batch(idx).data, e0.data));
  expect_error(
      [&] {
        AffineAugmented(std::make_shared<TensorDataset>(zeros({4, 8}), zeros({4}, kInt64)), 1);
      },
      {"--augment affine", "[N, C, H, W]", "[4, 8]"});
}
