// unfold (im2col) and fold (col2im) on [N, C, H, W] (Primitive::Unfold). Parallel over (image, channel): each
// channel's kH*kW rows of the columns belong to it alone, so fold needs no synchronisation.
#include <algorithm>

#include "core/parallel.h"
#include "ops/cpu/cpu_backend.h"

namespace tangent::cpu {

namespace {

struct Dims {
  int64_t N, C, H, W, Ho, Wo;
};

Dims dims_of(const Tensor& image, const Tensor& cols, const UnfoldParams& p) {
  const int64_t L = cols.size(2);
  const int64_t Ho = (image.size(2) + 2 * p.padding[0] - p.dilation[0] * (p.kernel[0] - 1) - 1) / p.stride[0] + 1;
  return {image.size(0), image.size(1), image.size(2), image.size(3), Ho, Ho > 0 ? L / Ho : 0};
}

// Per plane (n, c): each of its kH*kW rows of the columns is copied from the plane (unfold; zeros outside it) or
// added into it (fold).
template <typename T, bool kFold>
void run(T* image, T* cols, const Dims& d, const UnfoldParams& p) {
  const int64_t kh = p.kernel[0], kw = p.kernel[1], L = d.Ho * d.Wo;
  if (kFold) std::fill(image, image + d.N * d.C * d.H * d.W, T(0));
  parallel_for(d.N * d.C, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(kh * kw * L, 1)),
               [&](int64_t p0, int64_t p1) {
                 for (int64_t nc = p0; nc < p1; ++nc) {
                   T* plane = image + nc * d.H * d.W;
                   T* col = cols + nc * kh * kw * L;  // [N, C, kh, kw, L] == [N, C*kh*kw, L]
                   for (int64_t ky = 0; ky < kh; ++ky)
                     for (int64_t kx = 0; kx < kw; ++kx) {
                       T* row = col + (ky * kw + kx) * L;
                       for (int64_t oy = 0; oy < d.Ho; ++oy) {
                         const int64_t iy = oy * p.stride[0] - p.padding[0] + ky * p.dilation[0];
                         T* r = row + oy * d.Wo;
                         if (iy < 0 || iy >= d.H) {
                           if (!kFold) std::fill(r, r + d.Wo, T(0));
                           continue;
                         }
                         for (int64_t ox = 0; ox < d.Wo; ++ox) {
                           const int64_t ix = ox * p.stride[1] - p.padding[1] + kx * p.dilation[1];
                           const bool inside = ix >= 0 && ix < d.W;
                           if (kFold) {
                             if (inside) plane[iy * d.W + ix] += r[ox];
                           } else {
                             r[ox] = inside ? plane[iy * d.W + ix] : T(0);
                           }
                         }
                       }
                     }
                 }
               });
}

}  // namespace

void CpuBackend::unfold(const Tensor& x, const UnfoldParams& p, const Tensor& out) {
  const Dims d = dims_of(x, out, p);
  if (x.dtype() == kFloat32)
    run<float, false>(x.data_ptr<float>(), out.data_ptr<float>(), d, p);
  else
    run<double, false>(x.data_ptr<double>(), out.data_ptr<double>(), d, p);
}

void CpuBackend::fold(const Tensor& cols, const UnfoldParams& p, const Tensor& out) {
  const Dims d = dims_of(out, cols, p);
  if (cols.dtype() == kFloat32)
    run<float, true>(out.data_ptr<float>(), cols.data_ptr<float>(), d, p);
  else
    run<double, true>(out.data_ptr<double>(), cols.data_ptr<double>(), d, p);
}

}  // namespace tangent::cpu
