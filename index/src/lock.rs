//! The one-writer rule across processes: an OS file lock on `writer.lock`
//! holding the owner's PID, released when the process exits (even by SIGKILL).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::{Error, Result};

/// Held while this process may write to the library.
#[derive(Debug)]
pub struct WriterLock {
    _file: File,
}

impl WriterLock {
    /// Takes the lock or reports who holds it.
    ///
    /// # Errors
    ///
    /// [`Error::InUse`] with the holder's PID, or [`Error::Io`].
    pub fn acquire(path: &Path) -> Result<Self> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut pid = String::new();
                // The PID is informational: an unreadable one is reported as 0.
                let pid = file
                    .read_to_string(&mut pid)
                    .ok()
                    .and_then(|_| pid.trim().parse().ok())
                    .unwrap_or(0);
                return Err(Error::InUse { pid });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(path, e)),
        }
        file.set_len(0).map_err(|e| Error::io(path, e))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io(path, e))?;
        write!(file, "{}", std::process::id()).map_err(|e| Error::io(path, e))?;
        file.flush().map_err(|e| Error::io(path, e))?;
        Ok(WriterLock { _file: file })
    }
}
