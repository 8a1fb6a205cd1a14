//! Encrypting in place a library made before encryption at rest: its
//! plaintext search index and SQLite files become a sealed library under the
//! given key, crash-safe at every step.
//!
//! The encrypted library is built beside the old one (`<dir>.sealing`),
//! checked against it (every index file decrypted and compared by SHA-256;
//! every database's rows counted and its pages' HMACs checked), marked
//! verified, and only then swapped in with two renames: `<dir>` →
//! `<dir>.plaintext`, `<dir>.sealing` → `<dir>`. The plaintext is removed
//! last. A run interrupted anywhere is taken up by the next: before the
//! copy is verified it is thrown away and made again; after, the swap is
//! finished. At every step one complete library, plaintext or sealed, is in
//! place or one rename away.
//!
//! What this module does not own: the key, and deciding when to migrate
//! (the core does it when it first opens the library with the vault's key).

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tantivy::Directory;
use tantivy::directory::TerminatingWrite;

use crate::lock::WriterLock;
use crate::sealed::{DEFAULT_BLOCK_LOG2, IndexKey, SealedDirectory, Sealing, sealing_of};
use crate::sqlite::{self, DbKey, DbState};
use crate::{Error, Result};

/// Written into the encrypted copy once it is verified.
const VERIFIED_FILE: &str = "sealing.verified";
/// Block cache of the directories the migration opens (it reads each block once).
const CACHE_BYTES: usize = 1 << 20;
/// Bytes hashed per read while verifying.
const VERIFY_CHUNK: usize = 1 << 20;

/// The steps of a migration after which tests simulate a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationStep {
    /// The encrypted copy is written, not yet verified.
    Copied,
    /// The copy is verified and marked so.
    Verified,
    /// The plaintext library is moved aside.
    PlaintextMoved,
    /// The encrypted library is in place; the plaintext not yet removed.
    Swapped,
}

impl MigrationStep {
    /// Every step, in order.
    pub const ALL: [MigrationStep; 4] = [
        MigrationStep::Copied,
        MigrationStep::Verified,
        MigrationStep::PlaintextMoved,
        MigrationStep::Swapped,
    ];

    /// A stable name (the core's crash variable takes it).
    pub fn name(self) -> &'static str {
        match self {
            MigrationStep::Copied => "migrate-copied",
            MigrationStep::Verified => "migrate-verified",
            MigrationStep::PlaintextMoved => "migrate-plaintext-moved",
            MigrationStep::Swapped => "migrate-swapped",
        }
    }
}

/// Whether the library in `dir` holds anything in plaintext or an
/// interrupted migration's leftovers: what [`encrypt_library`] would act on.
///
/// # Errors
///
/// I/O errors.
pub fn library_needs_migration(dir: &Path) -> Result<bool> {
    Ok(exists(&staged_of(dir))? || exists(&old_of(dir))? || is_plaintext(dir)?)
}

