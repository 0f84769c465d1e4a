#!/usr/bin/env bash
# Fails, listing the files, when a tracked C++ or CUDA source differs from what clang-format makes of it under the
# project's .clang-format (clang-format 14, Debian's `clang-format`, installed here when missing). Fix with
# `clang-format -i FILE`.
set -euo pipefail
cd "$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)"
if ! command -v clang-format > /dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq clang-format > /dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq clang-format > /dev/null; }
fi
mapfile -t files < <(git ls-files '*.cpp' '*.h' '*.cu')
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run --Werror "$f" > /dev/null 2>&1 || bad+=("$f")
done
if [ "${#bad[@]}" -gt 0 ]; then
  echo "check_format: ${#bad[@]} file(s) not formatted (clang-format -i FILE):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "check_format: ok (${#files[@]} files)"
