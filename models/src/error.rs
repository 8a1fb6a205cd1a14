//! The engine's one error type.

use std::path::PathBuf;

use crate::gguf::GgufDefect;

/// `Result` with the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the engine can fail with.
///
/// [`Error::is_user_error`] separates what the user can fix (a wrong file, a bad
/// setting) from internal failures, so binaries can choose exit codes and wording.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read or written.
    #[error("cannot access {path}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// A directory (or another non-file) was given where a model file was expected.
    #[error("{path} is not a regular file")]
    NotAFile {
        /// The path given.
        path: PathBuf,
    },
    /// The GGUF pre-validator rejected the file; llama.cpp never saw it.
    #[error("{path} is not a usable GGUF model: {defect}")]
    MalformedGguf {
        /// The rejected file.
        path: PathBuf,
        /// What is wrong with it.
        defect: GgufDefect,
    },
    /// The file's SHA-256 is not the one expected (known model, or the hash recorded at import).
    #[error("{what}: expected SHA-256 {expected}, the file has {actual}")]
    HashMismatch {
        /// Which model or file, and why a hash was expected.
        what: String,
        /// The expected hash (hex).
        expected: String,
        /// The file's actual hash (hex).
        actual: String,
    },
    /// The same file (by content) is already in the catalogue.
    #[error("this file is already imported as model {existing}")]
    AlreadyImported {
        /// The name it is catalogued under.
        existing: String,
    },
    /// A model name is already taken by a different file.
    #[error("a model named {0} already exists; choose another name with --name")]
    NameTaken(String),
    /// No catalogued model has that name.
    #[error("no model named {0}; `sillok models list` shows the installed ones")]
    UnknownModel(String),
    /// No default model is set and none was named.
    #[error("no model chosen: import one with `sillok models import PATH` or name one")]
    NoModel,
    /// The name cannot be used as a catalogue key.
    #[error("invalid model name {0:?}: use 1-64 letters, digits, '.', '-' or '_'")]
    InvalidName(String),
    /// The model's role does not fit the request (e.g. chatting with an embedding model).
    #[error("model {name} is a {actual} model, not a {wanted} model")]
    WrongRole {
        /// The model asked for.
        name: String,
        /// Its role.
        actual: &'static str,
        /// The role the operation needs.
        wanted: &'static str,
    },
    /// The requested context length is not possible for this model.
    #[error("context length {requested} is out of range: use {min}..={max} for this model")]
    ContextOutOfRange {
        /// What was asked.
        requested: u32,
        /// The smallest usable context.
        min: u32,
        /// The model's trained context.
        max: u32,
    },
    /// A numeric setting is outside its valid range.
    #[error("{setting} = {value} is out of range ({expected})")]
    InvalidSetting {
        /// The setting's name.
        setting: &'static str,
        /// The rejected value.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// Loading would not fit in memory; refused instead of running out of memory.
    #[error(
        "model {name} needs about {needed_mib} MiB (weights + KV cache at context {n_ctx}) but only {available_mib} MiB is available; choose a smaller context or model"
    )]
    WontFit {
        /// The model.
        name: String,
        /// Estimated need.
        needed_mib: u64,
        /// Memory available now.
        available_mib: u64,
        /// The context length used for the estimate.
        n_ctx: u32,
    },
    /// The prompt exceeds the input cap before tokenisation.
    #[error("the prompt is {bytes} bytes; the limit is {limit} bytes")]
    PromptTooLong {
        /// Size of the prompt.
        bytes: usize,
        /// The cap.
        limit: usize,
    },
    /// Nothing of the prompt fits in the context once the answer budget is reserved.
    #[error(
        "context {n_ctx} is too small: the prompt frame needs {frame} tokens and the answer {max_tokens}"
    )]
    NoRoomForPrompt {
        /// Context length.
        n_ctx: u32,
        /// Tokens the template/frame alone takes.
        frame: usize,
        /// Tokens reserved for the answer.
        max_tokens: u32,
    },
    /// This CPU lacks instructions the build was compiled for.
    #[error(
        "this CPU lacks {missing}, which this build of Sillok requires (x86-64-v3: AVX2, FMA, F16C); use a build made for older CPUs"
    )]
    UnsupportedCpu {
        /// The missing instruction-set extensions.
        missing: String,
    },
    /// The model catalogue file is unreadable.
    #[error("model catalogue {path} is damaged")]
    Catalogue {
        /// The catalogue file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// llama.cpp failed (load, context, tokenise, decode …).
    #[error("llama.cpp could not {op}")]
    Engine {
        /// What the engine was doing.
        op: &'static str,
        /// llama-cpp-2's error, when it gives one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl Error {
    /// True when the user can fix this (bad file, wrong name, setting out of range).
    pub fn is_user_error(&self) -> bool {
        !matches!(
            self,
            Error::Engine { .. } | Error::Catalogue { .. } | Error::UnsupportedCpu { .. }
        )
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn engine(
        op: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Engine {
            op,
            source: Some(Box::new(source)),
        }
    }
}
