#!/usr/bin/env bash
# Installs what Tangent needs to build and test on Debian 12: the apt packages below (only those missing, with a
# single `apt-get update`), then NumPy and ONNX Runtime through pip. A pip failure is only a warning for a user
# (the tests that need them skip), but an error under CI (TANGENT_REQUIRE_OPTIONAL=1, or CI=true), where every
# optional test dependency must be present (tests/support/optional.h).
# Idempotent and quick when everything is present. Runs as root, or through sudo otherwise.
set -euo pipefail

# ocl-icd-opencl-dev: oneDNN's CMake package config looks for OpenCL (find_dependency), but libdnnl-dev only
# *recommends* it, and we install without recommends; a bare Debian 12 then fails at `find_package(dnnl)`.
# ca-certificates: pip reaches PyPI over HTTPS. git: CMake and the tests call it on a clone.
# liblapacke-dev libopenblas-dev: LAPACK (through LAPACKE) on OpenBLAS, for ops/decomposition.cpp.
# libopenmpi-dev, openmpi-bin: the MPI backend of nn/distributed (optional for CMake, required by the tests under CI).
PACKAGES=(
  cmake g++ make git ca-certificates libdnnl-dev ocl-icd-opencl-dev liblapacke-dev libopenblas-dev
  libgtest-dev libbenchmark-dev libprotobuf-dev
  protobuf-compiler libonnx-dev libcli11-dev nlohmann-json3-dev zlib1g-dev ccache dataset-fashion-mnist fortunes
  python3 python3-pip libopenmpi-dev openmpi-bin
)
# --sanitize: also what tools/ci/sanitize_and_fuzz.sh needs: clang with its sanitizer and libFuzzer runtimes, LLVM's
# OpenMP runtime (clang's -fopenmp links libomp) and llvm-symbolizer (file:line in sanitizer reports).
if [ "${1:-}" = --sanitize ]; then
  PACKAGES+=(clang libclang-rt-dev libomp-dev llvm)
elif [ $# -gt 0 ]; then
  echo "usage: tools/install_deps.sh [--sanitize]" >&2
  exit 2
fi

log() { echo "install_deps: $*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo > /dev/null 2>&1; then
    sudo "$@"
  else
    log "error: need root (or sudo) to run: $*" >&2
    return 1
  fi
}

installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2> /dev/null)" = "install ok installed" ]; }

missing=()
if command -v dpkg-query > /dev/null 2>&1; then
  for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
else
  log "warning: not a Debian system (no dpkg-query); install these yourself: ${PACKAGES[*]}" >&2
fi

if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
else
  log "all apt packages present"
fi

# Python packages for the tests that check Tangent's files with independent readers (NumPy for .npy and
# safetensors, ONNX Runtime for exported models); those tests skip without them. Debian's Python is "externally
# managed": the environment variable lets pip install into it anyway, and pip versions that do not know it
# ignore it.
required=0
if [ -n "${TANGENT_REQUIRE_OPTIONAL:-}" ]; then
  if [ "$TANGENT_REQUIRE_OPTIONAL" != 0 ]; then required=1; fi
elif [ "${CI:-}" = true ]; then
  required=1
fi
pip_failed=()
for module in numpy onnxruntime; do
  if python3 -c "import $module" > /dev/null 2>&1; then
    log "$module present"
  elif PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1 \
       python3 -m pip install --quiet "$module" < /dev/null; then
    log "$module installed"
  else
    pip_failed+=("$module")
    log "warning: could not pip-install $module; the tests that need it will be skipped" >&2
  fi
done
if [ "${#pip_failed[@]}" -gt 0 ] && [ "$required" = 1 ]; then
  log "error: ${pip_failed[*]} missing, and CI requires every optional test dependency (TANGENT_REQUIRE_OPTIONAL / CI)" >&2
  exit 1
fi
