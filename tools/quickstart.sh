#!/usr/bin/env bash
# Quick start: installs the dependencies, builds Tangent (Release, into build/), then either runs the main job
# (`tools/quickstart.sh main`: build/bin/fit_mlp, which prints a falling loss) or the whole test suite
# (`tools/quickstart.sh test`). Works from any directory; extra CMake options can be passed in CMAKE_ARGS.
set -euo pipefail

mode="${1:-}"
case "$mode" in
  main | test) ;;
  *)
    echo "usage: tools/quickstart.sh main|test" >&2
    exit 2
    ;;
esac

cd "$(dirname "${BASH_SOURCE[0]}")/.."
jobs="${JOBS:-2}"

bash tools/install_deps.sh

launcher=()
if command -v ccache > /dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
fi
# shellcheck disable=SC2086  # CMAKE_ARGS is a list of options
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" ${CMAKE_ARGS:-}
cmake --build build -j"$jobs"

if [ "$mode" = main ]; then
  exec build/bin/fit_mlp
fi
# ctest prints its summary line ("100% tests passed, 0 tests failed out of N") last; its status is ours.
ctest --test-dir build --output-on-failure -j"$jobs"
