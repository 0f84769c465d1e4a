#pragma once
// Fashion-MNIST (Zalando): 28x28 grey images of 10 kinds of clothing, 60000 for training and 10000 for testing,
// read from the IDX files that Debian's dataset-fashion-mnist package installs.
#include <string>
#include <vector>

#include "nn/data/dataset.h"

namespace tangent::data {

constexpr const char* kFashionMnistRoot = "/usr/share/datasets/fashion-mnist";

// Images float32 [N, 1, 28, 28] in [0, 1], labels int64 [N] in 0..9, from
// {train,t10k}-{images-idx3,labels-idx1}-ubyte(.gz) under `root`. limit >= 0 keeps the first `limit` examples
// (and reads only those). A missing directory or file raises an Error suggesting
// `apt-get install dataset-fashion-mnist`.
TensorDataset load_fashion_mnist(const std::string& root = kFashionMnistRoot, bool train = true, int64_t limit = -1);

// The ten class names, by label: "T-shirt/top", "Trouser", ..., "Ankle boot".
const std::vector<std::string>& fashion_mnist_classes();

// A data set named on a command line: "fashion-mnist" or "fashion-mnist:N" (the first N examples of the split
// `train` selects; root from the TANGENT_FASHION_MNIST environment variable when set), "fashion-mnist-test[:N]"
// (always the test split), "npy:DATA.npy,TARGETS.npy" (targets optional), or a directory written by `tangent data
// affine-fashion-mnist` (affine_benchmark.h: its centred training or test split).
TensorDataset load_dataset(const std::string& spec, bool train = true);

}  // namespace tangent::data
