#!/usr/bin/env bash
# Fuzzes every target in fuzz/ with AFL++ (cargo-afl, stable Rust) for
# SILLOK_FUZZ_SECONDS each (default 60), one after the other, and prints each
# target's executions, speed, coverage and findings. Seeds: the crash corpus
# (tests/crash-corpus/<target>) and the sample library. Crashes and hangs are
# left in $SILLOK_FUZZ_OUT/<target>/default/{crashes,hangs}; copy each one into
# tests/crash-corpus/<target>/ as found-<target>-<date>-<n> with its fix, so
# the normal suite replays it. Exits 1 when any target found one.
#   installer/fuzz.sh [target...]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS="${SILLOK_FUZZ_TOOLS:-$HOME/.cache/sillok/fuzz-tools}"
SECONDS_EACH="${SILLOK_FUZZ_SECONDS:-60}"
OUT="${SILLOK_FUZZ_OUT:-$HOME/.cache/sillok/fuzz-out}"
export PATH="$TOOLS/bin:$HOME/.cargo/bin:$PATH"
# Its own build folder: instrumented builds must not mix with the main ones.
export CARGO_TARGET_DIR="${SILLOK_FUZZ_TARGET_DIR:-$HOME/.cache/sillok/fuzz-target}"

PARSERS=(txt md html pdf docx xlsx pptx hwp hwpx csv tsv fhir ccda image)
ALL=("${PARSERS[@]}" detect gguf)
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL[@]}")

# Not --locked: fuzz/Cargo.lock pins what it has, and a dependency added to
# sillok-index since it was written is resolved here rather than failing.
(cd fuzz && cargo afl build --release)
BIN="$CARGO_TARGET_DIR/release"

seeds_for() { # target folder
  local t=$1 dir=$2 ext
  mkdir -p "$dir"
  case $t in
    detect) for p in "${PARSERS[@]}"; do cp tests/crash-corpus/"$p"/* "$dir"/ 2>/dev/null || true; done ;;
    *) cp tests/crash-corpus/"$t"/* "$dir"/ ;;
  esac
  case $t in
    pdf) cp index/tests/fixtures/ko_en_2pages.pdf index/tests/fixtures/with_image.pdf "$dir"/ ;;
    image | gguf | detect) ;;
    *)
      ext=$t
      find samples/library -name "*.$ext" -size -64k -exec cp {} "$dir"/ \; ;;
  esac
}

# A parse runs on a 64 MiB stack in the app (index/src/parse/mod.rs); AFL's
# persistent loop runs on the main thread, so give it the same.
ulimit -s 65536
export AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_IGNORE_SEED_PROBLEMS=1 AFL_NO_AFFINITY=1

found=0
printf '%-8s %10s %10s %8s %8s %8s\n' target execs execs/s paths crashes hangs
for t in "${TARGETS[@]}"; do
  work="$OUT/$t"
  rm -rf "$work"
  seeds_for "$t" "$work/seeds"
  if [ "$t" = gguf ]; then cmd=("$BIN/gguf"); else cmd=("$BIN/parse" "$t"); fi
  # -t: ms per input (a debug-free build; the hostile seeds are slow on purpose).
  cargo afl fuzz -i "$work/seeds" -o "$work" -V "$SECONDS_EACH" -t 5000 -m none \
    -- "${cmd[@]}" >"$work.log" 2>&1 || { echo "$t: afl-fuzz failed, see $work.log" >&2; tail -20 "$work.log" >&2; found=1; continue; }
  stats="$work/default/fuzzer_stats"
  get() { awk -F' *: *' -v k="$1" '$1 == k {print $2}' "$stats"; }
  printf '%-8s %10s %10s %8s %8s %8s\n' "$t" "$(get execs_done)" "$(get execs_per_sec)" \
    "$(get corpus_count)" "$(get saved_crashes)" "$(get saved_hangs)"
  if [ "$(get saved_crashes)" != 0 ] || [ "$(get saved_hangs)" != 0 ]; then found=1; fi
done
exit $found
