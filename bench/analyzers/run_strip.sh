#!/usr/bin/env bash
# Dictionary-free Korean suffix stripping vs bigram vs MeCab-ko (same BM25 as compare_ko.py).
# Usage: bench/analyzers/run_strip.sh [--json] [--no-mecab] [--show "텍스트"] [--suffixes]
# Same venv and data as run.sh (MeCab only for the reference row; --no-mecab runs with any python3).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=$HOME/.cache/sillok/py-mecab-venv
data=${SILLOK_EVAL_DIR:-$HOME/.cache/sillok-eval}
py=python3; [ -x "$venv/bin/python" ] && py=$venv/bin/python
exec nice "$py" "$here/compare_ko_strip.py" --data "$data" "$@"
