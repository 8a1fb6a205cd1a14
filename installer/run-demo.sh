#!/usr/bin/env bash
# Command 1 of the README: set up, build, install the default model the way a
# user would (import from a file), index the bundled sample library, and open
# the desktop app on it. Without a display (or with --cli) the same library
# is searched and asked from the command line instead.
set -euo pipefail
cd "$(dirname "$0")/.."
./installer/dev-setup.sh
. installer/env.sh
cargo build --release --workspace --bins
sillok="$CARGO_TARGET_DIR/release/sillok"

# The library is encrypted under a key the OS keychain holds. Headless (no
# session bus), the demo runs under a throwaway keychain, and so with a
# throwaway data directory: a vault whose keychain went away cannot be
# opened again.
if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
  export SILLOK_DATA_DIR="${SILLOK_DATA_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/sillok-demo.XXXXXX")}"
  echo "> no session keychain: a throwaway one, with the data directory $SILLOK_DATA_DIR"
  exec ./installer/with-keyring.sh "$0" "$@"
fi

default_model="gemma-3-270m-q4_k_m"
if ! "$sillok" models info "$default_model" >/dev/null 2>&1; then
  "$sillok" models import "$SILLOK_MODEL_FILES/gemma-3-270m-q4_k_m.gguf"
fi
"$sillok" models info "$default_model"
echo
"$sillok" ingest samples/library --collection samples

if [ "${1:-}" != "--cli" ] && [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "> opening the Sillok app (sample library: samples/library)"
  SILLOK_SAMPLE_LIBRARY="$PWD/samples/library" exec "$CARGO_TARGET_DIR/release/sillok-desktop"
fi
[ "${1:-}" = "--cli" ] && shift
echo "> no display: the command-line demo (run this on a desktop to open the app)"
query="${SILLOK_DEMO_QUERY:-혈압약 로사르탄}"
echo "> search: $query"
"$sillok" search "$query" -k 3
echo
question="${1:-김가상 환자에게 재진 때 추가한 혈압약은?}"
echo "> ask: $question"
"$sillok" ask --model "$default_model" --max-tokens 96 --no-save "$question"