/// Encrypts the plaintext library in `dir` in place under `key` (see the
/// module's doc), or finishes an interrupted run. `step` is called after
/// each [`MigrationStep`]; an error from it stops the run there, as a crash
/// would. Returns whether anything was done.
///
/// # Errors
///
/// [`Error::InUse`] when another process writes the library;
/// [`Error::MigrationCheck`] when the copy does not match (the plaintext is
/// kept); I/O, index and database errors.
pub fn encrypt_library(
    dir: &Path,
    key: &IndexKey,
    step: &mut dyn FnMut(MigrationStep) -> Result<()>,
) -> Result<bool> {
    let staged = staged_of(dir);
    let old = old_of(dir);
    let parent = dir.parent().unwrap_or(Path::new("."));
    match (exists(dir)?, exists(&staged)?, exists(&old)?) {
        // Between the two renames: the verified copy goes in.
        (false, true, true) => {
            if !exists(&staged.join(VERIFIED_FILE))? {
                return Err(Error::MigrationCheck { file: staged });
            }
            rename(&staged, dir, parent)?;
            finish(dir, &old, parent)?;
            return Ok(true);
        }
        // Swapped, the plaintext not yet removed.
        (true, false, true) => {
            finish(dir, &old, parent)?;
            return Ok(true);
        }
        // Not a state this code leaves; the plaintext goes back.
        (false, false, true) => rename(&old, dir, parent)?,
        _ => {}
    }
    if exists(&staged)? {
        // A copy not swapped in is made again: the plaintext is still whole.
        fs::remove_dir_all(&staged).map_err(|e| Error::io(&staged, e))?;
    }
    if !is_plaintext(dir)? {
        return Ok(false);
    }
    let lock = WriterLock::acquire(&dir.join("writer.lock"))?;
    let sealed_files = copy_sealed(dir, &staged, key)?;
    step(MigrationStep::Copied)?;
    verify(dir, &staged, key, &sealed_files)?;
    write_synced(&staged.join(VERIFIED_FILE), b"verified\n")?;
    sync_dir(&staged)?;
    step(MigrationStep::Verified)?;
    rename(dir, &old, parent)?;
    step(MigrationStep::PlaintextMoved)?;
    rename(&staged, dir, parent)?;
    drop(lock);
    step(MigrationStep::Swapped)?;
    finish(dir, &old, parent)?;
    tracing::info!("library encrypted in place");
    Ok(true)
}

/// Whether the library in `dir` holds (any plaintext store, any encrypted
/// store): a folder with both is never adopted by a new vault.
///
/// # Errors
///
/// I/O errors.
pub fn library_contents(dir: &Path) -> Result<(bool, bool)> {
    if !exists(dir)? {
        return Ok((false, false));
    }
    let tantivy = dir.join("tantivy");
    let index = if exists(&tantivy)? {
        sealing_of(&tantivy)?
    } else {
        Sealing::Empty
    };
    let mut plain = index == Sealing::Plain;
    let mut sealed = index == Sealing::Sealed;
    for path in databases(dir)? {
        match sqlite::db_state(&path)? {
            DbState::Plain => plain = true,
            DbState::Encrypted => sealed = true,
            DbState::Missing => {}
        }
    }
    Ok((plain, sealed))
}

