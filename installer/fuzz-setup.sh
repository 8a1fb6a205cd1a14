#!/usr/bin/env bash
# Installs the fuzzing tools the heavy check uses (idempotent): cargo-afl,
# pinned, into ~/.cache/sillok/fuzz-tools. Installing it builds AFL++ from the
# source bundled in the crate into ~/.local/share/afl.rs, for the current
# rustc; that needs only a C compiler and make (Debian: build-essential). No
# nightly toolchain and no LLVM plugins: instrumentation is rustc's stable
# SanitizerCoverage passes, which cargo-afl turns on.
set -euo pipefail
AFL_VERSION=0.17.1
TOOLS="${SILLOK_FUZZ_TOOLS:-$HOME/.cache/sillok/fuzz-tools}"

if ! command -v cc >/dev/null || ! command -v make >/dev/null; then
  apt-get install -y --no-install-recommends build-essential
fi
if ! "$TOOLS/bin/cargo-afl" afl --version 2>/dev/null | grep -q "^cargo-afl $AFL_VERSION "; then
  # Its own build folder: the shared CARGO_TARGET_DIR stays untouched.
  CARGO_TARGET_DIR="$TOOLS/build" cargo install cargo-afl --version "=$AFL_VERSION" \
    --locked --root "$TOOLS" --force
  rm -rf "$TOOLS/build"
fi
# A new rustc needs AFL++'s runtime built again; "already built" is fine.
if ! out=$("$TOOLS/bin/cargo-afl" afl config --build 2>&1); then
  grep -q "already built" <<<"$out" || { echo "$out" >&2; exit 1; }
fi
"$TOOLS/bin/cargo-afl" afl --version
