#pragma once
// The empirical neural tangent kernel of a model: Theta(x, x') = J(x) J(x')^T with J = df/dtheta, an O x O block
// per pair of inputs (O = the model's outputs per example).
//
// Conventions: the trace mode sums the diagonal over outputs (neural-tangents divides by O: set trace_mean for
// its convention). The kernel is a sum of one PSD term per parameter tensor; per_layer returns them by parameter
// name. BatchNorm and dropout are taken in eval mode (the model is put in eval mode and restored). The kernel is
// taken w.r.t. the trainable parameters (requires_grad); outputs are flattened per example (O = numel / batch).
//
// Methods (nn/ntk/jacobian.cpp, nn/ntk/structured.cpp): the jacobian method is exact for any model whose examples
// do not interact in eval mode. The structured method covers nn::Linear (also on [B, T, C]), nn::Conv2d
// (groups 1), nn::LayerNorm, nn::RMSNorm, nn::BatchNorm* and nn::Embedding modules that are called once per
// forward through Module::operator() (containers do). A parameter also used outside its module's forward (e.g. a
// tied LM head reading the token embedding table) is detected on the autograd graph of one forward and left to
// the jacobian method (listed in NtkResult::fallback under Method::Auto; an Error under Method::Structured).
// Accumulation is float64; float32 models multiply float32 operands in chunks summed in float64.
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "nn/distributed/process_group.h"
#include "nn/module.h"

namespace tangent::ntk {

enum class Mode { Full, Trace, Diagonal };  // [N1, N2, O, O], [N1, N2], [N1, N2, O]
enum class Method {
  Auto,        // structured where a layer has a rule, jacobian for the remaining parameters
  Jacobian,    // per-example Jacobians through autograd, contracted in tiles
  Structured,  // Novak et al. 2022: layer inputs and output cotangents, contracted per layer
};
Mode parse_mode(const std::string& name);      // "full", "trace", "diagonal"
Method parse_method(const std::string& name);  // "auto", "jacobian", "structured"
const char* mode_name(Mode mode);
const char* method_name(Method method);

// Called as tiles complete: (tiles done, tiles in all). Under Method::Auto with a fallback, the structured and
// then the jacobian pass each count their own tiles.
using NtkProgress = std::function<void(int64_t, int64_t)>;

struct NtkOptions {
  Mode mode = Mode::Trace;
  Method method = Method::Auto;
  bool trace_mean = false;       // divide the trace by O (neural-tangents' convention)
  bool per_layer = false;        // also return one term per parameter tensor
  int64_t tile = 0;              // examples per tile (N1 and N2 tiled alike); 0: chosen from the memory budget
  int64_t max_memory_mb = 4096;  // budget for Jacobians / cotangents of a tile
  DType dtype = kFloat64;        // dtype of the result (contractions accumulate in float64 at least as here)
  NtkProgress progress;
  // Distributed over this group when it has several ranks (mpirun -np K): each rank computes its share of the tile
  // pairs (the upper triangle when x2 is omitted), assigned by cost (examples x examples, largest first, to the
  // least loaded rank), and the kernel is summed over the ranks, so every rank returns the whole result, equal bit
  // for bit to a one-process run with the same tile (each entry is computed by one rank; the others add zeros).
  // With tile 0 the tile is at most ceil(max(N1, N2) / 2K), so that every rank has pairs to compute. Progress
  // counts this rank's pairs. Every rank must call empirical_ntk with the same model, inputs and options.
  std::shared_ptr<distributed::ProcessGroup> group;
};

struct NtkResult {
  Tensor kernel;  // see Mode
  // One term per parameter tensor (when per_layer), in parameter order; they sum to kernel.
  std::vector<std::pair<std::string, Tensor>> per_layer;
  // Parameters whose term the structured method could not compute and took from the jacobian method (auto).
  std::vector<std::string> fallback;
  Method method = Method::Auto;  // what actually ran (Structured, Jacobian, or Auto when mixed)
  double seconds = 0;
  int64_t peak_bytes = 0;  // largest working set the method allocated for a tile (approximate)
};

// The kernel between x1 and x2 (undefined x2: x1 against itself, exploiting symmetry). Inputs carry the batch
// dim first and must match the model's input shape. Raises an Error naming the problem for mismatched inputs or,
// under Method::Structured, a parameter no rule covers.
NtkResult empirical_ntk(nn::Module& model, const Tensor& x1, const Tensor& x2 = Tensor(),
                        const NtkOptions& options = {});

}  // namespace tangent::ntk
