#pragma once
// The affine benchmark directory (after affNIST), written by `tangent data affine-fashion-mnist` and read by
// `tangent train|eval --data DIR`. From MNIST-style IDX sources (uint8 images [N, H, W], labels [N]):
//   train-images-idx3-ubyte, train-labels-idx1-ubyte    the training images centred on a canvas `padding` pixels
//                                                       wider on every side (28x28 -> 40x40 with the default 6)
//   test-images-idx3-ubyte,  test-labels-idx1-ubyte     the test images centred the same way
//   test-affine-images-idx3-ubyte, test-affine-labels-idx1-ubyte
//                                                       `versions` random affine transforms of each centred test
//                                                       image (affine.h), image-major: row i * versions + k is
//                                                       version k of test image i, keyed by (seed, i, k)
//   test-affine-params.npy                              float64 [N * versions, 6]: rotation (degrees), shear,
//                                                       scale x, scale y, translation x, translation y per row
// Every file is written atomically (file_io.h); the IDX files are uncompressed.
#include <cstdint>
#include <string>

#include "nn/data/affine.h"
#include "nn/data/dataset.h"

namespace tangent::data {

struct AffineBenchmarkSource {
  std::string train_images, train_labels, test_images, test_labels;
};

struct AffineBenchmarkOptions {
  int64_t versions = 4;
  uint64_t seed = 0;
  int64_t padding = 6;
  AffineRanges ranges;
};

// The Fashion-MNIST files under `root` ({train,t10k}-{images-idx3,labels-idx1}-ubyte, .gz when present).
AffineBenchmarkSource fashion_mnist_source(const std::string& root);

struct AffineBenchmarkSummary {
  int64_t train = 0, test = 0, test_affine = 0;  // examples written
  int64_t height = 0, width = 0;                 // of the canvas
};

// Reads the sources (each checked: IDX type and dims, matching counts) and writes the directory `dir` (created).
AffineBenchmarkSummary write_affine_benchmark(const std::string& dir, const AffineBenchmarkSource& source,
                                              const AffineBenchmarkOptions& options);

// Whether `path` is a directory (the benchmark's files are checked when read).
bool is_data_directory(const std::string& path);

// One split of a benchmark directory, "train", "test" or "test-affine": float32 images [N, 1, H, W] in [0, 1]
// and int64 labels [N]. limit >= 0 reads the first `limit` examples only.
TensorDataset load_affine_benchmark(const std::string& dir, const std::string& split, int64_t limit = -1);

}  // namespace tangent::data
