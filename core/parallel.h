#pragma once
// Threads: one OpenMP pool shared with oneDNN. set_num_threads controls both.
#include <atomic>
#include <cstdint>
#include <exception>

namespace tangent {

void set_num_threads(int n);
int get_num_threads();

// Below this many elements an elementwise kernel runs on the calling thread.
constexpr int64_t kParallelGrain = 32768;

namespace detail {
bool in_parallel_region();
int omp_num_threads();  // inside a parallel region
int omp_thread_num();

// Keeps the first exception thrown by the threads of a parallel region, to rethrow it on the calling thread once
// the region has ended (an exception must not leave an OpenMP region: that terminates the process).
class FirstException {
 public:
  template <typename G>
  void run(const G& g) noexcept {
    try {
      g();
    } catch (...) {
      if (!taken_.test_and_set()) error_ = std::current_exception();
    }
  }
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::atomic_flag taken_ = ATOMIC_FLAG_INIT;
  std::exception_ptr error_;
};
}  // namespace detail

// Calls fn(begin, end) over [0, n) split into contiguous chunks, in parallel when n >= grain. An exception thrown
// by fn on any thread is rethrown here, on the calling thread, after all chunks have finished (the first one wins).
template <typename F>
void parallel_for(int64_t n, int64_t grain, const F& fn) {
  if (n <= 0) return;
  if (n < grain || detail::in_parallel_region()) {
    fn(int64_t{0}, n);
    return;
  }
#if defined(_OPENMP)
  detail::FirstException error;
#pragma omp parallel
  {
    const int64_t nt = detail::omp_num_threads();
    const int64_t tid = detail::omp_thread_num();
    const int64_t chunk = (n + nt - 1) / nt;
    const int64_t b = tid * chunk;
    const int64_t e = b + chunk < n ? b + chunk : n;
    if (b < e) error.run([&] { fn(b, e); });
  }
  error.rethrow();
#else
  fn(int64_t{0}, n);
#endif
}

}  // namespace tangent
