#!/usr/bin/env bash
# The release toolchain, pinned and from the registries only: the Tauri CLI
# (npm, installer/tauri-cli/package-lock.json) that makes the .deb, and the
# supply-chain tools: cargo-auditable (dependency list embedded in each binary)
# and cargo-cyclonedx (the CycloneDX SBOM). Node comes from app-setup.sh.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
. installer/env.sh

AUDITABLE_VERSION="0.7.7"
CYCLONEDX_VERSION="0.5.9"
log() { printf 'release-setup: %s\n' "$*" >&2; }

command -v node >/dev/null || ./installer/app-setup.sh

(
  cd installer/tauri-cli
  stamp=node_modules/.sillok-lock.sha256
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "npm ci (Tauri CLI)"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" > "$stamp"
  fi
)

# installed_version CRATE: its version in our tools folder, if installed there.
installed_version() {
  cargo install --list --root "$SILLOK_TOOLS" | awk -v c="$1" '$1 == c {sub(/^v/, "", $2); sub(/:$/, "", $2); print $2}'
}
if [ "$(installed_version cargo-auditable)" != "$AUDITABLE_VERSION" ]; then
  log "installing cargo-auditable $AUDITABLE_VERSION"
  cargo install cargo-auditable --version "=$AUDITABLE_VERSION" --locked --root "$SILLOK_TOOLS" -j1 --quiet
fi
if [ "$(installed_version cargo-cyclonedx)" != "$CYCLONEDX_VERSION" ]; then
  log "installing cargo-cyclonedx $CYCLONEDX_VERSION"
  cargo install cargo-cyclonedx --version "=$CYCLONEDX_VERSION" --locked --root "$SILLOK_TOOLS" -j1 --quiet
fi
