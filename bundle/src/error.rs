//! The crate's one error type, and the per-file problems a verification finds.

use std::fmt;
use std::path::PathBuf;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything bundle handling can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be read or written.
    #[error("cannot read or write {path}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The public key file is not a minisign public key.
    #[error("{path} is not a minisign public key")]
    BadPublicKey {
        /// The file.
        path: PathBuf,
    },
    /// The secret key file cannot be used.
    #[error("cannot use the secret key {path}: {reason}")]
    BadSecretKey {
        /// The file.
        path: PathBuf,
        /// Why (a wrong password among others).
        reason: String,
    },
    /// The bundle has no `MANIFEST` or no `MANIFEST.minisig`.
    #[error("{path} is missing: this is not a signed bundle")]
    NotABundle {
        /// The missing file.
        path: PathBuf,
    },
    /// `MANIFEST.minisig` cannot be parsed.
    #[error("refused: MANIFEST.minisig is not a minisign signature")]
    MalformedSignature,
    /// The signature names another key than the trusted one.
    #[error(
        "refused: MANIFEST.minisig was made by key {signed_by}, not by the trusted key {trusted}"
    )]
    WrongKey {
        /// Key id in the signature.
        signed_by: String,
        /// Key id of the trusted key.
        trusted: String,
    },
    /// The signature does not match the manifest.
    #[error(
        "refused: the signature MANIFEST.minisig does not match MANIFEST (one of them was altered)"
    )]
    BadSignature,
    /// The manifest is signed but malformed (a signing tool's bug, not an attack).
    #[error("refused: MANIFEST line {line}: {reason}")]
    MalformedManifest {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// Files differ from the manifest.
    #[error("refused: the bundle does not match its MANIFEST: {}", join(.0))]
    Mismatch(Vec<Problem>),
    /// A file name cannot go into a manifest.
    #[error("{name} cannot be part of a bundle: {reason}")]
    BadFileName {
        /// The name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// Signing failed (key generation, the random source, a wrong password).
    #[cfg(feature = "sign")]
    #[error("signing failed")]
    Sign(#[source] minisign::PError),
    /// The site policy file cannot be used (Sillok refuses to start).
    #[error("cannot use the site policy {path}: {reason}")]
    Policy {
        /// The policy file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl Error {
    /// True when a check refused the bundle (exit status 3 in the tools), as
    /// opposed to a usage or I/O error.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Error::MalformedSignature
                | Error::WrongKey { .. }
                | Error::BadSignature
                | Error::MalformedManifest { .. }
                | Error::Mismatch(_)
        )
    }

    /// True when the user can fix this (a wrong file, key or policy); false
    /// for I/O failures.
    pub fn is_user_error(&self) -> bool {
        !matches!(self, Error::Io { .. })
    }
}

/// One way a bundle's files differ from its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A file the manifest does not list.
    Extra(String),
    /// A file the manifest lists but the bundle lacks.
    Missing(String),
    /// A listed file whose size differs.
    Size {
        /// The file.
        path: String,
        /// Size in the manifest.
        expected: u64,
        /// Size on disk.
        actual: u64,
    },
    /// A listed file whose SHA-256 differs.
    Hash(String),
    /// A link or special file (never followed).
    NotAFile(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Extra(path) => write!(f, "{path} is not in the MANIFEST"),
            Problem::Missing(path) => write!(f, "{path} is in the MANIFEST but missing"),
            Problem::Size {
                path,
                expected,
                actual,
            } => write!(f, "{path} has {actual} bytes, the MANIFEST says {expected}"),
            Problem::Hash(path) => write!(f, "{path} has another SHA-256 than the MANIFEST says"),
            Problem::NotAFile(path) => write!(f, "{path} is a link or special file"),
        }
    }
}

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
