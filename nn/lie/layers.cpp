#include "nn/lie/layers.h"

#include <cmath>

#include "core/error.h"
#include "core/generator.h"
#include "ops/conv.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/norm.h"
#include "ops/reduce.h"

namespace tangent::lie {

namespace {

double grid_coord(int64_t i, int64_t k) { return (2.0 * static_cast<double>(i) + 1.0) / static_cast<double>(k) - 1.0; }

double smooth_mask(double norm) { return 1.0 / (1.0 + std::exp(-2.0 * (1.0 - norm))); }

void check_conv(const LieConvOptions& o, const char* who) {
  TANGENT_CHECK(o.in_channels >= 1 && o.out_channels >= 1, "lie::", who, ": channels must be positive, got ",
                o.in_channels, " -> ", o.out_channels);
  TANGENT_CHECK(o.kernel_size >= 1 && o.padding >= 0, "lie::", who, ": kernel_size must be positive and padding ",
                ">= 0, got ", o.kernel_size, " and ", o.padding);
}

// A float64 constant of `shape` from host values, in the dtype and on the device of `like`.
Tensor constant(const std::vector<double>& values, const Shape& shape, const Tensor& like) {
  return tensor(values, shape).to(like.dtype()).to(like.device());
}

void check_plane(const Tensor& x, int64_t k, int64_t padding, const char* who) {
  TANGENT_CHECK(x.size(2) + 2 * padding >= k && x.size(3) + 2 * padding >= k, "lie::", who, ": the input plane ",
                x.size(2), "x", x.size(3), " (padding ", padding, ") is smaller than the ", k, "x", k, " kernel");
}

}  // namespace

namespace {

// The kernel net of a layer: input a plane point (lift) or a plane point and a chart point (group conv), output
// C_out * C_in kernel values, final-layer bound sqrt(6 / width) / sqrt(C_in k^2) as released.
KernelNetOptions kernel_net_options(const LieConvOptions& o, bool lift) {
  KernelNetOptions k;
  k.in_dim = 2 + (lift ? 0 : algebra_dim(o.group));
  k.out_dim = o.in_channels * o.out_channels;
  k.width = o.width;
  k.hidden_layers = o.hidden_layers;
  k.omega = o.omega;
  k.out_bound = std::sqrt(6.0 / static_cast<double>(o.width)) /
                std::sqrt(static_cast<double>(o.in_channels * o.kernel_size * o.kernel_size));
  return k;
}

}  // namespace

int64_t lie_conv_parameters(const LieConvOptions& o, bool lift) {
  return kernel_net_options(o, lift).parameter_count();
}

// ---- SampledLayer ----

SampledLayer::SampledLayer(const SamplerOptions& s, uint64_t seed) : sampler(s), eval_seed(seed) {
  check_sampler(s, "lie layer");
}

std::shared_ptr<const SampleSet> SampledLayer::draw() const {
  const PhiloxState state =
      is_training() ? default_generator().advance(sampler_counters(sampler)) : PhiloxState{eval_seed, 0};
  SampleSet s = draw_samples(sampler, state);
  if (max_abs_diff(transport, Mat2::identity()) != 0) s = s.transported(transport);
  return std::make_shared<const SampleSet>(std::move(s));
}

namespace {

std::shared_ptr<KernelNet> make_net(const LieConvOptions& o, bool lift) {
  return std::make_shared<KernelNet>(kernel_net_options(o, lift));
}

// The kernel-net output for `points` [P, d], scaled per point by `scale` [P] (mask and determinant factor).
Tensor scaled_kernel(KernelNet& net, const std::vector<double>& points, const std::vector<double>& scale, int64_t d) {
  const int64_t P = static_cast<int64_t>(scale.size());
  const Tensor& w = net.weights.front();
  const Tensor values = net(constant(points, {P, d}, w));
  return values * constant(scale, {P, 1}, w);
}

}  // namespace

// ---- LiftConv2d ----

LiftConv2d::LiftConv2d(const LieConvOptions& o, const SamplerOptions& s, uint64_t seed)
    : SampledLayer(s, seed), options(o) {
  check_conv(o, "LiftConv2d");
  TANGENT_CHECK(s.group == o.group, "lie::LiftConv2d: the sampler's group ", group_name(s.group),
                " differs from the layer's ", group_name(o.group));
  net = register_module("net", make_net(o, true));
}

Tensor LiftConv2d::kernel(const SampleSet& samples) {
  const int64_t n = samples.size(), k = options.kernel_size;
  std::vector<double> points, scale;
  points.reserve(static_cast<size_t>(n * k * k * 2));
  for (int64_t j = 0; j < n; ++j) {
    const Mat2& gi = samples.g_inv[j];
    const double det = options.group == Group::GL2 ? std::fabs(gi.det()) : 1.0;
    for (int64_t r = 0; r < k; ++r)
      for (int64_t c = 0; c < k; ++c) {
        const auto z = gi.apply(grid_coord(c, k), grid_coord(r, k));
        points.push_back(z[0]);
        points.push_back(z[1]);
        const double norm = std::hypot(z[0], z[1]);
        const double mask = options.group == Group::GL2 ? smooth_mask(norm) : (norm <= 1.0 ? 1.0 : 0.0);
        scale.push_back(mask * det);
      }
  }
  const int64_t co = options.out_channels, ci = options.in_channels;
  return scaled_kernel(*net, points, scale, 2)
      .reshape({n, k, k, co, ci})
      .permute({3, 0, 4, 1, 2})
      .reshape({co * n, ci, k, k});
}

GroupTensor LiftConv2d::lift(const Tensor& x) { return lift(x, draw()); }

GroupTensor LiftConv2d::lift(const Tensor& x, std::shared_ptr<const SampleSet> samples) {
  TANGENT_CHECK(x.defined() && x.dim() == 4 && x.size(1) == options.in_channels, "lie::LiftConv2d: expected input [B, ",
                options.in_channels, ", H, W], got ", x.defined() ? x.shape() : Shape{});
  TANGENT_CHECK(samples && samples->group == options.group, "lie::LiftConv2d: samples of another group");
  check_plane(x, options.kernel_size, options.padding, "LiftConv2d");
  const Tensor w = kernel(*samples);
  const Tensor y = conv2d(x, w, Tensor(), {1, 1}, {options.padding, options.padding});
  return GroupTensor(y, std::move(samples));
}

std::string LiftConv2d::extra_repr() const {
  return std::string(group_name(options.group)) + ", " + std::to_string(options.in_channels) + " -> " +
         std::to_string(options.out_channels) + ", N=" + std::to_string(sampler.n) +
         ", k=" + std::to_string(options.kernel_size) + ", padding=" + std::to_string(options.padding);
}

// ---- GroupConv2d ----

GroupConv2d::GroupConv2d(const LieConvOptions& o, const SamplerOptions& s, uint64_t seed, bool re)
    : SampledLayer(s, seed), options(o), resample(re) {
  check_conv(o, "GroupConv2d");
  TANGENT_CHECK(s.group == o.group, "lie::GroupConv2d: the sampler's group ", group_name(s.group),
                " differs from the layer's ", group_name(o.group));
  net = register_module("net", make_net(o, false));
}

Tensor GroupConv2d::kernel(const SampleSet& out, const SampleSet& in) {
  TANGENT_CHECK(out.group == options.group && in.group == options.group,
                "lie::GroupConv2d: samples of another group (layer ", group_name(options.group), ")");
  const int64_t no = out.size(), ni = in.size(), k = options.kernel_size, dim = algebra_dim(options.group);
  const int64_t d = 2 + dim;
  std::vector<double> points, scale;
  points.reserve(static_cast<size_t>(no * ni * k * k * d));
  for (int64_t j = 0; j < no; ++j) {
    const Mat2& gi = out.g_inv[j];
    for (int64_t i = 0; i < ni; ++i) {
      const std::vector<double> rel = chart(options.group, gi * in.g[i]);
      double rel_sq = 0;
      for (double v : rel) rel_sq += v * v;
      const double det = options.group == Group::GL2 ? 1.0 / std::fabs(in.g[i].det()) : 1.0;
      for (int64_t r = 0; r < k; ++r)
        for (int64_t c = 0; c < k; ++c) {
          const auto z = gi.apply(grid_coord(c, k), grid_coord(r, k));
          points.push_back(z[0]);
          points.push_back(z[1]);
          points.insert(points.end(), rel.begin(), rel.end());
          const double sq = z[0] * z[0] + z[1] * z[1];
          const double mask =
              options.group == Group::GL2 ? smooth_mask(std::sqrt(sq + rel_sq)) : (std::sqrt(sq) <= 1.0 ? 1.0 : 0.0);
          scale.push_back(mask * det);
        }
    }
  }
  const int64_t co = options.out_channels, ci = options.in_channels;
  return scaled_kernel(*net, points, scale, d)
      .reshape({no, ni, k, k, co, ci})
      .permute({4, 0, 5, 1, 2, 3})
      .reshape({co * no, ci * ni, k, k});
}

GroupTensor GroupConv2d::apply(const GroupTensor& x) { return apply(x, resample ? draw() : x.samples); }

GroupTensor GroupConv2d::apply(const GroupTensor& x, std::shared_ptr<const SampleSet> out_samples) {
  TANGENT_CHECK(x.data.defined() && x.samples, "lie::GroupConv2d: undefined input");
  TANGENT_CHECK(x.channels() == options.in_channels, "lie::GroupConv2d: expected ", options.in_channels,
                " input channels, got ", x.channels(), " (data ", x.data.shape(), " on ", x.num_samples(), " samples)");
  check_plane(x.data, options.kernel_size, options.padding, "GroupConv2d");
  const Tensor w = kernel(*out_samples, *x.samples);
  const Tensor y = conv2d(x.data, w, Tensor(), {1, 1}, {options.padding, options.padding});
  return GroupTensor(y, std::move(out_samples));
}

std::string GroupConv2d::extra_repr() const {
  return std::string(group_name(options.group)) + ", " + std::to_string(options.in_channels) + " -> " +
         std::to_string(options.out_channels) + ", N=" + std::to_string(sampler.n) +
         ", k=" + std::to_string(options.kernel_size) + ", padding=" + std::to_string(options.padding) +
         (resample ? "" : ", on its input's samples");
}

// ---- ops ----

GroupTensor layer_norm(const GroupTensor& x, double eps) {
  return x.with_data(tangent::layer_norm(x.data, 3, Tensor(), Tensor(), eps));
}

GroupTensor gelu(const GroupTensor& x) { return x.with_data(tangent::gelu(x.data)); }

GroupTensor max_pool2d(const GroupTensor& x, int64_t k) { return x.with_data(tangent::max_pool2d(x.data, {k, k})); }

GroupTensor add(const GroupTensor& a, const GroupTensor& b) {
  TANGENT_CHECK(a.samples == b.samples || *a.samples == *b.samples,
                "lie::add: the two feature maps live on different sample sets (", a.num_samples(), " and ",
                b.num_samples(), " samples); a residual connection needs the block to keep its input's samples");
  TANGENT_CHECK(a.data.shape() == b.data.shape(), "lie::add: shapes differ: ", a.data.shape(), " and ", b.data.shape());
  return a.with_data(a.data + b.data);
}

Tensor global_max(const GroupTensor& x) { return amax(x.data.reshape({x.batch(), x.channels(), -1}), {2}); }

}  // namespace tangent::lie
