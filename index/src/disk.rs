//! Telling a full disk apart from other write failures.
//!
//! Neither tantivy nor SQLite keeps the `ENOSPC` of a failed write in every
//! error it returns ("an index writer was killed"), so an ingestion that
//! fails is checked after the fact: by its error chain, then by trying to
//! write a small probe file beside the index. Nothing here runs on a
//! successful path.

use std::io::Write;
use std::path::Path;

use rusqlite::ErrorCode;

use crate::Error;

/// Bytes the probe tries to write: more than the few kilobytes a nearly
/// full disk may still take, little enough to be harmless on a healthy one.
const PROBE_BYTES: usize = 1024 * 1024;

impl Error {
    /// This error, or [`Error::DiskFull`] wrapping it when the disk holding
    /// `dir` (the library's folder) has no room left.
    pub(crate) fn or_disk_full(self, dir: &Path) -> Error {
        if matches!(self, Error::DiskFull { .. }) {
            return self;
        }
        if says_disk_full(&self) || probe_fails_for_space(dir) {
            return Error::DiskFull {
                path: dir.to_owned(),
                source: Box::new(self),
            };
        }
        self
    }
}

fn says_disk_full(err: &Error) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && is_no_space(io)
        {
            return true;
        }
        if let Some(sql) = e.downcast_ref::<rusqlite::Error>()
            && sql.sqlite_error_code() == Some(ErrorCode::DiskFull)
        {
            return true;
        }
        next = e.source();
    }
    false
}

fn is_no_space(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

/// Whether writing [`PROBE_BYTES`] into `dir` fails for lack of space. The
/// probe file is removed whatever happens.
fn probe_fails_for_space(dir: &Path) -> bool {
    let path = dir.join(format!(".space-probe-{}", std::process::id()));
    let mut probe = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(file) => file,
        // Creating even an empty file fails on a disk without free inodes.
        Err(e) => return is_no_space(&e),
    };
    let block = vec![0u8; 64 * 1024];
    let mut full = false;
    for _ in 0..PROBE_BYTES / block.len() {
        if let Err(e) = probe.write_all(&block) {
            full = is_no_space(&e);
            break;
        }
    }
    if !full && let Err(e) = probe.sync_all() {
        full = is_no_space(&e);
    }
    drop(probe);
    if let Err(e) = std::fs::remove_file(&path) {
        tracing::warn!(error = %e, "could not remove the free-space probe file");
    }
    full
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disk_with_room_is_not_full() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let err = Error::UnknownCollection("c".into());
        assert!(matches!(
            err.or_disk_full(dir.path()),
            Error::UnknownCollection(_)
        ));
        // The probe leaves nothing behind.
        assert_eq!(std::fs::read_dir(dir.path())?.count(), 0);
        Ok(())
    }

    #[test]
    fn an_enospc_in_the_chain_is_a_full_disk() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let err = Error::io(
            dir.path(),
            std::io::Error::from_raw_os_error(28), // ENOSPC
        );
        let err = err.or_disk_full(dir.path());
        assert!(matches!(err, Error::DiskFull { .. }), "{err}");
        assert!(err.is_user_error());
        assert!(err.to_string().contains("is full"), "{err}");
        Ok(())
    }
}
