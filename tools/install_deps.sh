#!/usr/bin/env bash
# Installs what Tangent needs to build and test on Debian 12: the apt packages below (only those missing, with a
# single `apt-get update`), then NumPy through pip (a failure there is only a warning). Idempotent and quick when
# everything is present. Runs as root, or through sudo otherwise.
set -euo pipefail

PACKAGES=(
  cmake g++ make libdnnl-dev libgtest-dev libbenchmark-dev libprotobuf-dev protobuf-compiler libonnx-dev
  libcli11-dev nlohmann-json3-dev zlib1g-dev ccache dataset-fashion-mnist fortunes python3 python3-pip
)

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

# NumPy (used by tests that compare with Python). Debian's Python is "externally managed": the environment
# variable lets pip install into it anyway; pip versions that do not know it ignore it.
if python3 -c 'import numpy' > /dev/null 2>&1; then
  log "numpy present"
elif PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1 \
     python3 -m pip install --quiet numpy < /dev/null; then
  log "numpy installed"
else
  log "warning: could not pip-install numpy; tests that need it will be skipped" >&2
fi
