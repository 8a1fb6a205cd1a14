//! The library's one error type. A document that fails to parse is not an
//! error: it gets a per-file status (see `FileStatus`) and the batch goes on.

use std::path::PathBuf;

/// `Result` with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the library can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Another process holds the library's writer lock.
    #[error(
        "library in use by process {pid}: close it (e.g. the Sillok app) or wait for it to finish"
    )]
    InUse {
        /// The process holding the lock, as it wrote it (0 when unknown).
        pid: u32,
    },
    /// A file or directory could not be accessed.
    #[error("cannot access {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The search index failed.
    #[error("search index error")]
    Tantivy(#[source] tantivy::TantivyError),
    /// A file of the encrypted search index failed its integrity check: it
    /// was damaged or tampered with, and nothing of it was used.
    #[error(
        "the search index is damaged or was tampered with ({} failed its integrity check): rebuild it (`sillok collections rebuild`); its documents are then indexed again from their folders",
        file.display()
    )]
    Tampered {
        /// The file, as named in the index folder.
        file: PathBuf,
    },
    /// The key does not open the library's encrypted search index.
    #[error("this key does not open the library's encrypted search index")]
    WrongKey,
    /// The search index is encrypted and was opened without a key.
    #[error("the search index is encrypted: unlock the vault to open it")]
    Encrypted,
    /// The search index is not encrypted and was opened with a key.
    #[error(
        "the search index is not encrypted yet: it must be migrated before it is opened with a key"
    )]
    NotEncrypted,
    /// A library database failed its integrity check: damaged, tampered
    /// with, or encrypted under another key. Nothing of it was used.
    #[error(
        "a library database{} is damaged or was tampered with (it failed its integrity check): rebuild the library (`sillok collections rebuild` sets the damaged file aside and indexes the collections' folders again)",
        file.as_ref().map(|f| format!(" ({})", f.display())).unwrap_or_default()
    )]
    DatabaseDamaged {
        /// The file, when known.
        file: Option<PathBuf>,
    },
    /// An encrypted database was opened without its key.
    #[error("{} is encrypted: unlock the vault to open it", file.display())]
    DatabaseEncrypted {
        /// The file.
        file: PathBuf,
    },
    /// A plaintext database was opened with a key.
    #[error("{} is not encrypted yet: it must be migrated before it is opened with a key", file.display())]
    DatabaseNotEncrypted {
        /// The file.
        file: PathBuf,
    },
    /// An encrypted copy made by the migration differs from its original;
    /// the original was kept.
    #[error("the encrypted copy of {} did not match it; the original is kept unchanged", file.display())]
    MigrationCheck {
        /// The original file or folder.
        file: PathBuf,
    },
    /// The ingestion journal failed.
    #[error("ingestion journal error")]
    Journal(#[source] rusqlite::Error),
    /// The disk holding the library filled up during a write. What was
    /// committed before is intact; the run can be repeated once there is room.
    #[error(
        "the disk holding {} is full: free some space and run the ingestion again (what was indexed before is intact)",
        path.display()
    )]
    DiskFull {
        /// The library's folder.
        path: PathBuf,
        /// The failure the full disk caused.
        #[source]
        source: Box<Error>,
    },
    /// No collection has that name.
    #[error("no collection named {0}; `sillok collections list` shows them")]
    UnknownCollection(String),
    /// The collection name cannot be used.
    #[error("invalid collection name {0:?}: use 1-64 letters, digits, '-', '_' or '.'")]
    InvalidCollectionName(String),
    /// A filter could not be understood.
    #[error("invalid {what} {value:?}: {expected}")]
    InvalidFilter {
        /// Which filter.
        what: &'static str,
        /// The rejected value.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// A folder could not be watched.
    #[error("cannot watch {path}: {reason}")]
    Watch {
        /// The folder.
        path: PathBuf,
        /// Why (e.g. the OS limit on watches).
        reason: String,
    },
    /// The chunking tokenizer could not be loaded.
    #[error("cannot load the chunking tokenizer {path}: {reason}")]
    Tokenizer {
        /// The tokenizer file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A vector's width differs from the width stored for its model.
    #[error(
        "embedding model {model} gives {got}-wide vectors, but {expected}-wide ones are stored"
    )]
    EmbeddingWidth {
        /// The embedding model's id.
        model: String,
        /// The width already stored.
        expected: usize,
        /// The width offered.
        got: usize,
    },
    /// A lock guarding shared state was poisoned by a panic.
    #[error("internal state poisoned: {0}")]
    Poisoned(&'static str),
}

impl Error {
    /// True when the user can fix this.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            Error::InUse { .. }
                | Error::Io { .. }
                | Error::UnknownCollection(_)
                | Error::InvalidCollectionName(_)
                | Error::InvalidFilter { .. }
                | Error::DiskFull { .. }
                | Error::Tokenizer { .. }
                | Error::Watch { .. }
                | Error::Tampered { .. }
                | Error::WrongKey
                | Error::Encrypted
                | Error::DatabaseDamaged { .. }
                | Error::DatabaseEncrypted { .. }
        )
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// A page failing SQLCipher's HMAC (or a corrupt page) is damage, never a
/// plain SQLite error.
impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        if crate::sqlite::is_damage(&err) {
            Error::DatabaseDamaged { file: None }
        } else {
            Error::Journal(err)
        }
    }
}

/// A tantivy error whose cause is a sealed file failing its integrity check
/// becomes [`Error::Tampered`]: corruption, with a rebuild path.
impl From<tantivy::TantivyError> for Error {
    fn from(err: tantivy::TantivyError) -> Self {
        match crate::sealed::damaged_file(&err) {
            Some(file) => Error::Tampered { file },
            None => Error::Tantivy(err),
        }
    }
}
