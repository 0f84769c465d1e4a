#!/usr/bin/env bash
# Quick start: installs the dependencies, builds Tangent (Release, into build/), then either runs the main job
# (`tools/quickstart.sh main`: train the CNN on Fashion-MNIST, export it to ONNX and check it, compute its NTK on
# test images) or the whole test suite (`tools/quickstart.sh test`). Works from any directory; extra CMake options
# can be passed in CMAKE_ARGS.
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
  # Paths relative to the project root in ccache's keys, so that clones in other places (a fresh root, CI) reuse
  # one cache.
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
fi
# shellcheck disable=SC2086  # CMAKE_ARGS is a list of options
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" ${CMAKE_ARGS:-}
cmake --build build -j"$jobs"

if [ "$mode" = main ]; then
  # The main job: train the CNN on Fashion-MNIST (a short run), export it to ONNX and check the file.
  out="${OUT:-runs/quickstart}"
  build/bin/tangent train --model cnn --data fashion-mnist --epochs "${EPOCHS:-2}" --batch-size 128 --lr 2e-3 \
    --optimizer adam --seed 0 --out "$out"
  build/bin/tangent export "$out/model.tgt" --onnx "$out/model.onnx"
  build/bin/tangent export --check "$out/model.onnx"
  # Its empirical neural tangent kernel (trace over the 10 outputs) on the first test images, with the top
  # eigenvalues, written as .npy plus an SVG heatmap (sorted by label) and spectrum.
  build/bin/tangent ntk "$out/model.tgt" --data "fashion-mnist-test:${NTK_IMAGES:-300}" --mode trace --eig 10 \
    --out "$out/ntk.npy" --plot "$out/ntk.svg"
  echo "quickstart: model, metrics and plots in $out/ (model.tgt, metrics.csv, curves.svg, model.onnx, ntk.npy, ntk.svg)"
  exit 0
fi
# ctest prints its summary line ("100% tests passed, 0 tests failed out of N") last; its status is ours.
ctest --test-dir build --output-on-failure -j"$jobs"
