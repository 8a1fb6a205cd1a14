//! The core's one error type.

use std::path::PathBuf;

/// `Result` with the core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the core can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No data directory could be determined.
    #[error("no data directory: set SILLOK_DATA_DIR or HOME")]
    NoDataDir,
    /// The data directory could not be created or used.
    #[error("cannot use data directory {path}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A model operation failed.
    #[error(transparent)]
    Models(#[from] sillok_models::Error),
    /// A library operation failed.
    #[error(transparent)]
    Library(#[from] sillok_index::Error),
    /// Hybrid retrieval was asked for without an embedding model.
    #[error(
        "no embedding model: import one with `sillok models import FILE` (installer/fetch-models.sh fetches multilingual-e5-small) or choose one in settings"
    )]
    NoEmbeddingModel,
    /// A lock guarding shared state was poisoned by a panic.
    #[error("internal state poisoned: {0}")]
    Poisoned(&'static str),
    /// The chunking tokenizer file is not installed.
    #[error(
        "the chunking tokenizer is missing: install chunk-tokenizer.json into {expected} (installer/fetch-models.sh fetches it) or set SILLOK_CHUNK_TOKENIZER"
    )]
    NoChunkTokenizer {
        /// Where it is looked for in the data directory.
        expected: PathBuf,
    },
    /// The profiles file is unreadable or invalid.
    #[error("cannot use the profiles file {path}: {reason}")]
    Profiles {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// No profile has that name.
    #[error("no profile named {name}; known profiles: {known}")]
    UnknownProfile {
        /// The name asked for.
        name: String,
        /// The names that exist.
        known: String,
    },
    /// An evaluation set cannot be read.
    #[error("cannot read the evaluation set {path}: {reason}")]
    EvalSet {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The question is empty.
    #[error("the question is empty")]
    EmptyQuestion,
    /// A collection asked for does not exist.
    #[error("no collection named {0}; `sillok collections list` shows them")]
    UnknownCollection(String),
    /// The settings file is unreadable or invalid.
    #[error("cannot use the settings file {path}: {reason}")]
    Settings {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A setting has a value that cannot be used.
    #[error("invalid setting: {reason}")]
    InvalidSetting {
        /// Which and why.
        reason: String,
    },
    /// A file asked for is not a document of the library (only those are shown).
    #[error("{0} is not a document of the library")]
    NotInLibrary(String),
    /// A page past the end of a document.
    #[error("page {page} does not exist: the document has {pages} pages")]
    NoSuchPage {
        /// The page asked for.
        page: u32,
        /// Pages the document has.
        pages: u32,
    },
    /// A library document can no longer be read as it was indexed.
    #[error("cannot show {path}: {reason}")]
    DocumentUnreadable {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The conversation store failed.
    #[error(transparent)]
    Conversations(#[from] crate::conversations::ConversationError),
}

impl Error {
    /// True when the user can fix this; false for internal failures.
    pub fn is_user_error(&self) -> bool {
        match self {
            Error::NoDataDir
            | Error::DataDir { .. }
            | Error::NoChunkTokenizer { .. }
            | Error::Profiles { .. }
            | Error::UnknownProfile { .. }
            | Error::EmptyQuestion
            | Error::EvalSet { .. }
            | Error::UnknownCollection(_)
            | Error::Settings { .. }
            | Error::NoEmbeddingModel
            | Error::InvalidSetting { .. }
            | Error::NotInLibrary(_)
            | Error::NoSuchPage { .. }
            | Error::DocumentUnreadable { .. } => true,
            Error::Conversations(e) => e.is_user_error(),
            Error::Models(e) => e.is_user_error(),
            Error::Library(e) => e.is_user_error(),
            Error::Poisoned(_) => false,
        }
    }
}
