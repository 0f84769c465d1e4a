#pragma once
// Threads: one OpenMP pool shared with oneDNN. set_num_threads controls both.
#include <cstdint>

namespace tangent {

void set_num_threads(int n);
int get_num_threads();

// Below this many elements an elementwise kernel runs on the calling thread.
constexpr int64_t kParallelGrain = 32768;

namespace detail {
bool in_parallel_region();
int omp_num_threads();  // inside a parallel region
int omp_thread_num();
}  // namespace detail

// Calls fn(begin, end) over [0, n) split into contiguous chunks, in parallel when n >= grain.
template <typename F>
void parallel_for(int64_t n, int64_t grain, const F& fn) {
  if (n <= 0) return;
  if (n < grain || detail::in_parallel_region()) {
    fn(int64_t{0}, n);
    return;
  }
#if defined(_OPENMP)
#pragma omp parallel
  {
    const int64_t nt = detail::omp_num_threads();
    const int64_t tid = detail::omp_thread_num();
    const int64_t chunk = (n + nt - 1) / nt;
    const int64_t b = tid * chunk;
    const int64_t e = b + chunk < n ? b + chunk : n;
    if (b < e) fn(b, e);
  }
#else
  fn(int64_t{0}, n);
#endif
}

}  // namespace tangent
