//! AFL target for the GGUF header validator (`sillok-models`' `gguf.rs`).
//!
//! The module is compiled in from its source file rather than through the
//! `sillok-models` crate: that crate links llama.cpp, whose C++ build would
//! double the fuzz build's time and is not what is fuzzed here. `gguf.rs`
//! uses only the standard library, so this is the same code the app runs.

use std::hint::black_box;

#[allow(dead_code, unreachable_pub)]
#[path = "../../../models/src/gguf.rs"]
mod gguf;

fn main() {
    afl::fuzz_nohook!(|data: &[u8]| {
        drop(black_box(gguf::read_header_bytes(data)));
    });
}