/// Whether `dir` holds a plaintext index or database.
fn is_plaintext(dir: &Path) -> Result<bool> {
    if !exists(dir)? {
        return Ok(false);
    }
    let tantivy = dir.join("tantivy");
    if exists(&tantivy)? && sealing_of(&tantivy)? == Sealing::Plain {
        return Ok(true);
    }
    for path in databases(dir)? {
        if sqlite::db_state(&path)? == DbState::Plain {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The SQLite files of a library folder.
fn databases(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "sqlite") {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

/// Writes the encrypted copy of `dir` into `staged`: the databases exported
/// under the library's database key, the index files sealed. Nothing else is
/// copied: the writer's lock file and OCR's scratch folder are remade when
/// needed. Returns the index files sealed (names in `tantivy/`).
fn copy_sealed(dir: &Path, staged: &Path, key: &IndexKey) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(staged).map_err(|e| Error::io(staged, e))?;
    let db_key = DbKey::for_library(key);
    for path in databases(dir)? {
        let Some(name) = path.file_name() else {
            continue;
        };
        sqlite::encrypt_copy(&path, &staged.join(name), &db_key)?;
    }
    let plain = dir.join("tantivy");
    let sealed_dir = staged.join("tantivy");
    fs::create_dir_all(&sealed_dir).map_err(|e| Error::io(&sealed_dir, e))?;
    let sealed = SealedDirectory::open(&sealed_dir, key, CACHE_BYTES, DEFAULT_BLOCK_LOG2)?;
    let mut names = Vec::new();
    if exists(&plain)? {
        for entry in fs::read_dir(&plain).map_err(|e| Error::io(&plain, e))? {
            let entry = entry.map_err(|e| Error::io(&plain, e))?;
            let name = PathBuf::from(entry.file_name());
            let is_lock = name.extension().is_some_and(|x| x == "lock");
            if is_lock
                || !entry
                    .file_type()
                    .map_err(|e| Error::io(entry.path(), e))?
                    .is_file()
            {
                continue;
            }
            let mut source =
                fs::File::open(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
            let mut out = sealed
                .open_write(&name)
                .map_err(|e| Error::Tantivy(e.into()))?;
            io::copy(&mut source, &mut out).map_err(|e| Error::io(entry.path(), e))?;
            out.flush().map_err(|e| Error::io(entry.path(), e))?;
            out.terminate().map_err(|e| Error::io(entry.path(), e))?;
            names.push(name);
        }
    }
    sealed
        .sync_directory()
        .map_err(|e| Error::io(&sealed_dir, e))?;
    names.sort();
    Ok(names)
}

/// Decrypts every sealed index file from disk (through a fresh directory)
/// and compares it with its plaintext original. The databases were checked
/// as they were copied.
fn verify(dir: &Path, staged: &Path, key: &IndexKey, names: &[PathBuf]) -> Result<()> {
    let sealed = SealedDirectory::open(
        &staged.join("tantivy"),
        key,
        CACHE_BYTES,
        DEFAULT_BLOCK_LOG2,
    )?;
    for name in names {
        let plain_path = dir.join("tantivy").join(name);
        let mismatch = || Error::MigrationCheck {
            file: plain_path.clone(),
        };
        let mut plain_hash = Sha256::new();
        let mut source = fs::File::open(&plain_path).map_err(|e| Error::io(&plain_path, e))?;
        let mut buffer = vec![0u8; VERIFY_CHUNK];
        loop {
            let n = source
                .read(&mut buffer)
                .map_err(|e| Error::io(&plain_path, e))?;
            if n == 0 {
                break;
            }
            plain_hash.update(&buffer[..n]);
        }
        let handle = sealed
            .get_file_handle(name)
            .map_err(|e| Error::from(tantivy::TantivyError::from(e)))?;
        let len = tantivy::HasLen::len(&*handle);
        let mut sealed_hash = Sha256::new();
        let mut at = 0;
        while at < len {
            let end = (at + VERIFY_CHUNK).min(len);
            let bytes = handle
                .read_bytes(at..end)
                .map_err(|e| Error::io(&plain_path, e))?;
            sealed_hash.update(bytes.as_slice());
            at = end;
        }
        if plain_hash.finalize() != sealed_hash.finalize() {
            return Err(mismatch());
        }
    }
    Ok(())
}

/// Removes the verified marker and the plaintext library.
fn finish(dir: &Path, old: &Path, parent: &Path) -> Result<()> {
    let marker = dir.join(VERIFIED_FILE);
    match fs::remove_file(&marker) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(marker, e)),
    }
    fs::remove_dir_all(old).map_err(|e| Error::io(old, e))?;
    sync_dir(parent)
}

fn staged_of(dir: &Path) -> PathBuf {
    with_suffix(dir, ".sealing")
}

fn old_of(dir: &Path) -> PathBuf {
    with_suffix(dir, ".plaintext")
}

fn with_suffix(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn exists(path: &Path) -> Result<bool> {
    path.try_exists().map_err(|e| Error::io(path, e))
}

fn rename(from: &Path, to: &Path, parent: &Path) -> Result<()> {
    fs::rename(from, to).map_err(|e| Error::io(from, e))?;
    sync_dir(parent)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = fs::File::create(path).map_err(|e| Error::io(path, e))?;
    file.write_all(bytes).map_err(|e| Error::io(path, e))?;
    file.sync_all().map_err(|e| Error::io(path, e))
}

/// Makes renames and new files in `dir` durable.
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests;
