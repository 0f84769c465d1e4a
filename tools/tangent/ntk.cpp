// tangent ntk (placeholder until its issue lands).
#include "core/error.h"
#include "tools/tangent/commands.h"

namespace tangent::cli {

Run add_ntk(CLI::App&) {
  return [] () -> int { TANGENT_FAIL("ntk: not implemented yet"); };
}

}  // namespace tangent::cli
