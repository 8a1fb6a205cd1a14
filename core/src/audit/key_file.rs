//! TEMPORARY — until the vault keeps the audit key in the OS keychain (apart
//! from the data key), the audit trail's HMAC key lives in a file of its own
//! in the data directory, readable by the user only (0600). Anyone who can
//! read it can forge records; the keychain closes that. When the vault lands,
//! [`crate::Sillok::use_audit_key`] takes the key from the keychain and this
//! file is migrated into it and removed.
//!
//! Never a fresh key over a log that exists: a new key would make every
//! record unverifiable, so a missing key file next to an existing log is an
//! error that says to restore it.

use std::io::Write;
use std::path::Path;

use super::{HEAD_FILE, LOG_FILE};
use crate::{Error, Result};

/// The key file's name in the data directory.
pub const KEY_FILE: &str = "audit.key";

const HEADER: &str = "# Sillok audit trail HMAC key (temporary: moves to the OS keychain with the vault). Do not edit.\n";

/// The key in `<data_root>/audit.key`, created (32 random bytes) when
/// neither it nor an audit log exists yet.
pub(crate) fn load_or_create(data_root: &Path, audit_dir: &Path) -> Result<Vec<u8>> {
    let path = data_root.join(KEY_FILE);
    let bad = |reason: String| Error::AuditKey {
        path: path.clone(),
        reason,
    };
    match read_key(&path) {
        Ok(key) => Ok(key),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            for existing in [LOG_FILE, HEAD_FILE] {
                if std::fs::exists(audit_dir.join(existing)).unwrap_or(true) {
                    return Err(bad(
                        "it is missing but the audit log exists: restore the key file from a backup (a new key would leave every record unverifiable)".into(),
                    ));
                }
            }
            create(data_root, &path)
        }
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => Err(bad(e.to_string())),
        Err(e) => Err(Error::Audit { path, source: e }),
    }
}

/// The key in `path`, its permissions tightened to 0600 if they were looser;
/// an I/O error as is (`NotFound` when there is none).
fn read_key(path: &Path) -> std::io::Result<Vec<u8>> {
    let text = std::fs::read_to_string(path)?;
    tighten_permissions(path)?;
    let hex_key = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or_default();
    match hex::decode(hex_key) {
        Ok(key) if key.len() >= 32 => Ok(key),
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not a key (64 hex digits expected)",
        )),
    }
}

/// Writes a new key to a temporary file and links it into place: if another
/// process got there first, its key is the one (a link never replaces).
fn create(dir: &Path, path: &Path) -> Result<Vec<u8>> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| Error::AuditKey {
        path: path.to_owned(),
        reason: format!("no random numbers from the OS: {e}"),
    })?;
    let tmp = dir.join(format!("{KEY_FILE}.{}.tmp", std::process::id()));
    let fail = |source| Error::Audit {
        path: path.to_owned(),
        source,
    };
    let written = (|| -> std::io::Result<()> {
        let mut file = super::private_options()
            .write(true)
            .truncate(true)
            .open(&tmp)?;
        file.write_all(HEADER.as_bytes())?;
        writeln!(file, "{}", hex::encode(key))?;
        file.sync_all()
    })();
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let removed = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            removed.map_err(fail)?;
            super::sync_dir(dir)?;
            Ok(key.to_vec())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            removed.map_err(fail)?;
            read_key(path).map_err(fail)
        }
        Err(e) => Err(fail(e)),
    }
}

fn tighten_permissions(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn created_once_private_and_then_reused() -> TestResult {
        let dir = tempfile::tempdir()?;
        let audit = dir.path().join("audit");
        let key = load_or_create(dir.path(), &audit)?;
        assert_eq!(key.len(), 32);
        assert_eq!(load_or_create(dir.path(), &audit)?, key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))?
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let text = std::fs::read_to_string(dir.path().join(KEY_FILE))?;
        assert!(text.starts_with("# Sillok audit trail HMAC key (temporary"));
        Ok(())
    }

    #[test]
    fn never_a_fresh_key_over_an_existing_log() -> TestResult {
        let dir = tempfile::tempdir()?;
        let audit = dir.path().join("audit");
        std::fs::create_dir_all(&audit)?;
        std::fs::write(audit.join(LOG_FILE), b"{}\n")?;
        let err = load_or_create(dir.path(), &audit).expect_err("must refuse");
        assert!(matches!(err, Error::AuditKey { .. }), "{err}");
        assert!(!std::fs::exists(dir.path().join(KEY_FILE))?);
        std::fs::write(dir.path().join(KEY_FILE), "# x\nnot hex\n")?;
        assert!(matches!(
            load_or_create(dir.path(), &audit),
            Err(Error::AuditKey { .. })
        ));
        Ok(())
    }
}
