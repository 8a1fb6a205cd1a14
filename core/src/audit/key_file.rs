//! The audit key's old home, and the move out of it. Before the vault kept
//! the audit trail's HMAC key in the OS keychain, it lived in
//! `<data>/audit.key` (hex, 0600). When a data directory still has that file,
//! [`crate::Sillok::audit_log`] puts its key in the keychain (the vault's
//! `vault-<id>/audit-hmac` item), reads it back, and only then removes the
//! file, so the existing chain still verifies. The file is never created any
//! more, and never read for any other purpose.
//!
//! Never a fresh key over a log that exists: a new key would make every
//! record unverifiable, so a vault is not made next to a keyless trail.

use std::path::Path;

use super::{HEAD_FILE, LOG_FILE};
use crate::{Error, Result};

/// The old key file's name in the data directory.
pub const KEY_FILE: &str = "audit.key";

/// The key in `<data_root>/audit.key`, if the file is there.
///
/// # Errors
///
/// [`Error::AuditKey`] for a file that holds no 256-bit key;
/// [`Error::Audit`] when it cannot be read.
pub(crate) fn read_legacy(data_root: &Path) -> Result<Option<[u8; 32]>> {
    let path = data_root.join(KEY_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(Error::Audit { path, source }),
    };
    let hex_key = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or_default();
    hex::decode(hex_key)
        .ok()
        .and_then(|key| <[u8; 32]>::try_from(key).ok())
        .map(Some)
        .ok_or_else(|| Error::AuditKey {
            path,
            reason: "not a key (64 hex digits expected); restore the file from a backup".into(),
        })
}

/// Removes the old key file once the keychain holds its key.
///
/// # Errors
///
/// [`Error::Audit`].
pub(crate) fn remove_legacy(data_root: &Path) -> Result<()> {
    let path = data_root.join(KEY_FILE);
    std::fs::remove_file(&path).map_err(|source| Error::Audit {
        path: path.clone(),
        source,
    })?;
    super::sync_dir(data_root)
}

/// Refuses to let a new vault (with a new audit key) start next to an audit
/// trail whose key is gone: with the vault destroyed or its file lost, the
/// old records could never be verified again.
///
/// # Errors
///
/// [`Error::AuditKey`] naming what to do.
pub(crate) fn check_trail_may_get_a_new_key(data_root: &Path, audit_dir: &Path) -> Result<()> {
    if std::fs::exists(data_root.join(KEY_FILE)).unwrap_or(true) {
        return Ok(());
    }
    for existing in [LOG_FILE, HEAD_FILE] {
        if std::fs::exists(audit_dir.join(existing)).unwrap_or(true) {
            return Err(Error::AuditKey {
                path: audit_dir.to_owned(),
                reason: "the audit trail exists but its key went with the vault (vault.json is missing): restore vault.json from a backup, or move the audit folder aside to start a new trail".into(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn the_old_file_is_read_and_removed_only_when_asked() -> TestResult {
        let dir = tempfile::tempdir()?;
        assert_eq!(read_legacy(dir.path())?, None);
        std::fs::write(
            dir.path().join(KEY_FILE),
            format!("# header\n{}\n", "ab".repeat(32)),
        )?;
        assert_eq!(read_legacy(dir.path())?, Some([0xab; 32]));
        assert!(std::fs::exists(dir.path().join(KEY_FILE))?);
        remove_legacy(dir.path())?;
        assert_eq!(read_legacy(dir.path())?, None);
        std::fs::write(dir.path().join(KEY_FILE), "# x\nnot hex\n")?;
        assert!(matches!(
            read_legacy(dir.path()),
            Err(Error::AuditKey { .. })
        ));
        Ok(())
    }

    #[test]
    fn never_a_fresh_key_over_an_existing_log() -> TestResult {
        let dir = tempfile::tempdir()?;
        let audit = dir.path().join("audit");
        check_trail_may_get_a_new_key(dir.path(), &audit)?;
        std::fs::create_dir_all(&audit)?;
        std::fs::write(audit.join(LOG_FILE), b"{}\n")?;
        let err = check_trail_may_get_a_new_key(dir.path(), &audit).expect_err("must refuse");
        assert!(matches!(err, Error::AuditKey { .. }), "{err}");
        // With the old key file there, the trail keeps its key.
        std::fs::write(dir.path().join(KEY_FILE), "ab".repeat(32))?;
        check_trail_may_get_a_new_key(dir.path(), &audit)?;
        Ok(())
    }
}
