#!/usr/bin/env bash
# Runs one of the README's quick-start commands (`tools/quickstart.sh test|main`) on a brand-new, minimal Debian 12
# root instead of this machine's own system, the way a new user's machine sees the project: nothing installed but
# debootstrap's minbase, so every package the build or the tests need must come from tools/install_deps.sh.
#
#   tools/ci/fresh_root.sh [test|main] [--cuda] [--ccache]
#
# As root, from anywhere in the project. It clones the committed HEAD (uncommitted changes are not part of it) into
# the root (made by debootstrap once and cached as a tarball in $FRESH_ROOT_CACHE, default
# /var/cache/tangent-fresh-root), and runs the quick start there with CI=true and TANGENT_REQUIRE_OPTIONAL=1 (every
# optional test dependency must be present; tests/support/optional.h) and no standard input. Package sources, DNS
# and certificates are the host's. --cuda mounts the host's /usr/local/cuda read-only (CI machines have the
# toolkit, so the CUDA backend keeps compiling). --ccache shares the host's compiler cache (object files only, no
# packages). The root is removed afterwards.
set -euo pipefail

cmd=test cuda=0 ccache=0
for a in "$@"; do
  case "$a" in
    test | main) cmd=$a ;;
    --cuda) cuda=1 ;;
    --ccache) ccache=1 ;;
    *)
      echo "usage: tools/ci/fresh_root.sh [test|main] [--cuda] [--ccache]" >&2
      exit 2
      ;;
  esac
done
log() { echo "fresh_root: $*"; }
[ "$(id -u)" -eq 0 ] || { log "run as root (it uses debootstrap, mount and chroot)" >&2; exit 2; }
project=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
[ -z "$(git -C "$project" status --porcelain --untracked-files=no)" ] ||
  log "note: uncommitted changes are not checked, only HEAD $(git -C "$project" rev-parse --short HEAD)"

cache=${FRESH_ROOT_CACHE:-/var/cache/tangent-fresh-root}
base="$cache/bookworm-minbase.tar"
root=$(mktemp -d /var/tmp/tangent-fresh-root.XXXXXX)
mounts=()
cleanup() {
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "${mounts[$i]}" 2> /dev/null || true; done
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT

if [ ! -f "$base" ]; then
  if ! command -v debootstrap > /dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap > /dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap > /dev/null; }
  fi
  # The host's Debian mirror (deb822 sources first, then the classic list), never its security suite.
  mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2> /dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '/^deb / && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2> /dev/null || true)
  [ -n "$mirror" ] || { log "no Debian mirror in the host's apt sources" >&2; exit 1; }
  log "making a minimal Debian 12 root from $mirror (once; cached in $cache)"
  mkdir -p "$cache"
  debootstrap --variant=minbase bookworm "$root" "$mirror" > "$cache/debootstrap.log" 2>&1 ||
    { log "debootstrap failed; see $cache/debootstrap.log" >&2; exit 1; }
  tar -C "$root" -cf "$base.tmp" . && mv "$base.tmp" "$base"
else
  tar -C "$root" -xf "$base"
fi

# What a machine on the same network would have: the host's package sources, DNS, pip settings and certificates.
rm -f "$root/etc/apt/sources.list"
mkdir -p "$root/etc/apt/sources.list.d"
cp /etc/apt/sources.list.d/*.sources "$root/etc/apt/sources.list.d/" 2> /dev/null || true
[ ! -f /etc/apt/sources.list ] || cp /etc/apt/sources.list "$root/etc/apt/"
cp /etc/resolv.conf "$root/etc/" 2> /dev/null || true
for f in /etc/pip.conf /etc/ssl/certs/ca-certificates.crt; do
  if [ -f "$f" ]; then mkdir -p "$root$(dirname "$f")" && cp "$f" "$root$f"; fi
done
# A local wheel house, where the host's pip settings point at one.
[ ! -d /opt/wheels ] || { mkdir -p "$root/opt/wheels" && cp -r /opt/wheels/. "$root/opt/wheels/"; }
if [ -d /usr/local/share/ca-certificates ]; then  # local authorities survive the root's update-ca-certificates
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp -r /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi

mkdir -p "$root/srv"
git clone -q "$project" "$root/srv/tangent"
for m in proc sys dev dev/pts; do
  mkdir -p "$root/$m" && mount --bind "/$m" "$root/$m" && mounts+=("$root/$m")
done
if [ "$ccache" = 1 ]; then
  host_cache=$(ccache -k cache_dir 2> /dev/null || echo "${HOME:-/root}/.cache/ccache")
  mkdir -p "$host_cache" "$root/root/.cache/ccache"
  mount --bind "$host_cache" "$root/root/.cache/ccache" && mounts+=("$root/root/.cache/ccache")
fi
if [ "$cuda" = 1 ]; then
  [ -d /usr/local/cuda ] || { log "--cuda: the host has no /usr/local/cuda" >&2; exit 1; }
  mkdir -p "$root/usr/local/cuda"
  mount --bind -o ro "$(readlink -f /usr/local/cuda)" "$root/usr/local/cuda" && mounts+=("$root/usr/local/cuda")
fi

log "tools/quickstart.sh $cmd on a new Debian 12 root (HEAD $(git -C "$project" rev-parse --short HEAD))"
start=$(date +%s)
status=0
# The host's environment goes along (registry settings, proxies, certificate paths), as it would for CI on a new
# machine; the paths are the root's own.
chroot "$root" /usr/bin/env HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  LANG=C.UTF-8 CI=true TANGENT_REQUIRE_OPTIONAL=1 bash -c "cd /srv/tangent && bash tools/quickstart.sh $cmd" < /dev/null || status=$?
elapsed=$(($(date +%s) - start))
printf 'fresh_root: quickstart %s finished with status %d in %dm%02ds\n' "$cmd" "$status" $((elapsed / 60)) $((elapsed % 60))
exit "$status"
