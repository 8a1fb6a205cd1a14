#!/usr/bin/env bash
# Builds the release binaries with their dependency list embedded (cargo
# auditable), the CycloneDX SBOM of the shipped binaries, and the .deb made by
# the Tauri bundler (src-tauri/tauri.conf.json, bundle section). Offline once
# the toolchains are set up (app-setup.sh, release-setup.sh).
#
#   installer/build-deb.sh [OUT_DIR]      default: $CARGO_TARGET_DIR/deb
#   SILLOK_DEB_VERSION=0.1.1 ...          package version (default: tauri.conf.json's)
#   SILLOK_SKIP_CARGO_BUILD=1 ...         bundle the release binaries already built
#
# Out: sillok_<version>_amd64.deb, sillok.cdx.json (the CLI's SBOM) and
# sillok-desktop.cdx.json (the app's). AppImage is not built: its bundler
# downloads linuxdeploy at build time, which an offline build cannot.
set -euo pipefail
cd "$(dirname "$0")/.."
./installer/app-setup.sh
./installer/release-setup.sh
. installer/env.sh
log() { printf 'build-deb: %s\n' "$*" >&2; }

out="${1:-$CARGO_TARGET_DIR/deb}"
release="$CARGO_TARGET_DIR/release"
# tauri.conf.json's bundle.linux.deb.files take the staged files from here.
staging=target/deb-staging

if [ -z "${SILLOK_SKIP_CARGO_BUILD:-}" ]; then
  log "cargo auditable build --release (the first one is slow: llama.cpp)"
  nice -n 10 cargo auditable build --release --locked --workspace --bins
fi
for bin in sillok sillok-desktop; do
  ./installer/check-auditable.sh "$release/$bin"
done

log "CycloneDX SBOM"
sbom_dir=$(mktemp -d)
trap 'rm -rf "$sbom_dir"' EXIT
# cargo-cyclonedx writes next to each package's Cargo.toml: run it on a copy
# of the sources so the tree stays clean. Build-time-only crates are left out:
# the SBOM lists what is inside the shipped binaries.
mkdir "$sbom_dir/src"
tar -c --exclude=./target --exclude=node_modules --exclude=.git --exclude=./samples --exclude=./bench . |
  tar -x -C "$sbom_dir/src"
(cd "$sbom_dir/src" && cargo cyclonedx --format json --spec-version 1.5 --describe binaries \
  --target x86_64-unknown-linux-gnu --no-build-deps -q)
for pkg in cli:sillok src-tauri:sillok-desktop; do
  dir=${pkg%%:*} bin=${pkg##*:}
  mv "$sbom_dir/src/$dir/${bin}_bin.cdx.json" "$sbom_dir/$bin.cdx.json"
done

rm -rf "$staging"
mkdir -p "$staging"
install -m 0755 "$release/sillok" "$staging/sillok"
install -m 0644 "$SILLOK_CHUNK_TOKENIZER" "$staging/chunk-tokenizer.json"
install -m 0644 "$sbom_dir/sillok.cdx.json" "$sbom_dir/sillok-desktop.cdx.json" "$staging/"

overrides='{}'
if [ -n "${SILLOK_DEB_VERSION:-}" ]; then
  overrides=$(printf '{"version":"%s"}' "$SILLOK_DEB_VERSION")
fi
log "tauri bundle --bundles deb"
rm -rf "$release/bundle/deb"
nice -n 10 installer/tauri-cli/node_modules/.bin/tauri bundle --bundles deb --config "$overrides"
deb=$(ls "$release"/bundle/deb/*.deb)

mkdir -p "$out"
# Debian's own file name: package_version_arch.deb.
name=$(dpkg-deb -f "$deb" Package)_$(dpkg-deb -f "$deb" Version)_$(dpkg-deb -f "$deb" Architecture).deb
cp "$deb" "$out/$name"
cp "$sbom_dir/sillok.cdx.json" "$sbom_dir/sillok-desktop.cdx.json" "$out/"
./installer/check-deb.sh "$out/$name"
log "done: $out/$name ($(du -h "$out/$name" | cut -f1))"
echo "$out/$name"
