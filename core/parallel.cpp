#include "core/parallel.h"

#include <omp.h>

#include "core/error.h"

namespace tangent {

void set_num_threads(int n) {
  TANGENT_CHECK(n >= 1, "set_num_threads: expected at least 1 thread, got ", n);
  omp_set_num_threads(n);
}

int get_num_threads() { return omp_get_max_threads(); }

namespace detail {
bool in_parallel_region() { return omp_in_parallel(); }
int omp_num_threads() { return omp_get_num_threads(); }
int omp_thread_num() { return omp_get_thread_num(); }
}  // namespace detail

}  // namespace tangent
