//! SHA-256 of model files, streamed, with progress.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::{Error, Result};

const CHUNK: usize = 1 << 20;

/// Progress of a long file operation: bytes done out of the total.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// Hex SHA-256 of a file.
///
/// # Errors
///
/// [`Error::Io`] when the file cannot be read.
pub fn sha256_file(path: &Path, progress: Progress<'_>) -> Result<String> {
    stream(path, None, progress)
}

/// Copies `src` to `dst` and returns the hex SHA-256 of what was copied, in one pass.
///
/// `dst` is flushed to disk before returning; the caller renames it into place.
///
/// # Errors
///
/// [`Error::Io`] for either file.
pub fn copy_and_hash(src: &Path, dst: &Path, progress: Progress<'_>) -> Result<String> {
    let out = File::create_new(dst).map_err(|e| Error::io(dst, e))?;
    stream(src, Some((dst, out)), progress)
}

fn stream(src: &Path, mut copy: Option<(&Path, File)>, progress: Progress<'_>) -> Result<String> {
    let mut file = File::open(src).map_err(|e| Error::io(src, e))?;
    let total = file.metadata().map_err(|e| Error::io(src, e))?.len();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut done = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(src, e)),
        };
        hasher.update(&buf[..n]);
        if let Some((path, out)) = copy.as_mut() {
            out.write_all(&buf[..n]).map_err(|e| Error::io(*path, e))?;
        }
        done += n as u64;
        progress(done, total);
    }
    if let Some((path, out)) = copy {
        out.sync_all().map_err(|e| Error::io(path, e))?;
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_a_known_vector_and_copy_is_identical() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let src = dir.path().join("a");
        std::fs::write(&src, b"abc").map_err(|e| Error::io(&src, e))?;
        let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let mut calls = 0;
        assert_eq!(sha256_file(&src, &mut |_, _| calls += 1)?, expected);
        assert_eq!(calls, 1);
        let dst = dir.path().join("b");
        assert_eq!(copy_and_hash(&src, &dst, &mut |_, _| {})?, expected);
        assert_eq!(std::fs::read(&dst).map_err(|e| Error::io(&dst, e))?, b"abc");
        // Never overwrites an existing file.
        assert!(matches!(
            copy_and_hash(&src, &dst, &mut |_, _| {}),
            Err(Error::Io { .. })
        ));
        Ok(())
    }
}
