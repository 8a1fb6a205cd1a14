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
    /// The chunking tokenizer file is not installed.
    #[error(
        "the chunking tokenizer is missing: install chunk-tokenizer.json into {expected} (installer/fetch-models.sh fetches it) or set SILLOK_CHUNK_TOKENIZER"
    )]
    NoChunkTokenizer {
        /// Where it is looked for in the data directory.
        expected: PathBuf,
    },
}

impl Error {
    /// True when the user can fix this; false for internal failures.
    pub fn is_user_error(&self) -> bool {
        match self {
            Error::NoDataDir | Error::DataDir { .. } | Error::NoChunkTokenizer { .. } => true,
            Error::Models(e) => e.is_user_error(),
            Error::Library(e) => e.is_user_error(),
        }
    }
}
