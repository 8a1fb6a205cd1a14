//! The one error every command rejects with: a stable `kind` the UI maps to a
//! localised headline, and an English `message` that is safe to show.

use serde::Serialize;
use sillok_core::{Error, index, models};

/// Stable error kinds (see docs/app-ipc.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The user can fix it: a bad path, an empty question, a bad name.
    InvalidInput,
    /// Unknown model, collection, conversation or file.
    NotFound,
    /// Another process holds the library writer.
    InUse,
    /// No chat model is installed.
    NoModel,
    /// The model failed (load, verification, generation).
    Model,
    /// Index or parse failure.
    Library,
    /// An answer is already being generated.
    Busy,
    /// The vault is locked: the UI shows its lock screen.
    VaultLocked,
    /// A fault of Sillok's own.
    Internal,
}

/// What a failed command returns to the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppError {
    /// Stable kind.
    pub kind: ErrorKind,
    /// One sentence for the user.
    pub message: String,
}

impl AppError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        AppError {
            kind,
            message: message.into(),
        }
    }

    /// A fault of the shell itself (a worker thread that died).
    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::new(ErrorKind::Internal, message.to_string())
    }
}

impl From<Error> for AppError {
    fn from(error: Error) -> Self {
        let kind = match &error {
            Error::UnknownCollection(_) | Error::NotInLibrary(_) | Error::NoSuchPage { .. } => {
                ErrorKind::NotFound
            }
            Error::VaultLocked => ErrorKind::VaultLocked,
            Error::Models(e) => model_kind(e),
            Error::Library(e) => library_kind(e),
            Error::Conversations(e) if e.is_user_error() => ErrorKind::NotFound,
            e if e.is_user_error() => ErrorKind::InvalidInput,
            _ => ErrorKind::Internal,
        };
        // The kind (never the message: it may name a patient's file) is logged.
        tracing::warn!(?kind, "command failed");
        tracing::debug!(%error, "command failed");
        AppError::new(kind, error.to_string())
    }
}

/// The crates under the core fail with their own enums; they map as the core's.
macro_rules! via_core_error {
    ($($source:ty),*) => {$(
        impl From<$source> for AppError {
            fn from(error: $source) -> Self {
                Error::from(error).into()
            }
        }
    )*};
}

via_core_error!(
    index::Error,
    models::Error,
    sillok_core::conversations::ConversationError
);

fn model_kind(error: &models::Error) -> ErrorKind {
    match error {
        models::Error::UnknownModel(_) => ErrorKind::NotFound,
        models::Error::NoModel => ErrorKind::NoModel,
        models::Error::Engine { .. } | models::Error::HashMismatch { .. } => ErrorKind::Model,
        e if e.is_user_error() => ErrorKind::InvalidInput,
        _ => ErrorKind::Model,
    }
}

fn library_kind(error: &index::Error) -> ErrorKind {
    match error {
        index::Error::InUse { .. } => ErrorKind::InUse,
        index::Error::UnknownCollection(_) => ErrorKind::NotFound,
        e if e.is_user_error() => ErrorKind::InvalidInput,
        _ => ErrorKind::Library,
    }
}

/// Commands return this.
pub type CommandResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_serialise_as_the_contract_says() {
        let error = AppError::new(ErrorKind::InvalidInput, "bad");
        let json = serde_json::to_value(&error).expect("test setup");
        assert_eq!(
            json,
            serde_json::json!({"kind": "invalid_input", "message": "bad"})
        );
    }

    #[test]
    fn core_errors_map_to_stable_kinds() {
        let cases = [
            (Error::EmptyQuestion, ErrorKind::InvalidInput),
            (Error::UnknownCollection("x".into()), ErrorKind::NotFound),
            (
                Error::NotInLibrary("/etc/passwd".into()),
                ErrorKind::NotFound,
            ),
            (Error::Models(models::Error::NoModel), ErrorKind::NoModel),
            (
                Error::Models(models::Error::UnknownModel("m".into())),
                ErrorKind::NotFound,
            ),
            (
                Error::Library(index::Error::UnknownCollection("c".into())),
                ErrorKind::NotFound,
            ),
        ];
        for (error, kind) in cases {
            let text = error.to_string();
            let app = AppError::from(error);
            assert_eq!(app.kind, kind, "{text}");
            assert_eq!(app.message, text);
        }
    }
}
