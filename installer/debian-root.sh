# Sourced: a clean Debian 12 (bookworm) root for the offline install check and
# the system-package closure, and a way to run commands in it.
#
#   debian_base            prints the pristine minbase root, made once with
#                          debootstrap from the Debian mirror (cached; root only)
#   debian_copy DIR        a fresh copy of it at DIR
#   in_root DIR [--offline] CMD...
#                          runs CMD in DIR (chroot) in a private mount namespace
#                          with /proc, /dev and /sys; --offline adds a network
#                          namespace with no interface but loopback (unshare -n)

SILLOK_DEBIAN_BASE="${SILLOK_DEBIAN_BASE:-$HOME/.cache/sillok/debian/bookworm-standard}"
SILLOK_DEBIAN_MIRROR="${SILLOK_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

debian_base() {
  if [ ! -f "$SILLOK_DEBIAN_BASE/.complete" ]; then
    command -v debootstrap >/dev/null || apt-get install -y -q debootstrap >&2
    rm -rf "$SILLOK_DEBIAN_BASE"
    mkdir -p "$(dirname "$SILLOK_DEBIAN_BASE")"
    debootstrap bookworm "$SILLOK_DEBIAN_BASE" "$SILLOK_DEBIAN_MIRROR" >&2
    # The same suites as an updated Debian 12 site (security fixes included).
    cat > "$SILLOK_DEBIAN_BASE/etc/apt/sources.list" <<SOURCES
deb $SILLOK_DEBIAN_MIRROR bookworm main
deb $SILLOK_DEBIAN_MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
    touch "$SILLOK_DEBIAN_BASE/.complete"
  fi
  echo "$SILLOK_DEBIAN_BASE"
}

debian_copy() {
  rm -rf "$1"
  cp -a "$(debian_base)" "$1"
  rm -f "$1/.complete"
}

in_root() {
  local root=$1; shift
  local net=()
  if [ "${1:-}" = --offline ]; then net=(-n); shift; fi
  unshare -m "${net[@]}" --propagation private -- bash -c '
    set -e
    root=$1; shift
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    mount -t sysfs sys "$root/sys" 2>/dev/null || true
    ip link set lo up 2>/dev/null || true
    exec chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
  ' in_root "$root" "$@"
}
