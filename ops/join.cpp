// STUB: to be implemented
#include "ops/shape_ops.h"

namespace tangent {

Tensor cat(const std::vector<Tensor>&, int64_t) { TANGENT_FAIL("cat: not implemented yet"); }
Tensor stack(const std::vector<Tensor>&, int64_t) { TANGENT_FAIL("stack: not implemented yet"); }
std::vector<Tensor> split(const Tensor&, int64_t, int64_t) { TANGENT_FAIL("split: not implemented yet"); }
std::vector<Tensor> split_with_sizes(const Tensor&, const std::vector<int64_t>&, int64_t) { TANGENT_FAIL("split_with_sizes: not implemented yet"); }
std::vector<Tensor> chunk(const Tensor&, int64_t, int64_t) { TANGENT_FAIL("chunk: not implemented yet"); }
Tensor index_select(const Tensor&, int64_t, const Tensor&) { TANGENT_FAIL("index_select: not implemented yet"); }
Tensor index_add(const Tensor&, int64_t, const Tensor&, const Tensor&) { TANGENT_FAIL("index_add: not implemented yet"); }
Tensor gather(const Tensor&, int64_t, const Tensor&) { TANGENT_FAIL("gather: not implemented yet"); }
Tensor scatter_add(const Tensor&, int64_t, const Tensor&, const Tensor&) { TANGENT_FAIL("scatter_add: not implemented yet"); }
Tensor one_hot(const Tensor&, int64_t) { TANGENT_FAIL("one_hot: not implemented yet"); }

}  // namespace tangent
