// Empirical NTK (placeholder until the implementation lands).
#include "nn/ntk/ntk.h"

#include "core/error.h"

namespace tangent::ntk {

NtkResult empirical_ntk(nn::Module&, const Tensor&, const Tensor&, const NtkOptions&) {
  TANGENT_FAIL("empirical_ntk: not implemented yet");
}

}  // namespace tangent::ntk
