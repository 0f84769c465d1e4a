#pragma once
// Internals shared by the NTK methods (nn/ntk/*.cpp): the kernel accumulator, tile planning and the tile
// contractions. Not installed API.
//
// Layouts used throughout: a tile holds n examples; "weight-space" features are per-example gradients G [n, O, K]
// (row o: d f_o / d theta for one parameter tensor, flattened); "position-space" features are layer inputs (or
// im2col patches) a [n, D, K] with output cotangents g [n, O, D, C] (D: positions sharing the weight).
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nn/ntk/ntk.h"

namespace tangent::ntk::detail {

// The result being assembled: the whole kernel and (optionally) one term per parameter name, all float64 in the
// layout of `mode`. With `symmetric` (x2 = x1) only tiles i0 <= j0 are added; off-diagonal tiles are mirrored.
class KernelAccumulator {
 public:
  KernelAccumulator(Mode mode, int64_t n1, int64_t n2, int64_t outputs, bool symmetric,
                    const std::vector<std::string>& per_layer_names);
  // Adds `scale * tile` (float64-convertible, [t1, t2] + mode's output dims) at rows i0, columns j0 of the kernel
  // and of the term named `name` (when per-layer terms are kept).
  void add(const std::string& name, int64_t i0, int64_t j0, const Tensor& tile, double scale = 1.0);
  Tensor kernel() const { return total_; }
  std::vector<std::pair<std::string, Tensor>> per_layer() const;

 private:
  void add_into(const Tensor& dst, int64_t i0, int64_t j0, const Tensor& tile, double scale) const;
  Mode mode_;
  int64_t n1_, n2_, outputs_;
  bool symmetric_;
  Tensor total_;
  std::vector<std::pair<std::string, Tensor>> terms_;
  std::map<std::string, size_t> index_;
};

// Shape of a kernel tile [t1, t2, ...] in `mode` for O outputs.
Shape tile_shape(Mode mode, int64_t t1, int64_t t2, int64_t outputs);

// Weight-space contraction: Theta[i, j, (o, p)] = <GI[i, o], GJ[j, p]> reduced per mode, as float64. Float32
// operands are multiplied in chunks of the contraction axis and the chunks summed in float64.
Tensor contract_weight(const Tensor& GI, const Tensor& GJ, Mode mode);

// Position-space contraction: Theta[i, j, (o, p)] = sum_{d, d'} A[i, d, j, d'] <gI[i, o, d], gJ[j, p, d']>, with
// A the input Gram [t1, D, t2, D] (any floating dtype), as float64.
Tensor contract_position(const Tensor& A, const Tensor& gI, const Tensor& gJ, Mode mode);

// Example tiles: [start, length) pairs covering n examples in tiles of `tile`.
std::vector<std::pair<int64_t, int64_t>> make_tiles(int64_t n, int64_t tile);

// Tile pairs (a, b) to compute: all pairs, or a <= b when symmetric; with options.group of K > 1 ranks, this
// rank's share of them (see NtkOptions::group), in the same row-major order.
using Tiles = std::vector<std::pair<int64_t, int64_t>>;
std::vector<std::pair<size_t, size_t>> tile_pairs(const Tiles& tiles1, const Tiles& tiles2, bool symmetric,
                                                  const NtkOptions& options);

// Puts a module tree in eval mode and restores each module's own mode on destruction.
class EvalModeGuard {
 public:
  explicit EvalModeGuard(nn::Module& model);
  ~EvalModeGuard();
  EvalModeGuard(const EvalModeGuard&) = delete;
  EvalModeGuard& operator=(const EvalModeGuard&) = delete;

 private:
  std::vector<std::pair<std::shared_ptr<nn::Module>, bool>> modes_;
};

// Examples [start, start + length) of x (a view).
inline Tensor rows(const Tensor& x, int64_t start, int64_t length) { return x.narrow(0, start, length); }

// The jacobian method restricted to `params` (named; all when empty), accumulated into `acc`. Returns the peak
// working bytes of a tile pair. `O` is the number of outputs per example.
struct JacobianPlan {
  std::vector<std::pair<std::string, Tensor>> params;
  int64_t outputs = 0;
};
int64_t jacobian_ntk(nn::Module& model, const Tensor& x1, const Tensor& x2, bool symmetric, const JacobianPlan& plan,
                     const NtkOptions& options, KernelAccumulator& acc, const NtkProgress& progress);

// The model's outputs per example from its output `f` for a batch of `batch` examples (checks f has the batch
// dim first and is floating).
int64_t outputs_per_example(const Tensor& f, int64_t batch);

// The structured method in two steps. discover_structured runs one forward (x1's first example, twice) to find the
// layers with a rule, the parameters they cover and the model's outputs per example; run() then accumulates the
// covered parameters' terms into `acc` and returns the peak working bytes. `params` and `options` must outlive it.
class StructuredNtk {
 public:
  virtual ~StructuredNtk() = default;
  virtual int64_t outputs() const = 0;
  // Parameters no rule covers, with the reasons (for error messages).
  virtual const std::vector<std::string>& uncovered() const = 0;
  virtual const std::vector<std::string>& reasons() const = 0;
  virtual int64_t run(const Tensor& x1, const Tensor& x2, bool symmetric, KernelAccumulator& acc,
                      const NtkProgress& progress) = 0;
};
std::unique_ptr<StructuredNtk> discover_structured(nn::Module& model,
                                                   const std::vector<std::pair<std::string, Tensor>>& params,
                                                   const NtkOptions& options, const Tensor& x1);

}  // namespace tangent::ntk::detail
