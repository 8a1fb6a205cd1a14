//! Opening SQLite files encrypted at rest with SQLCipher (every page
//! AES-256-CBC with an HMAC-SHA512, keyed from a [`DbKey`]), or in the clear
//! when no key is given, and encrypting a plaintext file into an encrypted
//! copy (the migration of libraries made before the vault).
//!
//! SQLCipher cannot tell a wrong key from a damaged first page; callers that
//! can (the library, whose index has a key check) say which it was. A page
//! that fails its HMAC later is reported as [`Error::DatabaseDamaged`], never
//! returned.
//!
//! What this module does not own: where the key comes from (the core's
//! vault) and which files are encrypted.

use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use crate::sealed::IndexKey;
use crate::{Error, Result};

/// The first bytes of every plaintext SQLite file.
const PLAIN_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// The 256-bit key of an encrypted SQLite file (used as SQLCipher's raw key,
/// so no passphrase derivation runs on open). Zeroed when dropped, never
/// shown by `Debug`.
#[derive(Clone)]
pub struct DbKey(Box<Zeroizing<[u8; 32]>>);

impl std::fmt::Debug for DbKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DbKey(..)")
    }
}

impl DbKey {
    /// A key from its bytes (copied; the caller zeroes its own copy).
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        let mut key = Box::new(Zeroizing::new([0u8; 32]));
        key.copy_from_slice(bytes);
        DbKey(key)
    }

    /// The key of a sealed library's SQLite files, derived from its index
    /// key (SHA-256 of a domain label and the key): one key in, separate
    /// keys for the index and its databases.
    pub(crate) fn for_library(index_key: &IndexKey) -> Self {
        let mut digest = Sha256::new()
            .chain_update(b"sillok library databases v1\0")
            .chain_update(index_key.as_bytes())
            .finalize();
        let mut key = Box::new(Zeroizing::new([0u8; 32]));
        key.copy_from_slice(&digest);
        digest.as_mut_slice().zeroize();
        DbKey(key)
    }

    /// `PRAGMA key` for this key: SQLCipher's raw-key form.
    fn pragma(&self, schema: &str) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "PRAGMA {schema}.key = \"x'{}'\";",
            Zeroizing::new(hex::encode(self.0.as_slice())).as_str()
        ))
    }
}

/// What a SQLite file holds, as far as encryption goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbState {
    /// No file, or an empty one.
    Missing,
    /// A plaintext SQLite database.
    Plain,
    /// Anything else: an encrypted database (or not a database at all).
    Encrypted,
}

/// Reads the first 16 bytes of `path` to tell plaintext from encrypted.
///
/// # Errors
///
/// I/O errors other than a missing file.
pub fn db_state(path: &Path) -> Result<DbState> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(DbState::Missing),
        Err(e) => return Err(Error::io(path, e)),
    };
    let mut start = Vec::with_capacity(PLAIN_HEADER.len());
    file.take(PLAIN_HEADER.len() as u64)
        .read_to_end(&mut start)
        .map_err(|e| Error::io(path, e))?;
    Ok(if start.is_empty() {
        DbState::Missing
    } else if start == PLAIN_HEADER {
        DbState::Plain
    } else {
        DbState::Encrypted
    })
}

/// Opens (or creates) the SQLite file at `path`, encrypted under `key` when
/// given, and reads its schema so a wrong key or a damaged first page shows
/// now.
///
/// # Errors
///
/// [`Error::DatabaseNotEncrypted`] for a plaintext file opened with a key,
/// [`Error::DatabaseEncrypted`] for an encrypted one opened without,
/// [`Error::DatabaseDamaged`] when the file fails its integrity check (or
/// the key is not its key); SQLite errors.
pub fn open(path: &Path, key: Option<&DbKey>) -> Result<Connection> {
    let conn = Connection::open(path)?;
    if let Some(key) = key {
        set_key(&conn, key)?;
    }
    match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Ok(_) => {
            // Erasure: deleted rows are overwritten, not left in free pages.
            conn.pragma_update(None, "secure_delete", true)?;
            // Sorts and temporary tables stay in memory, never in TMPDIR.
            conn.pragma_update(None, "temp_store", "MEMORY")?;
            Ok(conn)
        }
        Err(e) if is_damage(&e) => Err(match (key.is_some(), db_state(path)?) {
            (true, DbState::Plain) => Error::DatabaseNotEncrypted {
                file: path.to_owned(),
            },
            (false, DbState::Encrypted) => Error::DatabaseEncrypted {
                file: path.to_owned(),
            },
            _ => Error::DatabaseDamaged {
                file: Some(path.to_owned()),
            },
        }),
        Err(e) => Err(e.into()),
    }
}

