# Sourced by the scripts: one build directory outside the clone, shared by
# every checkout on this machine (fast rebuilds in CI), overridable.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sillok/target}"
export SILLOK_MODEL_FILES="${SILLOK_MODEL_FILES:-$HOME/.cache/sillok/model-files}"
export SILLOK_CHUNK_TOKENIZER="${SILLOK_CHUNK_TOKENIZER:-$SILLOK_MODEL_FILES/chunk-tokenizer.json}"
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
true
