// tangent data affine-fashion-mnist: writes the affine benchmark directory (nn/data/affine_benchmark.h) from
// Fashion-MNIST or any MNIST-style IDX files.
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "nn/data/data.h"
#include "tools/tangent/commands.h"
#include "tools/tangent/flags.h"

namespace tangent::cli {

Run add_data(CLI::App& app) {
  CLI::App* affine = app.add_subcommand(
      "affine-fashion-mnist",
      "The affNIST protocol on Fashion-MNIST (or other IDX files): training images centred on a canvas 6 px wider "
      "on each side, and a test set of random affine transforms of the centred test images");
  struct Args {
    std::string out;
    data::AffineBenchmarkOptions options;
    data::AffineBenchmarkSource source;
  };
  auto a = std::make_shared<Args>();
  data::AffineBenchmarkOptions& o = a->options;
  affine->add_option("--out", a->out, "output directory")->required()->check(output_dir());
  affine->add_option("--seed", o.seed, "seed of the test set's transforms (Philox, keyed by seed, image, version)")
      ->check(integer(0, std::numeric_limits<int64_t>::max()));
  affine->add_option("--versions", o.versions, "transformed versions of each test image")->check(integer(1, 1024));
  affine->add_option("--padding", o.padding, "pixels of zeros around each image")->check(integer(0, 1024));
  affine->add_option("--rotation", o.ranges.rotation_degrees, "rotation range: uniform in +-DEGREES")
      ->check(number(0, 180));
  affine->add_option("--shear", o.ranges.shear, "shear range: uniform in +-S")->check(number(0, 10));
  affine->add_option("--scale-min", o.ranges.scale_min, "per-axis scale range, lower end")->check(number(0, 100, true));
  affine->add_option("--scale-max", o.ranges.scale_max, "per-axis scale range, upper end")->check(number(0, 100, true));
  std::vector<CLI::Option*> files = {
      affine->add_option("--train-images", a->source.train_images, "IDX training images (default: Fashion-MNIST)"),
      affine->add_option("--train-labels", a->source.train_labels, "IDX training labels"),
      affine->add_option("--test-images", a->source.test_images, "IDX test images"),
      affine->add_option("--test-labels", a->source.test_labels, "IDX test labels")};
  for (CLI::Option* f : files) f->check(input_file());
  return [a, affine, files] {
    TANGENT_CHECK(affine->parsed(), "data: name the data set to write: affine-fashion-mnist (see tangent data --help)");
    const data::AffineRanges& r = a->options.ranges;
    TANGENT_CHECK(r.scale_min <= r.scale_max, "data affine-fashion-mnist: --scale-min ", r.scale_min,
                  " is more than --scale-max ", r.scale_max);
    int given = 0;
    for (const CLI::Option* f : files) given += f->count() > 0 ? 1 : 0;
    TANGENT_CHECK(given == 0 || given == 4, "data affine-fashion-mnist: give all four of --train-images, ",
                  "--train-labels, --test-images and --test-labels, or none (Fashion-MNIST)");
    if (given == 0) {
      const char* env = std::getenv("TANGENT_FASHION_MNIST");
      const std::string root = env != nullptr && *env != '\0' ? env : data::kFashionMnistRoot;
      TANGENT_CHECK(std::filesystem::is_directory(root), "data affine-fashion-mnist: the Fashion-MNIST directory '",
                    root, "' does not exist (install it with `apt-get install dataset-fashion-mnist`, set ",
                    "$TANGENT_FASHION_MNIST, or give --train-images, --train-labels, --test-images, --test-labels)");
      a->source = data::fashion_mnist_source(root);
    }
    const data::AffineBenchmarkSummary s = data::write_affine_benchmark(a->out, a->source, a->options);
    std::printf(
        "wrote %s: %lld training and %lld test images centred on %lldx%lld, %lld transformed test images "
        "(%lld versions, seed %llu)\n",
        a->out.c_str(), static_cast<long long>(s.train), static_cast<long long>(s.test),
        static_cast<long long>(s.height), static_cast<long long>(s.width), static_cast<long long>(s.test_affine),
        static_cast<long long>(a->options.versions), static_cast<unsigned long long>(a->options.seed));
    return 0;
  };
}

}  // namespace tangent::cli