/// Keys a connection just opened (before anything is read), for stores
/// that open their own connections.
///
/// # Errors
///
/// SQLite errors.
pub fn set_key(conn: &Connection, key: &DbKey) -> Result<()> {
    Ok(conn.execute_batch(&key.pragma("main"))?)
}

/// Reads every page of the database at `path` (SQLCipher's HMAC of each
/// under a key, then SQLite's `quick_check`): false when any is damaged, or
/// when the first page does not open under `key`. A missing file is intact.
///
/// # Errors
///
/// I/O and SQLite errors other than damage.
pub(crate) fn is_intact(path: &Path, key: Option<&DbKey>) -> Result<bool> {
    if db_state(path)? == DbState::Missing {
        return Ok(true);
    }
    let conn = match open(path, key) {
        Ok(conn) => conn,
        Err(Error::DatabaseDamaged { .. }) => return Ok(false),
        Err(e) => return Err(e),
    };
    let check = || -> rusqlite::Result<bool> {
        if key.is_some() {
            let mut stmt = conn.prepare("PRAGMA cipher_integrity_check")?;
            if stmt.query([])?.next()?.is_some() {
                return Ok(false);
            }
        }
        let quick: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        Ok(quick == "ok")
    };
    match check() {
        Ok(intact) => Ok(intact),
        Err(e) if is_damage(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Runs `body` on the database at `path`, naming the file in the damage
/// error it may give: rusqlite's errors do not carry the path, so each
/// store wraps its methods in this rather than mapping every call.
///
/// # Errors
///
/// Those of `body`.
pub(crate) fn naming<T>(path: &Path, body: impl FnOnce() -> Result<T>) -> Result<T> {
    body().map_err(|e| match e {
        Error::DatabaseDamaged { file: None } => Error::DatabaseDamaged {
            file: Some(path.to_owned()),
        },
        other => other,
    })
}

/// True for the errors SQLCipher gives when a page fails its HMAC (or a
/// plaintext page is corrupt).
pub(crate) fn is_damage(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
    )
}

/// Writes an encrypted copy of the plaintext database `plain` to `out`
/// (replacing any earlier copy) with SQLCipher's export, then checks the
/// copy: it opens under `key`, passes `cipher_integrity_check` (every page's
/// HMAC) and `quick_check`, and holds as many rows in each table as the
/// original. `plain` is only read (its write-ahead log is folded in first).
///
/// # Errors
///
/// SQLite errors; [`Error::MigrationCheck`] when the copy differs.
pub fn encrypt_copy(plain: &Path, out: &Path, key: &DbKey) -> Result<()> {
    remove_db_files(out)?;
    let conn = open(plain, None)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    let attach = Zeroizing::new(format!(
        "ATTACH DATABASE '{}' AS sealed KEY \"x'{}'\";",
        out.to_string_lossy().replace('\'', "''"),
        Zeroizing::new(hex::encode(key.0.as_slice())).as_str()
    ));
    conn.execute_batch(&attach)?;
    conn.query_row("SELECT sqlcipher_export('sealed')", [], |_| Ok(()))?;
    // The copy keeps the original's user_version (schema version).
    let version: i64 = conn.query_row("PRAGMA main.user_version", [], |r| r.get(0))?;
    conn.execute_batch(&format!("PRAGMA sealed.user_version = {version}"))?;
    let application_id: i64 = conn.query_row("PRAGMA main.application_id", [], |r| r.get(0))?;
    conn.execute_batch(&format!("PRAGMA sealed.application_id = {application_id}"))?;
    conn.execute_batch("DETACH DATABASE sealed")?;
    let expected = row_counts(&conn)?;
    drop(conn);

    let copy = open(out, Some(key))?;
    let problems: Vec<String> = copy
        .prepare("PRAGMA cipher_integrity_check")?
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<_>>()?;
    let quick: String = copy.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    let counts = row_counts(&copy)?;
    copy.execute_batch("PRAGMA journal_mode = DELETE")?;
    drop(copy);
    if !problems.is_empty() || quick != "ok" || counts != expected {
        return Err(Error::MigrationCheck {
            file: plain.to_owned(),
        });
    }
    sync_file(out)
}

/// Encrypts the plaintext database at `path` in place under `key`: an
/// encrypted copy is written beside it (`<path>.sealing`) and checked
/// ([`encrypt_copy`]), the original's write-ahead log folded in and
/// removed, then the copy renamed over it — one atomic step, so a crash
/// leaves the plaintext or the encrypted file, never neither. `step` is
/// called after the copy is verified and after the swap (an error stops
/// there, as a crash would). A leftover copy of an interrupted run is
/// removed. Returns whether the file was encrypted now.
///
/// # Errors
///
/// As [`encrypt_copy`]; I/O errors.
pub fn encrypt_in_place(
    path: &Path,
    key: &DbKey,
    step: &mut dyn FnMut(crate::migrate::MigrationStep) -> Result<()>,
) -> Result<bool> {
    let staged = staged_of(path);
    if db_state(path)? != DbState::Plain {
        remove_db_files(&staged)?;
        return Ok(false);
    }
    encrypt_copy(path, &staged, key)?;
    step(crate::migrate::MigrationStep::Verified)?;
    {
        // Fold the log in and delete it, so no plaintext -wal or -shm file
        // outlives the swap (or is applied to the encrypted file).
        let conn = open(path, None)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "DELETE")?;
    }
    std::fs::rename(&staged, path).map_err(|e| Error::io(path, e))?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io(dir, e))?;
    }
    step(crate::migrate::MigrationStep::Swapped)?;
    remove_db_files(&staged)?;
    Ok(true)
}

