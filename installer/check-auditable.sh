#!/usr/bin/env bash
# Fails unless the binary carries cargo auditable's dependency list: the
# `.dep-v0` section, zlib-compressed JSON naming the crates built into it.
#   installer/check-auditable.sh BINARY [CRATE...]   (default crate: sillok-core)
set -euo pipefail
bin=$1; shift
want=("${@:-sillok-core}")
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
if ! objcopy --dump-section .dep-v0="$tmp" "$bin" /dev/null 2>/dev/null || [ ! -s "$tmp" ]; then
  echo "check-auditable: $bin has no .dep-v0 section (not built with cargo auditable)" >&2
  exit 1
fi
python3 - "$tmp" "$bin" "${want[@]}" <<'PY'
import json, sys, zlib
data = json.loads(zlib.decompress(open(sys.argv[1], "rb").read()))
names = {p["name"] for p in data["packages"]}
missing = [c for c in sys.argv[3:] if c not in names]
if missing:
    sys.exit(f"check-auditable: {sys.argv[2]}: .dep-v0 lacks {missing}")
print(f"check-auditable: {sys.argv[2]}: {len(names)} crates listed")
PY
