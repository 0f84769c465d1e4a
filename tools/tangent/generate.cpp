// tangent generate (placeholder until its issue lands).
#include "core/error.h"
#include "tools/tangent/commands.h"

namespace tangent::cli {

Run add_generate(CLI::App&) {
  return [] () -> int { TANGENT_FAIL("generate: not implemented yet"); };
}

}  // namespace tangent::cli
