#include "tools/tangent/distributed_run.h"

#include <cstdio>

#include "core/error.h"

namespace tangent::cli {

std::shared_ptr<distributed::ProcessGroup> command_group(const char* command, bool requested) {
  if (!distributed::launched_by_mpirun()) {
    TANGENT_CHECK(!requested, command, ": --distributed needs the processes started by mpirun (e.g. mpirun -np 2 ",
                  "tangent ", command, " ...); this process was not");
    return nullptr;
  }
  auto group = distributed::ProcessGroup::world();
  if (group->size() == 1 && !requested) return nullptr;
  if (group->rank() != 0)
    TANGENT_CHECK(std::freopen("/dev/null", "w", stdout) != nullptr, command,
                  ": cannot silence the standard output of ", rank_label(*group));
  return group;
}

}  // namespace tangent::cli
