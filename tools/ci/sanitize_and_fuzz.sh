#!/usr/bin/env bash
# The sanitizer and fuzzing stage of CI (runs from any directory):
#   1. installs clang, its sanitizer/libFuzzer runtimes and libomp if missing (tools/install_deps.sh --sanitize);
#   2. configures and builds one clang build in build-sanitize/ with ASan + UBSan everywhere and the libFuzzer
#      targets (-DTANGENT_FUZZ=ON), CUDA and benchmarks off;
#   3. runs the whole ctest suite there, leak checking on (it includes a replay of every fuzz target's seeds and
#      committed regression inputs);
#   4. writes the seed corpora (make_seeds) and runs every fuzz target for FUZZ_SECONDS (default 60), JOBS (default
#      2) at a time, then prints one line per target: executions, exec/s, corpus size.
# Fails on any test failure, sanitizer report, leak, crash, timeout or out-of-memory. Findings land in
# build-sanitize/fuzz/artifacts/ (reproduce: build-sanitize/bin/fuzz_<reader> ARTIFACT).
# Environment: FUZZ_SECONDS, JOBS, SANITIZE_BUILD_DIR (default <root>/build-sanitize), SKIP_CTEST=1, SKIP_FUZZ=1.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${SANITIZE_BUILD_DIR:-$root/build-sanitize}
seconds=${FUZZ_SECONDS:-60}
jobs=${JOBS:-2}
log() { echo "sanitize_and_fuzz: $*"; }
now() { date +%s; }
t0=$(now)

bash "$root/tools/install_deps.sh" --sanitize < /dev/null

launcher=()
if command -v ccache > /dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR=$root  # cache keys relative to the project root, shared between clones
fi
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ -DTANGENT_CUDA=OFF \
  -DTANGENT_BUILD_BENCH=OFF -DTANGENT_FUZZ=ON "${launcher[@]}" > "$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j"$jobs"
t_build=$(now)
log "build: $((t_build - t0)) s"

# Sanitizer settings for everything below. Leak checking is on; the suppressions file lists third-party leaks
# only, each with its reason.
export ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$root/tools/ci/lsan.supp:print_suppressions=0
# OpenMPI unloads its MCA components at MPI_Finalize, after which their frames in a leak report have no module name;
# kept loaded, they match lsan.supp's OpenMPI lines (with the full unwinding set for ctest below).
export OMPI_MCA_mca_base_component_disable_dlclose=1

if [ "${SKIP_CTEST:-0}" != 1 ]; then
  # fast_unwind_on_malloc=0: OpenMPI's libraries have no frame pointers, so the fast unwinder stops inside them and
  # their leak reports would not reach the frames lsan.supp names (the MPI tests run under mpirun here).
  (cd "$build" && ASAN_OPTIONS=$ASAN_OPTIONS:fast_unwind_on_malloc=0 ctest --output-on-failure --timeout 1800)
fi
t_test=$(now)
log "ctest: $((t_test - t_build)) s"

[ "${SKIP_FUZZ:-0}" = 1 ] && exit 0

fuzz=$build/fuzz
rm -rf "$fuzz/logs" "$fuzz/artifacts"
mkdir -p "$fuzz/logs" "$fuzz/artifacts" "$fuzz/corpus"
"$build/bin/make_seeds" "$fuzz/seeds"

# One fuzz target: a fresh corpus directory grows from the seeds (both are inputs; new finds go to the first).
# -timeout catches hangs, -rss_limit_mb (and the malloc limit it implies) allocations the input cannot justify.
run_target() {
  local name=$1
  local corpus=$fuzz/corpus/$name
  rm -rf "$corpus"
  mkdir -p "$corpus"
  local status=0
  OMP_NUM_THREADS=1 "$build/bin/$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$fuzz/artifacts/$name-" "$corpus" "$fuzz/seeds/$name" \
    > "$fuzz/logs/$name.log" 2>&1 || status=$?
  echo "$status" > "$fuzz/logs/$name.status"
}

targets=()
for exe in "$build"/bin/fuzz_*; do targets+=("$(basename "$exe")"); done
log "fuzzing ${#targets[@]} targets for ${seconds} s each, ${jobs} at a time"
for name in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  run_target "$name" &
done
wait

failed=0
for name in "${targets[@]}"; do
  status=$(cat "$fuzz/logs/$name.status")
  stats=$fuzz/logs/$name.log
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$stats" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$stats" | tail -1)
  corp=$(grep -o 'corp: [0-9]*/[0-9a-zA-Z]*' "$stats" | tail -1 | cut -d' ' -f2)
  printf 'fuzz %-26s %s: %10s execs %7s exec/s  corpus %s inputs/bytes (%s seeds, %s new files)\n' "$name" \
    "$([ "$status" = 0 ] && echo ok || echo FAILED)" "${execs:-?}" "${rate:-?}" "${corp:-?}" \
    "$(find "$fuzz/seeds/$name" -type f | wc -l)" "$(find "$fuzz/corpus/$name" -type f | wc -l)"
  if [ "$status" != 0 ]; then
    failed=1
    grep -E 'ERROR|SUMMARY|terminate|Test unit written|==[0-9]+==' "$stats" | head -20 | sed 's/^/    /'
  fi
done
log "fuzzing: $(($(now) - t_test)) s; total $(($(now) - t0)) s"
if [ "$failed" != 0 ]; then
  log "FAILED: findings above (logs in $fuzz/logs, inputs in $fuzz/artifacts)" >&2
  exit 1
fi