/// Whether an interrupted [`encrypt_in_place`] left its copy of `path`.
///
/// # Errors
///
/// I/O errors.
pub fn staged_copy_exists(path: &Path) -> Result<bool> {
    let staged = staged_of(path);
    staged.try_exists().map_err(|e| Error::io(staged, e))
}

fn staged_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".sealing");
    PathBuf::from(name)
}

/// Every table's name and row count, in name order.
fn row_counts(conn: &Connection) -> Result<Vec<(String, i64)>> {
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut counts = Vec::with_capacity(tables.len());
    for table in tables {
        let n: i64 = conn.query_row(
            &format!("SELECT count(*) FROM \"{}\"", table.replace('"', "\"\"")),
            [],
            |r| r.get(0),
        )?;
        counts.push((table, n));
    }
    Ok(counts)
}

/// Removes a database file and its `-wal`, `-shm` and `-journal` companions.
///
/// # Errors
///
/// I/O errors other than a missing file.
pub fn remove_db_files(path: &Path) -> Result<()> {
    for file in companions(path) {
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(file, e)),
        }
    }
    Ok(())
}

/// The file and the companions SQLite may keep beside it.
pub fn companions(path: &Path) -> [PathBuf; 4] {
    let with = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    [
        path.to_owned(),
        with("-wal"),
        with("-shm"),
        with("-journal"),
    ]
}

