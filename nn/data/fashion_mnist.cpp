// Fashion-MNIST loading and command-line data set specs.
#include "nn/data/fashion_mnist.h"

#include <sys/stat.h>

#include <cstdlib>

#include "nn/data/affine_benchmark.h"
#include "nn/data/idx.h"
#include "nn/data/npy.h"

namespace tangent::data {

namespace {

bool exists(const std::string& path, bool dir) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  return dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode);
}

// The .gz file when present, else the uncompressed one; raises when neither exists.
std::string find_file(const std::string& root, const std::string& name) {
  const std::string base = root + "/" + name;
  if (exists(base + ".gz", false)) return base + ".gz";
  if (exists(base, false)) return base;
  TANGENT_FAIL("load_fashion_mnist: neither '", base, ".gz' nor '", base,
               "' exists (install the data set with `apt-get install dataset-fashion-mnist`, or pass its directory)");
}

}  // namespace

TensorDataset load_fashion_mnist(const std::string& root, bool train, int64_t limit) {
  TANGENT_CHECK(limit >= -1, "load_fashion_mnist: limit must be >= 0 (or -1 for all), got ", limit);
  TANGENT_CHECK(exists(root, true), "load_fashion_mnist: the directory '", root,
                "' does not exist; install the data set with `apt-get install dataset-fashion-mnist` (it goes to ",
                kFashionMnistRoot, ") or pass the directory holding the IDX files");
  const std::string prefix = train ? "train" : "t10k";
  Tensor images = read_idx_images(find_file(root, prefix + "-images-idx3-ubyte"), limit);
  Tensor labels = read_idx_labels(find_file(root, prefix + "-labels-idx1-ubyte"), limit);
  TANGENT_CHECK(images.size(0) == labels.size(0), "load_fashion_mnist: ", images.size(0), " images but ",
                labels.size(0), " labels in '", root, "' (", prefix, ")");
  TANGENT_CHECK(images.size(2) == 28 && images.size(3) == 28, "load_fashion_mnist: expected 28x28 images, got shape ",
                images.shape());
  const int64_t* l = labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < labels.numel(); ++i) {
    TANGENT_CHECK(l[i] >= 0 && l[i] <= 9, "load_fashion_mnist: label ", i, " is ", l[i], " (expected 0..9) in '", root,
                  "' (", prefix, ")");
  }
  return TensorDataset(images, labels);
}

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

TensorDataset load_dataset(const std::string& spec, bool train) {
  // "fashion-mnist-test" names the test split whatever `train` says.
  const std::string test_name = "fashion-mnist-test";
  const bool test_split = spec.compare(0, test_name.size(), test_name) == 0 &&
                          (spec.size() == test_name.size() || spec[test_name.size()] == ':');
  const std::string fm = test_split ? test_name : "fashion-mnist";
  if (test_split) train = false;
  if (spec.compare(0, fm.size(), fm) == 0 && (spec.size() == fm.size() || spec[fm.size()] == ':')) {
    int64_t limit = -1;
    if (spec.size() > fm.size()) {
      const std::string n = spec.substr(fm.size() + 1);
      char* end = nullptr;
      const long long v = std::strtoll(n.c_str(), &end, 10);
      TANGENT_CHECK(!n.empty() && end == n.c_str() + n.size() && v >= 0, "load_dataset: in '", spec,
                    "', the example count '", n, "' is not a non-negative integer");
      limit = v;
    }
    const char* env = std::getenv("TANGENT_FASHION_MNIST");
    return load_fashion_mnist(env != nullptr && *env != '\0' ? env : kFashionMnistRoot, train, limit);
  }
  if (is_data_directory(spec)) return load_affine_benchmark(spec, train ? "train" : "test");
  if (spec.compare(0, 4, "npy:") == 0) {
    const std::string files = spec.substr(4);
    const size_t comma = files.find(',');
    const std::string data = files.substr(0, comma);
    TANGENT_CHECK(!data.empty(), "load_dataset: '", spec, "' names no data file (expected npy:DATA.npy[,TARGETS.npy])");
    if (comma == std::string::npos) return TensorDataset(read_npy(data));
    return TensorDataset(read_npy(data), read_npy(files.substr(comma + 1)));
  }
  TANGENT_FAIL(
      "load_dataset: unknown data set '", spec,
      "' (expected fashion-mnist[:N], fashion-mnist-test[:N], npy:DATA.npy[,TARGETS.npy] or a directory written by "
      "`tangent data affine-fashion-mnist`)");
}

}  // namespace tangent::data
