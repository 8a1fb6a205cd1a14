#!/usr/bin/env bash
# First run to a usable window (the first-run screen drawn by the web UI) of
# the app as packaged: the .deb's files, unpacked, launched under Xvfb through
# the window-test harness with a fresh data directory. Prints the time.
#   installer/first-window-time.sh APP.deb
set -euo pipefail
cd "$(dirname "$0")/.."
. installer/env.sh
deb=$(realpath "$1")
files=$(mktemp -d)
trap 'rm -rf "$files"' EXIT
dpkg-deb -x "$deb" "$files"
out=$(SILLOK_APP_BINARY="$files/usr/bin/sillok-desktop" \
  SILLOK_CHUNK_TOKENIZER="$files/usr/share/sillok/chunk-tokenizer.json" \
  cargo test --workspace --locked --test window -- --ignored --nocapture first_run_window_of_the_package 2>&1) ||
  { echo "$out" | tail -20 >&2; exit 1; }
grep -o 'launch to usable window: .*' <<<"$out" | sed 's/launch to usable window: //'
