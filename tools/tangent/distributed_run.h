#pragma once
// How a `tangent` command runs under `mpirun -np K`: the process group, and rank 0 as the only one that prints
// and writes files.
#include <memory>

#include "nn/distributed/process_group.h"

namespace tangent::cli {

// The job's group when this process was started by mpirun (or `requested`, e.g. --distributed, which then
// requires mpirun); null for an ordinary single-process run. Ranks other than 0 send stdout to /dev/null from here
// on (their errors still reach stderr).
std::shared_ptr<distributed::ProcessGroup> command_group(const char* command, bool requested);

// Whether this process prints and writes the command's outputs (rank 0, or no group).
inline bool is_root(const distributed::ProcessGroup* group) { return group == nullptr || group->rank() == 0; }

}  // namespace tangent::cli
