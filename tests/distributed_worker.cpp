// A helper for tests/test_distributed_cli.cpp, run as `mpirun -np 2 distributed_worker MODE TIMEOUT_S`: rank 0 enters
// an all_reduce with a deadline of TIMEOUT_S seconds while rank 1 does not join it:
//   stall  rank 1 sleeps far past the deadline (a hung rank)
//   die    rank 1 kills itself with SIGKILL (a crashed rank)
// Rank 0 must end with an error naming the ranks within the deadline; like `tangent`, a rank whose collective
// failed prints "error: ..." and aborts the job.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "core/error.h"
#include "nn/distributed/process_group.h"
#include "ops/factory.h"

int main(int argc, char** argv) {
  using namespace tangent;
  if (argc != 3) {
    std::fprintf(stderr, "usage: distributed_worker stall|die TIMEOUT_S\n");
    return 2;
  }
  const std::string mode = argv[1];
  try {
    auto group = distributed::ProcessGroup::world();
    group->set_timeout(std::atof(argv[2]));
    group->barrier();  // everyone is up
    if (group->rank() == 1) {
      if (mode == "die") std::raise(SIGKILL);
      std::this_thread::sleep_for(std::chrono::seconds(600));
      return 0;
    }
    const Tensor t = ones({1024});
    group->all_reduce(t);
    std::printf("all_reduce completed (unexpected)\n");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    std::fflush(stderr);
    distributed::abort_job(1);
    return 1;
  }
}
