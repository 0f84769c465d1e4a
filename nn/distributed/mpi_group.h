#pragma once
// The MPI backend of ProcessGroup (nn/distributed/mpi_group.cpp); without MPI in the build, mpi_built() is false
// and make_mpi_world() raises. Not installed API.
#include <memory>

#include "nn/distributed/process_group.h"

namespace tangent::distributed::detail {

bool mpi_built();
// Initialises MPI (thread level FUNNELED) and returns a group over a duplicate of MPI_COMM_WORLD.
std::shared_ptr<ProcessGroup> make_mpi_world();

}  // namespace tangent::distributed::detail
