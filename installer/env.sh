# Sourced by the scripts: one build directory outside the clone, shared by
# every checkout on this machine (fast rebuilds in CI), overridable.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sillok/target}"
export SILLOK_MODEL_FILES="${SILLOK_MODEL_FILES:-$HOME/.cache/sillok/model-files}"
export SILLOK_FIXTURES="${SILLOK_FIXTURES:-$HOME/.cache/sillok/fixtures}"
export SILLOK_CHUNK_TOKENIZER="${SILLOK_CHUNK_TOKENIZER:-$SILLOK_MODEL_FILES/chunk-tokenizer.json}"
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
# The app's toolchain (installer/app-setup.sh): Node from PyPI, tauri-driver.
export SILLOK_NODE_VENV="${SILLOK_NODE_VENV:-$HOME/.cache/sillok/node-venv}"
export SILLOK_TOOLS="${SILLOK_TOOLS:-$HOME/.cache/sillok/tools}"
export PATH="$SILLOK_NODE_VENV/bin:$SILLOK_TOOLS/bin:$PATH"
true