fn sync_file(path: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    const MARKER: &str = "canary-홍길동-진료기록";

    fn key(byte: u8) -> DbKey {
        DbKey::from_bytes(&[byte; 32])
    }

    fn plain_db(path: &Path) -> TestResult {
        let conn = open(path, None)?;
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (v TEXT);")?;
        for i in 0..200 {
            conn.execute("INSERT INTO t VALUES (?1)", [format!("{MARKER} {i}")])?;
        }
        Ok(())
    }

    fn contains(path: &Path, needle: &str) -> std::io::Result<bool> {
        let bytes = std::fs::read(path)?;
        Ok(bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
    }

    #[test]
    fn an_encrypted_file_reveals_nothing_and_opens_only_with_its_key() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("s.sqlite");
        {
            let conn = open(&path, Some(&key(1)))?;
            conn.execute_batch("CREATE TABLE t (v TEXT);")?;
            conn.execute("INSERT INTO t VALUES (?1)", [MARKER])?;
        }
        assert!(!contains(&path, MARKER)?);
        assert_eq!(db_state(&path)?, DbState::Encrypted);
        let got: String =
            open(&path, Some(&key(1)))?.query_row("SELECT v FROM t", [], |r| r.get(0))?;
        assert_eq!(got, MARKER);
        assert!(matches!(
            open(&path, Some(&key(2))),
            Err(Error::DatabaseDamaged { .. })
        ));
        assert!(matches!(
            open(&path, None),
            Err(Error::DatabaseEncrypted { .. })
        ));
        Ok(())
    }

    #[test]
    fn a_plaintext_file_opened_with_a_key_is_refused_untouched() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("p.sqlite");
        plain_db(&path)?;
        let before = std::fs::read(&path)?;
        assert!(matches!(
            open(&path, Some(&key(1))),
            Err(Error::DatabaseNotEncrypted { .. })
        ));
        assert_eq!(std::fs::read(&path)?, before);
        Ok(())
    }

    #[test]
    fn an_encrypted_copy_holds_the_same_rows_and_no_plaintext() -> TestResult {
        let dir = tempfile::tempdir()?;
        let plain = dir.path().join("p.sqlite");
        let out = dir.path().join("p.sqlite.sealed");
        plain_db(&plain)?;
        encrypt_copy(&plain, &out, &key(3))?;
        for file in companions(&out) {
            if file.exists() {
                assert!(!contains(&file, MARKER)?, "{}", file.display());
            }
        }
        let n: i64 =
            open(&out, Some(&key(3)))?.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?;
        assert_eq!(n, 200);
        Ok(())
    }

    #[test]
    fn encrypting_in_place_survives_a_crash_at_each_step() -> TestResult {
        use crate::migrate::MigrationStep;
        for crash_at in [MigrationStep::Verified, MigrationStep::Swapped] {
            let dir = tempfile::tempdir()?;
            let path = dir.path().join("c.sqlite");
            plain_db(&path)?;
            let crashed = encrypt_in_place(&path, &key(4), &mut |step| {
                if step == crash_at {
                    Err(Error::Poisoned("simulated crash"))
                } else {
                    Ok(())
                }
            });
            assert!(crashed.is_err());
            // One whole database is in place: plaintext before the swap, encrypted after.
            let expected = if crash_at == MigrationStep::Swapped {
                DbState::Encrypted
            } else {
                DbState::Plain
            };
            assert_eq!(db_state(&path)?, expected, "{crash_at:?}");
            encrypt_in_place(&path, &key(4), &mut |_| Ok(()))?;
            assert!(!staged_copy_exists(&path)?);
            for file in std::fs::read_dir(dir.path())? {
                let file = file?.path();
                assert!(!contains(&file, MARKER)?, "{}", file.display());
            }
            let n: i64 =
                open(&path, Some(&key(4)))?
                    .query_row("SELECT count(*) FROM t", [], |r| r.get(0))?;
            assert_eq!(n, 200, "{crash_at:?}");
        }
        Ok(())
    }

    #[test]
    fn a_flipped_byte_is_damage_never_altered_rows() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("s.sqlite");
        {
            let conn = open(&path, Some(&key(1)))?;
            conn.execute_batch("CREATE TABLE t (v TEXT);")?;
            for i in 0..500 {
                conn.execute("INSERT INTO t VALUES (?1)", [format!("{MARKER} {i}")])?;
            }
        }
        let bytes = std::fs::read(&path)?;
        let len = bytes.len();
        for at in [100, 4096 + 200, len - 40] {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x01;
            std::fs::write(&path, &damaged)?;
            let read = open(&path, Some(&key(1))).and_then(|conn| {
                let rows: Vec<String> = conn
                    .prepare("SELECT v FROM t")?
                    .query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                Ok(rows)
            });
            match read {
                Err(Error::DatabaseDamaged { .. }) => {}
                other => panic!("byte {at}: expected damage, got {other:?}"),
            }
        }
        Ok(())
    }
}
