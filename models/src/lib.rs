//! Sillok's local LLM engine — the only crate that touches llama.cpp.
//!
//! It owns everything about model files and running them: the GGUF
//! pre-validator ([`gguf`]), the model [`Catalogue`] with hash verification,
//! model facts and the memory fit check ([`ModelInfo`]), prompt shaping (chat
//! templates and a completion style for base models), streaming generation
//! behind the [`Generator`] trait, and embeddings ([`Embedder`]). It knows
//! nothing of documents, indexes or the UI.
//!
//! ```no_run
//! use sillok_models::{Catalogue, CancelToken, EngineOptions, GenerationRequest, Generator, LlamaGenerator, Prompt, Role};
//!
//! # fn main() -> sillok_models::Result<()> {
//! let catalogue = Catalogue::open(std::path::Path::new("/tmp/sillok/models"))?;
//! let entry = catalogue.resolve(None, Role::Chat)?;
//! let model = LlamaGenerator::load(&catalogue.path_of(entry), entry, &EngineOptions::default())?;
//! let request = GenerationRequest::new(Prompt::Text("Hypertension is".into()), 32);
//! let report = model.generate(&request, &CancelToken::default(), &mut |piece| print!("{piece}"))?;
//! println!("\n{} tokens, stopped: {:?}", report.generated_tokens, report.stop);
//! # Ok(())
//! # }
//! ```

mod catalogue;
pub mod conformance;
mod cpu;
mod engine;
mod error;
mod generate;
pub mod gguf;
mod hash;
mod info;
mod known;
mod prompt;
mod scripted;
mod utf8;

pub use catalogue::{Catalogue, ModelEntry, PromptStyle, Provenance, Role, verify_file};
pub use cpu::check_cpu_baseline;
pub use engine::{DEFAULT_CONTEXT, Embedder, EngineOptions, LlamaGenerator, default_threads};
pub use error::{Error, Result};
pub use generate::{
    CancelToken, ChatRole, GenerationReport, GenerationRequest, Generator, MAX_PROMPT_BYTES,
    Message, Prompt, Sampling, StopReason, Timings,
};
pub use hash::{Progress, sha256_file};
pub use info::{MIN_CONTEXT, ModelInfo, available_memory_bytes};
pub use known::{KNOWN_MODELS, KnownModel};
pub use scripted::ScriptedGenerator;
pub use utf8::Utf8Stream;

/// Reads and validates a GGUF header, naming the file in any error.
///
/// # Errors
///
/// [`Error::Io`] or [`Error::MalformedGguf`].
pub fn read_gguf(path: &std::path::Path) -> Result<gguf::GgufHeader> {
    gguf::read_header(path).map_err(|e| match e {
        gguf::GgufReadError::Io(source) => Error::io(path, source),
        gguf::GgufReadError::Defect(defect) => Error::MalformedGguf {
            path: path.to_owned(),
            defect,
        },
    })
}
