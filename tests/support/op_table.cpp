// The op table's storage: rows register themselves here from tests/op_rows/*.cpp at static-initialisation time.
#include "support/op_table.h"

namespace tangent::testing {

std::vector<OpCase>& op_cases() {
  static std::vector<OpCase> cases;  // a function-local static: safe to use from any static initialiser
  return cases;
}

}  // namespace tangent::testing
