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
    /// Work stopped on request before it was done.
    #[error("cancelled")]
    Cancelled,
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
    /// The audit trail's files could not be read or written.
    #[error("cannot use the audit trail at {path}")]
    Audit {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The audit trail's key is missing or unusable.
    #[error("cannot use the audit key {path}: {reason}")]
    AuditKey {
        /// Where it is kept.
        path: PathBuf,
        /// Why, and what to do.
        reason: String,
    },
    /// A purge of a log that fails verification (the evidence is kept).
    #[error(
        "the audit trail fails verification ({0}); nothing was purged, so the evidence is kept: see `sillok audit verify`"
    )]
    AuditPurgeRefused(String),
    /// An export without a reason.
    #[error(
        "an export needs a reason, which the audit trail records (for example: referral to another hospital)"
    )]
    ExportReasonRequired,
    /// No OS keychain to talk to: no session bus, no Secret Service, or a bus
    /// that is not a local socket.
    #[error("the OS keychain is not available (no Secret Service on the session bus)")]
    KeychainUnavailable {
        /// Why.
        #[source]
        source: crate::keychain::Cause,
    },
    /// The keychain is locked or refused access.
    #[error("the OS keychain is locked or refused access")]
    KeychainLocked {
        /// Why.
        #[source]
        source: crate::keychain::Cause,
    },
    /// The keychain has no such item.
    #[error("the OS keychain has no item {item}")]
    KeychainItemMissing {
        /// The item's account name.
        item: String,
    },
    /// A keychain item is not what Sillok stored there.
    #[error("the OS keychain item {item} is unusable: {reason}")]
    KeychainItemInvalid {
        /// The item's account name.
        item: String,
        /// Why.
        reason: &'static str,
    },
    /// Any other keychain failure.
    #[error("the OS keychain failed")]
    Keychain {
        /// Why.
        #[source]
        source: crate::keychain::Cause,
    },
    /// The vault could not be unlocked from the keychain (fail closed: no
    /// other key is tried).
    #[error("cannot unlock the vault with the OS keychain; {alternatives}")]
    KeychainUnlock {
        /// What the user can do instead.
        alternatives: String,
        /// The keychain error.
        #[source]
        source: Box<Error>,
    },
    /// A new vault's key cannot go into the keychain (unavailable or
    /// locked); nothing was made.
    #[error(
        "cannot make the vault: its key cannot be kept in the OS keychain; without a keychain, `sillok vault init --passphrase-only` makes a vault that opens with a passphrase"
    )]
    NoKeychainForVault {
        /// The keychain error.
        #[source]
        source: Box<Error>,
    },
    /// The data directory has no vault.
    #[error("no vault in {path}: `sillok vault init` creates one")]
    NoVault {
        /// The data directory.
        path: PathBuf,
    },
    /// `init` over an existing vault file (intact or not).
    #[error(
        "{path} already exists: a vault is never re-created over another (`sillok vault destroy` removes it, and with it access to everything it encrypted)"
    )]
    VaultExists {
        /// The vault file.
        path: PathBuf,
    },
    /// `init` in a data directory that holds library data but no vault.
    #[error(
        "{path} holds library data but no vault file: if the vault file was lost, restore it from a backup (a new vault cannot open data encrypted by the old one); if this library predates the vault, pass --adopt-existing-data"
    )]
    DataWithoutVault {
        /// The data directory.
        path: PathBuf,
    },
    /// The vault file cannot be used (it is never replaced).
    #[error("cannot use the vault file {path}: {reason}")]
    VaultFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Reading or writing the vault's files failed.
    #[error("cannot write or read {path}")]
    VaultIo {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The data key is needed but the vault is locked.
    #[error("the vault is locked: unlock it (`sillok vault unlock`)")]
    VaultLocked,
    /// The passphrase does not open the vault.
    #[error("wrong passphrase")]
    WrongPassphrase,
    /// The recovery key is well-formed but does not open the vault.
    #[error("this recovery key does not open this vault")]
    WrongRecoveryKey,
    /// The recovery key is mistyped or malformed.
    #[error("not a recovery key: {reason}")]
    BadRecoveryKey {
        /// What is wrong with it.
        reason: String,
    },
    /// The vault has no slot of the kind asked for.
    #[error("this vault has no {0}")]
    NoSuchUnlock(&'static str),
    /// A new passphrase is too weak or too long.
    #[error("unusable passphrase: {0}")]
    BadPassphrase(&'static str),
    /// The OS random source failed.
    #[error("the OS random number generator failed: {0}")]
    Random(String),
    /// Core dumps could not be disabled.
    #[error("cannot disable core dumps")]
    CoreDumps {
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A signed bundle or the site policy file cannot be used.
    #[error(transparent)]
    Bundle(#[from] sillok_bundle::Error),
    /// A setting the site policy fixes was to be changed.
    #[error(
        "{setting} is fixed to {value} by the site policy {policy} and cannot be changed here; ask your IT officer"
    )]
    PolicyLocked {
        /// The setting.
        setting: &'static str,
        /// Its value in the policy.
        value: String,
        /// The policy file.
        policy: PathBuf,
    },
    /// A folder outside the policy's allowed folders was to be ingested.
    #[error(
        "{} is outside the folders the site policy {policy} allows ({allowed}); ask your IT officer", folder.display()
    )]
    FolderNotAllowed {
        /// The folder asked for.
        folder: PathBuf,
        /// The allowed folders.
        allowed: String,
        /// The policy file.
        policy: PathBuf,
    },
    /// An export while the site policy turns exports off.
    #[error("exports are turned off by the site policy {policy}; ask your IT officer")]
    ExportDisallowed {
        /// The policy file.
        policy: PathBuf,
    },
    /// A multi-step operation was stopped by a fault-injection hook (tests
    /// simulating a crash between steps).
    #[error("interrupted at {0}")]
    Interrupted(&'static str),
    /// The data directory was written by a newer Sillok: it is left untouched.
    #[error(
        "the data in {path} is in format {found}, written by a newer Sillok (this one reads formats up to {supported}): nothing was opened or changed; use that newer version"
    )]
    DataTooNew {
        /// The data directory.
        path: PathBuf,
        /// The format found.
        found: u32,
        /// The newest format this build reads.
        supported: u32,
    },
    /// The data format marker is unreadable or damaged.
    #[error("{path}: unreadable data format marker: {reason}")]
    DataVersion {
        /// The marker file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A vault backup archive cannot be made or restored (wrong key,
    /// tampered or truncated archive, a target that already holds data).
    #[error("vault backup: {0}")]
    Backup(String),
    /// Reading or writing a backup archive or restored file failed.
    #[error("vault backup: {path}")]
    BackupIo {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A passphrase for an encrypted export is too short.
    #[error("the export passphrase must have at least {0} characters")]
    ExportPassphraseTooShort(usize),
    /// The passphrase does not open an encrypted export.
    #[error("wrong passphrase: it does not open this export")]
    ExportWrongPassphrase,
    /// A file is not an export encrypted with a passphrase, or is damaged.
    #[error("cannot open the encrypted export: {0}")]
    ExportUnreadable(&'static str),
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
            | Error::AuditKey { .. }
            | Error::AuditPurgeRefused(_)
            | Error::ExportReasonRequired
            | Error::DocumentUnreadable { .. }
            | Error::KeychainUnavailable { .. }
            | Error::KeychainLocked { .. }
            | Error::KeychainItemMissing { .. }
            | Error::KeychainItemInvalid { .. }
            | Error::KeychainUnlock { .. }
            | Error::NoKeychainForVault { .. }
            | Error::NoVault { .. }
            | Error::VaultExists { .. }
            | Error::DataWithoutVault { .. }
            | Error::VaultFile { .. }
            | Error::VaultLocked
            | Error::WrongPassphrase
            | Error::ExportPassphraseTooShort(_)
            | Error::ExportWrongPassphrase
            | Error::ExportUnreadable(_)
            | Error::WrongRecoveryKey
            | Error::BadRecoveryKey { .. }
            | Error::NoSuchUnlock(_)
            | Error::BadPassphrase(_)
            | Error::DataTooNew { .. }
            | Error::DataVersion { .. }
            | Error::Backup(_) => true,
            Error::PolicyLocked { .. }
            | Error::FolderNotAllowed { .. }
            | Error::ExportDisallowed { .. } => true,
            Error::Bundle(e) => e.is_user_error(),
            Error::Conversations(e) => e.is_user_error(),
            Error::Models(e) => e.is_user_error(),
            Error::Library(e) => e.is_user_error(),
            Error::Poisoned(_)
            | Error::Cancelled
            | Error::Audit { .. }
            | Error::Keychain { .. }
            | Error::VaultIo { .. }
            | Error::Random(_)
            | Error::CoreDumps { .. }
            | Error::Interrupted(_)
            | Error::BackupIo { .. } => false,
        }
    }
}
