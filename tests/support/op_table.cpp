// The op table's storage (rows register themselves here from tests/op_rows/*.cpp at static-initialisation time)
// and its per-dtype forward tolerances.
#include "support/op_table.h"

namespace tangent::testing {

std::vector<OpCase>& op_cases() {
  static std::vector<OpCase> cases;  // a function-local static: safe to use from any static initialiser
  return cases;
}

double forward_tolerance(DType dtype) {
  switch (dtype) {
    case kFloat64:
      return 1e-12;  // another backend's float64 against the CPU's
    case kFloat32:
      return 2e-6;
    case kFloat16:
      return 2e-3;
    case kBFloat16:
      return 1.6e-2;
    default:
      return 0.0;  // integers and bool: exact
  }
}

}  // namespace tangent::testing
