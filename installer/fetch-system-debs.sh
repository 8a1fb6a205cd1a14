#!/usr/bin/env bash
# The system-package closure of the app: every .deb that a minimal Debian 12
# root (debootstrap's default: required + important priority, what a
# Debian 12 install without any task has) lacks to
# install the app's .deb and the Secret Service keychain it uses (gnome-keyring
# on a private or desktop D-Bus). Downloaded with apt from the Debian mirror
# into OUT_DIR, for `sillok-installer build --system-debs OUT_DIR`. A desktop
# that already has some of them installs only what it lacks (the installer
# skips packages already there at the same or a newer version).
#
#   installer/fetch-system-debs.sh APP.deb OUT_DIR      (root; needs the mirror)
set -euo pipefail
cd "$(dirname "$0")/.."
app=$(realpath "$1")
out=$2
. installer/env.sh
. installer/debian-root.sh
# The keychain: the app's Recommends, plus the bus tools to start it headless.
EXTRA=(gnome-keyring dbus-daemon dbus-bin)

work=$(mktemp -d /tmp/sillok-closure.XXXXXX)
trap 'rm -rf "$work"' EXIT
debian_copy "$work/root"
cp /etc/resolv.conf "$work/root/etc/resolv.conf"
cp "$app" "$work/root/tmp/app.deb"
# debootstrap leaves the base system's own .debs in the cache: not ours to ship.
rm -f "$work/root/var/cache/apt/archives/"*.deb
in_root "$work/root" apt-get update -q >&2
in_root "$work/root" apt-get install -y -q --download-only --no-install-recommends \
  /tmp/app.deb "${EXTRA[@]}" >&2
mkdir -p "$out"
rm -f "$out"/*.deb
cp "$work/root/var/cache/apt/archives/"*.deb "$out/"
echo "fetch-system-debs: $(ls "$out"/*.deb | wc -l) packages, $(du -sh "$out" | cut -f1) in $out" >&2
