#!/usr/bin/env bash
# Command 1 of the README: set up, build, install the default model the way a
# user would (import from a file), show it, index the bundled sample library,
# search it, and answer a question from it with cited sources.
set -euo pipefail
cd "$(dirname "$0")/.."
./installer/dev-setup.sh
. installer/env.sh
cargo build --release -p sillok-cli
sillok="$CARGO_TARGET_DIR/release/sillok"

default_model="gemma-3-270m-q4_k_m"
if ! "$sillok" models info "$default_model" >/dev/null 2>&1; then
  "$sillok" models import "$SILLOK_MODEL_FILES/gemma-3-270m-q4_k_m.gguf"
fi
"$sillok" models info "$default_model"
echo
echo
"$sillok" ingest samples/library --collection samples
query="${SILLOK_DEMO_QUERY:-혈압약 로사르탄}"
echo "> search: $query"
"$sillok" search "$query" -k 3
echo
question="${1:-김가상 환자에게 재진 때 추가한 혈압약은?}"
echo "> ask: $question"
"$sillok" ask --model "$default_model" --max-tokens 96 --no-save "$question"
