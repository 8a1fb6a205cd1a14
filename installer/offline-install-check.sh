#!/usr/bin/env bash
# The offline install check (heavy check): in a clean Debian 12 root made with
# debootstrap, with networking off (unshare -n), install a signed bundle, run
# `sillok --version` and a grounded `sillok ask` over samples/library, upgrade
# to a second bundle with a bumped version and check the data survived, then
# remove and purge the package: user data stays, system files go, and
# `dpkg -L sillok` lists nothing outside the expected prefixes. Prints the
# sizes and times for the release note. Needs root, the Debian mirror (only to
# make the root and fetch the system packages, before the network goes off)
# and the release build (installer/build-deb.sh, which it runs).
#
#   installer/offline-install-check.sh [WORK_DIR]    default /tmp/sillok-offline-check
#   SILLOK_SKIP_CARGO_BUILD=1: package the release binaries already built
#   SILLOK_SKIP_WINDOW=1: skip the first-window measurement (a window-test build)
set -euo pipefail
cd "$(dirname "$0")/.."
. installer/env.sh
. installer/debian-root.sh
work=$(realpath -m "${1:-/tmp/sillok-offline-check}")
release="$CARGO_TARGET_DIR/release"
step() { printf '\n== offline-install-check: %s\n' "$*" >&2; }
fail() { echo "offline-install-check: FAILED: $*" >&2; exit 1; }
size() { du -sb "$@" | awk '{s += $1} END {printf "%.1f MB", s / 1e6}'; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f s", b - a}'; }
declare -A numbers=()

mkdir -p "$work"
[ "$(id -u)" = 0 ] || fail "run as root (debootstrap, chroot, unshare)"

step "the .debs: 0.1.0 and a bumped 0.1.1 of the same build"
./installer/build-deb.sh "$work/deb-0.1.0" >/dev/null
SILLOK_SKIP_CARGO_BUILD=1 SILLOK_DEB_VERSION=0.1.1 ./installer/build-deb.sh "$work/deb-0.1.1" >/dev/null
deb1=$(ls "$work"/deb-0.1.0/sillok_*.deb)
deb2=$(ls "$work"/deb-0.1.1/sillok_*.deb)
installer_bin="$release/sillok-installer"
[ -x "$installer_bin" ] || fail "$installer_bin is missing (the release build of installer/tool)"

step "the system-package closure over a standard (debootstrap) Debian 12 root"
if [ ! -f "$work/system/.for" ] || [ "$(cat "$work/system/.for")" != "$(dpkg-deb -f "$deb1" Depends)" ]; then
  ./installer/fetch-system-debs.sh "$deb1" "$work/system"
  dpkg-deb -f "$deb1" Depends > "$work/system/.for"
fi

step "a throwaway release key and two signed bundles"
rm -rf "$work/key" "$work/usb"
mkdir -p "$work/usb"
mkdir -p "$work/key"
"$installer_bin" keygen --out-dir "$work/key" --no-password >/dev/null
key="$work/key/sillok-release.key" pub="$work/key/sillok-release.pub"
models=(--model "$SILLOK_MODEL_FILES/gemma-3-270m-q4_k_m.gguf" --model "$SILLOK_MODEL_FILES/multilingual-e5-small.gguf")
for v in 0.1.0 0.1.1; do
  deb=$deb1; [ "$v" = 0.1.1 ] && deb=$deb2
  "$installer_bin" build --out "$work/usb/bundle-$v" --deb "$deb" --system-debs "$work/system" \
    "${models[@]}" --secret-key "$key" --version "$v" >/dev/null
done
"$installer_bin" verify "$work/usb/bundle-0.1.0" --pubkey "$pub" >/dev/null
numbers[deb]=$(size "$deb1")
numbers[bundle_app]=$(size "$deb1" "$installer_bin")
numbers[bundle_model]=$(size "$deb1" "$installer_bin" "$SILLOK_MODEL_FILES/gemma-3-270m-q4_k_m.gguf")
numbers[bundle_full]=$(size "$work/usb/bundle-0.1.0")
numbers[system]="$(ls "$work"/system/*.deb | wc -l) packages, $(size "$work"/system/*.deb)"

step "a clean Debian 12 root, the stick and the key copied in"
root="$work/root"
debian_copy "$root"
mkdir -p "$root/media/usb" "$root/srv" "$root/usr/local/bin"
cp -a "$work/usb/." "$root/media/usb/"
cp "$pub" "$root/root/release.pub"
cp -a samples/library "$root/srv/samples"
cp installer/offline-in-root.sh "$root/usr/local/bin/sillok-offline-check"
rm -f "$root/etc/resolv.conf"

step "install 0.1.0 with networking off"
t=$(now)
in_root "$root" --offline /media/usb/bundle-0.1.0/install --pubkey /root/release.pub --yes >"$work/install-0.1.0.log" 2>&1 ||
  { tail -30 "$work/install-0.1.0.log" >&2; fail "install of bundle 0.1.0"; }
numbers[install_time]=$(elapsed "$t")
in_root "$root" --offline sillok-offline-check first || fail "first run in the root"

step "upgrade to 0.1.1 with networking off"
t=$(now)
in_root "$root" --offline /media/usb/bundle-0.1.1/install --pubkey /root/release.pub --yes >"$work/install-0.1.1.log" 2>&1 ||
  { tail -30 "$work/install-0.1.1.log" >&2; fail "upgrade to bundle 0.1.1"; }
numbers[upgrade_time]=$(elapsed "$t")
in_root "$root" --offline sillok-offline-check upgraded || fail "after the upgrade"

step "remove and purge"
in_root "$root" --offline sillok-offline-check removed || fail "remove/purge"

step "first run to a window, from the package's files (host, Xvfb)"
if [ -z "${SILLOK_SKIP_WINDOW:-}" ]; then
  numbers[first_window]=$(./installer/first-window-time.sh "$deb1" 2>"$work/first-window.log" || echo "not measured (see $work/first-window.log)")
else
  numbers[first_window]="skipped (SILLOK_SKIP_WINDOW)"
fi

printf '\n== offline-install-check: numbers\n'
printf '%-34s %s\n' \
  ".deb (app + CLI + tokenizer)" "${numbers[deb]}" \
  "bundle, app alone (+ installer)" "${numbers[bundle_app]}" \
  "bundle with the default model" "${numbers[bundle_model]}" \
  "bundle as built (+ e5, closure)" "${numbers[bundle_full]}" \
  "system-package closure" "${numbers[system]}" \
  "offline install (0.1.0)" "${numbers[install_time]}" \
  "offline upgrade (0.1.1)" "${numbers[upgrade_time]}" \
  "first run to a mapped window" "${numbers[first_window]}"
# The root and the bundles take gigabytes; the logs, .debs and closure stay.
rm -rf "$root" "$work/usb"
echo "offline-install-check: ok"
