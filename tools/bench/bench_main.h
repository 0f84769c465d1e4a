#pragma once
// The shared main() of the benchmark programs: one thread (figures are per core and comparable with the
// single-threaded baselines), then Google Benchmark's usual command line.
#include <benchmark/benchmark.h>

#include "core/parallel.h"

namespace tangent::bench {

inline int run_benchmarks(int argc, char** argv) {
  set_num_threads(1);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace tangent::bench
