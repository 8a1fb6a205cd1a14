#!/usr/bin/env bash
# Command 2 of the README (and what CI runs): set up, check formatting and
# lints, build, and run every test with the real models.
set -euo pipefail
cd "$(dirname "$0")/.."
./installer/dev-setup.sh
. installer/env.sh
step() { printf '\n== %s\n' "$*" >&2; }

step "format";  cargo fmt --all --check
step "clippy";  cargo clippy --workspace --all-targets --locked -- -D warnings
step "dependency bans"; cargo deny --locked check bans   # deny.toml: no HTTP, telemetry or network plugins
step "web UI tests"; (cd ui && npm test --silent)
step "tests";   ./installer/with-keyring.sh cargo test --workspace --locked   # the vault's tests need a real keychain
step "installer scripts"; bash -n installer/*.sh
echo "all tests passed" >&2
