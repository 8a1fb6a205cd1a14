//! The way back from a damaged library database (journal, vectors, OCR
//! text): the rebuild sets the file aside (renamed, never deleted) and
//! starts a new one. The journal's collections (names, folders, OCR switch)
//! are salvaged when their pages still read, so the rebuild indexes the
//! same folders again; vectors and OCR text are made again as needed.
//!
//! What this module does not own: the search index, which the rebuild
//! clears itself.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::journal::{CollectionRecord, Journal};
use crate::library::JOURNAL_FILE;
use crate::sqlite::{DbKey, companions, is_intact};
use crate::{Error, Result};

/// Sets aside each damaged database of the library in `dir` and, for the
/// journal, opens a new one holding the collections that could be read
/// from the old. Returns how many files were set aside.
///
/// # Errors
///
/// I/O and SQLite errors other than the damage itself.
pub(crate) fn set_aside_damaged(dir: &Path, key: Option<&DbKey>) -> Result<usize> {
    let mut count = 0;
    for name in [
        JOURNAL_FILE,
        crate::vectors::FILE,
        crate::ocr::store::OCR_FILE,
    ] {
        let path = dir.join(name);
        if is_intact(&path, key)? {
            continue;
        }
        let collections = if name == JOURNAL_FILE {
            salvage_collections(&path, key)
        } else {
            Vec::new()
        };
        let moved_to = set_aside(&path)?;
        tracing::warn!(file = name, "a damaged library database was set aside");
        tracing::debug!(moved_to = %moved_to.display(), "damaged database kept");
        count += 1;
        if name == JOURNAL_FILE {
            let journal = Journal::open(&path, key)?;
            for collection in collections {
                journal.add_roots(&collection.name, &collection.roots)?;
                journal.set_collection_ocr(&collection.name, collection.ocr)?;
            }
        }
    }
    Ok(count)
}

/// The collections of a damaged journal, or none when their pages are
/// damaged too (then the folders must be added again).
fn salvage_collections(path: &Path, key: Option<&DbKey>) -> Vec<CollectionRecord> {
    match Journal::open(path, key).and_then(|journal| journal.collections()) {
        Ok(collections) => collections,
        Err(e) => {
            tracing::warn!(error = %e, "the damaged journal's collections cannot be read");
            Vec::new()
        }
    }
}

/// Renames `path` and its companions to `<path>.damaged-<unix seconds>`
/// (and its companions' names), returning the new name.
fn set_aside(path: &Path) -> Result<PathBuf> {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".damaged-{seconds}"));
    let target = PathBuf::from(name);
    for (from, to) in companions(path).iter().zip(companions(&target)) {
        match std::fs::rename(from, &to) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(from, e)),
        }
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    fn flip_last_page(path: &Path) -> TestResult {
        let mut bytes = std::fs::read(path)?;
        let at = bytes.len().checked_sub(100).ok_or("an empty file")?;
        bytes[at] ^= 0x20;
        std::fs::write(path, &bytes)?;
        Ok(())
    }

    #[test]
    fn a_damaged_journal_is_set_aside_and_its_collections_kept() -> TestResult {
        let dir = tempfile::tempdir()?;
        let key = DbKey::from_bytes(&[7; 32]);
        let path = dir.path().join(JOURNAL_FILE);
        {
            let journal = Journal::open(&path, Some(&key))?;
            journal.add_roots("notes", &["/docs/notes".to_owned()])?;
            journal.set_collection_ocr("notes", false)?;
            drop(journal);
            // Pages past the collections', for the damage to land on.
            let conn = crate::sqlite::open(&path, Some(&key))?;
            conn.execute_batch("PRAGMA journal_mode = DELETE; CREATE TABLE filler (x TEXT);")?;
            for i in 0..64 {
                conn.execute("INSERT INTO filler VALUES (?1)", [format!("{i:0>500}")])?;
            }
        }
        flip_last_page(&path)?;
        assert!(!is_intact(&path, Some(&key))?);
        // An intact library is left alone; here only the journal moves.
        assert_eq!(set_aside_damaged(dir.path(), Some(&key))?, 1);
        assert_eq!(set_aside_damaged(dir.path(), Some(&key))?, 0);

        let names: Vec<String> = std::fs::read_dir(dir.path())?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with("journal.sqlite.damaged-"))
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        let journal = Journal::open(&path, Some(&key))?;
        let collections = journal.collections()?;
        assert_eq!(collections.len(), 1);
        assert_eq!(collections[0].name, "notes");
        assert_eq!(collections[0].roots, ["/docs/notes"]);
        assert!(!collections[0].ocr);
        Ok(())
    }

    #[test]
    fn damage_names_its_file() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join(JOURNAL_FILE);
        {
            let journal = Journal::open(&path, None)?;
            journal.add_roots("notes", &["/docs/notes".to_owned()])?;
            drop(journal);
            let conn = crate::sqlite::open(&path, None)?;
            conn.execute_batch("PRAGMA journal_mode = DELETE;")?;
        }
        // Garbage over the collections' page (the second): SQLite's own
        // check finds it corrupt.
        let mut bytes = std::fs::read(&path)?;
        let page = 4096.min(bytes.len() / 2);
        for b in bytes.iter_mut().skip(page).take(64) {
            *b = 0xff;
        }
        std::fs::write(&path, &bytes)?;
        match Journal::open(&path, None).and_then(|journal| journal.collections()) {
            Err(Error::DatabaseDamaged { file: Some(file) }) => assert_eq!(file, path),
            other => return Err(format!("not named damage: {other:?}").into()),
        }
        Ok(())
    }
}
