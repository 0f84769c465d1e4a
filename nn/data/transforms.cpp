// Normalize and compute_mean_std.
#include "nn/data/transforms.h"

#include <algorithm>
#include <cmath>

#include "core/parallel.h"
#include "ops/elementwise.h"
#include "ops/factory.h"

namespace tangent::data {

Normalize::Normalize(std::vector<double> mean, std::vector<double> std, int64_t channel_dim)
    : mean_(std::move(mean)), std_(std::move(std)), channel_dim_(channel_dim) {
  TANGENT_CHECK(!mean_.empty() && mean_.size() == std_.size(), "Normalize: mean has ", mean_.size(), " values and std ",
                std_.size(), "; they must be the same non-zero count");
  for (size_t i = 0; i < std_.size(); ++i) {
    TANGENT_CHECK(std_[i] != 0.0 && std::isfinite(std_[i]) && std::isfinite(mean_[i]), "Normalize: channel ", i,
                  " has mean ", mean_[i], " and std ", std_[i], "; std must be finite and non-zero");
  }
}

namespace {
std::vector<double> channel_values(const Tensor& t, const char* what) {
  TANGENT_CHECK(t.defined() && t.dim() <= 1, "Normalize: ", what, " must be a 0-D or 1-D tensor, got ",
                t.defined() ? "shape " : "an undefined tensor", t.defined() ? t.shape() : Shape{});
  return to_vector<double>(t);
}
}  // namespace

Normalize::Normalize(const Tensor& mean, const Tensor& std, int64_t channel_dim)
    : Normalize(channel_values(mean, "mean"), channel_values(std, "std"), channel_dim) {}

Tensor Normalize::operator()(const Tensor& x) const {
  TANGENT_CHECK(x.defined(), "Normalize: the input is undefined");
  TANGENT_CHECK(x.is_floating_point(), "Normalize: expected a floating-point tensor, got dtype ", x.dtype(), " (shape ",
                x.shape(), ")");
  const int64_t c = static_cast<int64_t>(mean_.size());
  if (c == 1) {
    return (x - mean_[0]) / std_[0];
  }
  TANGENT_CHECK(channel_dim_ >= -x.dim() && channel_dim_ < x.dim(), "Normalize: channel dim ", channel_dim_,
                " is out of range for an input of shape ", x.shape());
  const int64_t d = channel_dim_ < 0 ? channel_dim_ + x.dim() : channel_dim_;
  TANGENT_CHECK(x.size(d) == c, "Normalize: ", c, " channels of mean/std but the input of shape ", x.shape(), " has ",
                x.size(d), " along dim ", d);
  // [C, 1, ..., 1], broadcasting against the dims after the channel dim.
  Shape shape{c};
  for (int64_t i = d + 1; i < x.dim(); ++i) shape.push_back(1);
  const Tensor m = tensor(mean_, shape).to(x.dtype()).to(x.device());
  const Tensor s = tensor(std_, shape).to(x.dtype()).to(x.device());
  return (x - m) / s;
}

std::pair<Tensor, Tensor> compute_mean_std(const Tensor& x, const Shape& dims, int64_t correction) {
  TANGENT_CHECK(x.defined(), "compute_mean_std: the input is undefined");
  TANGENT_CHECK(correction >= 0, "compute_mean_std: correction must be >= 0, got ", correction);
  const int64_t nd = x.dim();
  std::vector<bool> reduced(static_cast<size_t>(nd), dims.empty());
  for (int64_t d : dims) {
    const int64_t w = wrap_dim(d, nd, "compute_mean_std");
    TANGENT_CHECK(!reduced[static_cast<size_t>(w)], "compute_mean_std: dim ", d, " appears twice in ", dims);
    reduced[static_cast<size_t>(w)] = true;
  }
  // Kept dims first, reduced dims last: each output element then owns a contiguous block of the input.
  Shape perm, kept;
  for (int64_t d = 0; d < nd; ++d) {
    if (!reduced[static_cast<size_t>(d)]) {
      perm.push_back(d);
      kept.push_back(x.size(d));
    }
  }
  for (int64_t d = 0; d < nd; ++d) {
    if (reduced[static_cast<size_t>(d)]) perm.push_back(d);
  }
  const int64_t outer = kept.numel();
  const int64_t inner = outer == 0 ? 0 : x.numel() / outer;
  TANGENT_CHECK(inner > correction, "compute_mean_std: ", inner, " values per statistic (shape ", x.shape(), ", dims ",
                dims, ") are too few for correction ", correction);
  Tensor xd = x.detach();
  if (!xd.device().is_cpu()) xd = xd.to(Device(kCPU));
  if (nd > 0) xd = xd.permute(perm);
  xd = xd.contiguous();
  std::vector<double> mean(static_cast<size_t>(outer)), sd(static_cast<size_t>(outer));
  // Sums over fixed blocks (added in order), so the result does not depend on the number of threads.
  constexpr int64_t kBlock = 1 << 16;
  const int64_t nblocks = (inner + kBlock - 1) / kBlock;
  std::vector<double> partial(static_cast<size_t>(nblocks));
  TANGENT_DISPATCH_ALL(xd.dtype(), "compute_mean_std", [&](auto tag) {
    using T = decltype(tag);
    const T* base = xd.data_ptr<T>();
    auto value = [](T v) { return static_cast<double>(static_cast<acc_t<T>>(v)); };
    auto block_sums = [&](const T* p, double m, bool squares) {
      parallel_for(nblocks, nblocks > 4 ? 1 : nblocks + 1, [&](int64_t b, int64_t e) {
        for (int64_t k = b; k < e; ++k) {
          const int64_t lo = k * kBlock, hi = std::min(inner, lo + kBlock);
          double acc = 0.0;
          if (squares) {
            for (int64_t i = lo; i < hi; ++i) acc += (value(p[i]) - m) * (value(p[i]) - m);
          } else {
            for (int64_t i = lo; i < hi; ++i) acc += value(p[i]);
          }
          partial[static_cast<size_t>(k)] = acc;
        }
      });
      double total = 0.0;
      for (double v : partial) total += v;
      return total;
    };
    for (int64_t o = 0; o < outer; ++o) {
      const T* p = base + o * inner;
      const double m = block_sums(p, 0.0, false) / static_cast<double>(inner);
      const double ss = block_sums(p, m, true);
      mean[static_cast<size_t>(o)] = m;
      sd[static_cast<size_t>(o)] = std::sqrt(ss / static_cast<double>(inner - correction));
    }
  });
  const DType out = x.dtype() == kFloat64 ? kFloat64 : kFloat32;
  auto make = [&](const std::vector<double>& v) {
    return kept.empty() ? scalar_tensor(Scalar(v[0]), TensorOptions(out)) : tensor(v, kept).to(out);
  };
  return {make(mean), make(sd)};
}

void normalize_(TensorDataset& dataset, const Normalize& normalize) { dataset.set_data(normalize(dataset.data())); }

}  // namespace tangent::data
