// The affine benchmark directory: writing it from IDX sources and reading its splits.
#include "nn/data/affine_benchmark.h"

#include <cmath>
#include <filesystem>

#include "nn/data/fashion_mnist.h"
#include "nn/data/idx.h"
#include "nn/data/npy.h"
#include "ops/elementwise.h"
#include "ops/factory.h"

namespace tangent::data {

namespace {

std::string with_gz(const std::string& base) { return std::filesystem::exists(base + ".gz") ? base + ".gz" : base; }

// IDX uint8 images [N, H, W] as int64 values 0..255.
Tensor read_uint8_images(const std::string& path) {
  const Tensor x = read_idx_images(path);  // float32 [N, 1, H, W], checked to be uint8 images
  return round(mul(x, 255.0)).to(kInt64).squeeze(1);
}

}  // namespace

AffineBenchmarkSource fashion_mnist_source(const std::string& root) {
  return {with_gz(root + "/train-images-idx3-ubyte"), with_gz(root + "/train-labels-idx1-ubyte"),
          with_gz(root + "/t10k-images-idx3-ubyte"), with_gz(root + "/t10k-labels-idx1-ubyte")};
}

AffineBenchmarkSummary write_affine_benchmark(const std::string& dir, const AffineBenchmarkSource& source,
                                              const AffineBenchmarkOptions& options) {
  TANGENT_CHECK(options.versions >= 1, "affine benchmark: versions must be >= 1, got ", options.versions);
  TANGENT_CHECK(options.padding >= 0, "affine benchmark: padding must be >= 0, got ", options.padding);
  const AffineRanges& r = options.ranges;
  TANGENT_CHECK(r.rotation_degrees >= 0 && r.shear >= 0 && r.scale_min > 0 && r.scale_min <= r.scale_max,
                "affine benchmark: bad ranges (rotation ", r.rotation_degrees, ", shear ", r.shear, ", scale ",
                r.scale_min, " to ", r.scale_max, ")");
  struct Split {
    Tensor images, labels;
  };
  auto read_split = [&](const std::string& images, const std::string& labels) {
    Split s{read_uint8_images(images), read_idx_labels(labels)};
    TANGENT_CHECK(s.images.size(0) == s.labels.size(0), "affine benchmark: '", images, "' holds ", s.images.size(0),
                  " images but '", labels, "' holds ", s.labels.size(0), " labels");
    s.images = pad_images(s.images, options.padding);
    return s;
  };
  const Split train = read_split(source.train_images, source.train_labels);
  const Split test = read_split(source.test_images, source.test_labels);
  const int64_t pad = 2 * options.padding;
  TANGENT_CHECK(train.images.size(1) == test.images.size(1) && train.images.size(2) == test.images.size(2),
                "affine benchmark: the training images ('", source.train_images, "') are ", train.images.size(1) - pad,
                "x", train.images.size(2) - pad, " but the test images ('", source.test_images, "') are ",
                test.images.size(1) - pad, "x", test.images.size(2) - pad);
  const auto [affine_images, params] = affine_test_set(test.images, options.versions, options.seed, options.ranges);
  const Tensor affine_labels =
      test.labels.unsqueeze(1).expand({test.labels.size(0), options.versions}).contiguous().reshape({-1});
  std::filesystem::create_directories(dir);
  write_idx(dir + "/train-images-idx3-ubyte", train.images);
  write_idx(dir + "/train-labels-idx1-ubyte", train.labels);
  write_idx(dir + "/test-images-idx3-ubyte", test.images);
  write_idx(dir + "/test-labels-idx1-ubyte", test.labels);
  write_idx(dir + "/test-affine-images-idx3-ubyte", affine_images);
  write_idx(dir + "/test-affine-labels-idx1-ubyte", affine_labels);
  write_npy(dir + "/test-affine-params.npy", params);
  return {train.images.size(0), test.images.size(0), affine_images.size(0), train.images.size(1), train.images.size(2)};
}

bool is_data_directory(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec);
}

TensorDataset load_affine_benchmark(const std::string& dir, const std::string& split, int64_t limit) {
  TANGENT_CHECK(split == "train" || split == "test" || split == "test-affine", "load_affine_benchmark: unknown split '",
                split, "' (expected train, test or test-affine)");
  const std::string images = with_gz(dir + "/" + split + "-images-idx3-ubyte");
  TANGENT_CHECK(std::filesystem::exists(images), "'", dir, "' is not a data directory written by `tangent data ",
                "affine-fashion-mnist`: it has no ", split, "-images-idx3-ubyte");
  const std::string labels = with_gz(dir + "/" + split + "-labels-idx1-ubyte");
  TensorDataset ds(read_idx_images(images, limit), read_idx_labels(labels, limit));
  TANGENT_CHECK(ds.data().size(0) == ds.targets().size(0), "'", images, "' holds ", ds.data().size(0), " images but '",
                labels, "' holds ", ds.targets().size(0), " labels");
  return ds;
}

}  // namespace tangent::data
