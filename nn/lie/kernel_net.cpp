#include "nn/lie/kernel_net.h"

#include <cmath>

#include "core/error.h"
#include "nn/init.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/linalg.h"

namespace tangent::lie {

int64_t KernelNetOptions::parameter_count() const {
  return (in_dim + 1) * width + hidden_layers * (width + 1) * width + (width + 1) * out_dim;
}

KernelNet::KernelNet(const KernelNetOptions& o) : options(o) {
  TANGENT_CHECK(o.in_dim >= 1 && o.out_dim >= 1 && o.width >= 1 && o.hidden_layers >= 0,
                "lie::KernelNet: sizes must be positive, got in ", o.in_dim, ", out ", o.out_dim, ", width ", o.width,
                ", hidden layers ", o.hidden_layers);
  const int64_t layers = o.hidden_layers + 2;
  for (int64_t l = 0; l < layers; ++l) {
    const int64_t in = l == 0 ? o.in_dim : o.width, out = l + 1 == layers ? o.out_dim : o.width;
    Tensor w = zeros({out, in}), b = zeros({out});
    if (l == 0) {
      nn::init::uniform_(w, -1.0 / static_cast<double>(in), 1.0 / static_cast<double>(in));
      const double bb = 1.0 / std::sqrt(static_cast<double>(in));
      nn::init::uniform_(b, -bb, bb);
    } else if (l + 1 < layers) {
      const double wb = std::sqrt(6.0 / static_cast<double>(o.width)) / o.omega;
      nn::init::uniform_(w, -wb, wb);
    } else {
      nn::init::uniform_(w, -o.out_bound, o.out_bound);
    }
    weights.push_back(register_parameter("weight" + std::to_string(l), w));
    biases.push_back(register_parameter("bias" + std::to_string(l), b));
  }
}

Tensor KernelNet::forward(const Tensor& points) {
  TANGENT_CHECK(points.dim() == 2 && points.size(1) == options.in_dim, "lie::KernelNet: expected points [P, ",
                options.in_dim, "], got ", points.shape());
  Tensor h = points;
  for (size_t l = 0; l < weights.size(); ++l) {
    h = linear(h, weights[l], biases[l]);
    if (l + 1 < weights.size()) h = sin(h * options.omega);
  }
  return h;
}

std::string KernelNet::extra_repr() const {
  return "in=" + std::to_string(options.in_dim) + ", out=" + std::to_string(options.out_dim) +
         ", width=" + std::to_string(options.width) + ", hidden_layers=" + std::to_string(options.hidden_layers);
}

}  // namespace tangent::lie
