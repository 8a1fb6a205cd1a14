//! The OCR cache: each page's result, keyed by the document's content hash
//! and the page number, in `ocr.sqlite` next to the journal. A page is
//! written as soon as it is read, so a run killed mid-document goes on from
//! the next page; the same content under another path or collection is
//! never read twice; a schema upgrade that rebuilds the index reuses it.
//! Only the library writer writes it; entries of content no file holds any
//! more are dropped at the end of each OCR run, and by the ingestion pass
//! that removes or changes a file.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use crate::Result;

/// The cache's file in the library folder.
pub(crate) const OCR_FILE: &str = "ocr.sqlite";

/// One page's OCR result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageResult {
    /// The page text (empty when it holds none, or on failure).
    pub text: String,
    /// Mean word confidence (0–100), when there are words.
    pub confidence: Option<u8>,
    /// Why the page could not be read, for the user; such a page is not
    /// tried again until its file changes.
    pub failure: Option<String>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS documents (
    hash TEXT PRIMARY KEY,
    pages INTEGER,
    note TEXT
);
CREATE TABLE IF NOT EXISTS pages (
    hash TEXT NOT NULL,
    page INTEGER NOT NULL,
    text TEXT NOT NULL,
    confidence INTEGER,
    failure TEXT,
    PRIMARY KEY (hash, page)
);
";

/// The cache database.
#[derive(Debug)]
pub(crate) struct OcrStore {
    conn: Connection,
    /// The file, named in its damage errors.
    path: PathBuf,
}

impl OcrStore {
    /// Opens or creates `<library>/ocr.sqlite`.
    pub(crate) fn open(library_dir: &Path, key: Option<&crate::DbKey>) -> Result<OcrStore> {
        let path = library_dir.join(OCR_FILE);
        crate::sqlite::naming(&path, || {
            let conn = crate::sqlite::open(&path, key)?;
            conn.busy_timeout(std::time::Duration::from_secs(10))?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "FULL")?;
            conn.execute_batch(SCHEMA)?;
            Ok(OcrStore {
                conn,
                path: path.clone(),
            })
        })
    }

    /// Every page result of the content `hash`, by page.
    pub(crate) fn results(&self, hash: &str) -> Result<BTreeMap<u32, PageResult>> {
        crate::sqlite::naming(&self.path, || {
            let mut stmt = self.conn.prepare_cached(
                "SELECT page, text, confidence, failure FROM pages WHERE hash = ?1 ORDER BY page",
            )?;
            let rows = stmt.query_map([hash], |r| {
                Ok((
                    r.get::<_, u32>(0)?,
                    PageResult {
                        text: r.get(1)?,
                        confidence: r.get(2)?,
                        failure: r.get(3)?,
                    },
                ))
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Records one page's result (replacing an earlier one).
    pub(crate) fn put(&self, hash: &str, page: u32, result: &PageResult) -> Result<()> {
        crate::sqlite::naming(&self.path, || {
            self.conn.execute(
                "INSERT OR REPLACE INTO pages (hash, page, text, confidence, failure)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![hash, page, result.text, result.confidence, result.failure],
            )?;
            Ok(())
        })
    }

    /// The page count of the content, when OCR has looked at it.
    pub(crate) fn page_count(&self, hash: &str) -> Result<Option<u32>> {
        crate::sqlite::naming(&self.path, || {
            Ok(self
                .conn
                .query_row("SELECT pages FROM documents WHERE hash = ?1", [hash], |r| {
                    r.get(0)
                })
                .optional()?
                .flatten())
        })
    }

    /// Records the page count of the content.
    pub(crate) fn set_page_count(&self, hash: &str, pages: u32) -> Result<()> {
        crate::sqlite::naming(&self.path, || {
            self.conn.execute(
                "INSERT INTO documents (hash, pages) VALUES (?1, ?2)
                 ON CONFLICT(hash) DO UPDATE SET pages = excluded.pages",
                params![hash, pages],
            )?;
            Ok(())
        })
    }

    /// Why OCR could not start on the content (tools missing, unreadable
    /// file), for the user; `None` clears it.
    pub(crate) fn set_note(&self, hash: &str, note: Option<&str>) -> Result<()> {
        crate::sqlite::naming(&self.path, || {
            self.conn.execute(
                "INSERT INTO documents (hash, note) VALUES (?1, ?2)
                 ON CONFLICT(hash) DO UPDATE SET note = excluded.note",
                params![hash, note],
            )?;
            Ok(())
        })
    }

    /// Everything known, by content hash: (page count, note, pages).
    pub(crate) fn all(&self) -> Result<BTreeMap<String, StoredDocument>> {
        crate::sqlite::naming(&self.path, || {
            let mut out: BTreeMap<String, StoredDocument> = BTreeMap::new();
            let mut stmt = self
                .conn
                .prepare("SELECT hash, pages, note FROM documents")?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<u32>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })?;
            for row in rows {
                let (hash, pages, note) = row?;
                let doc = out.entry(hash).or_default();
                doc.page_count = pages;
                doc.note = note;
            }
            let mut stmt = self.conn.prepare(
                "SELECT hash, page, confidence, failure, text = '' FROM pages ORDER BY hash, page",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, u32>(1)?,
                    r.get::<_, Option<u8>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, bool>(4)?,
                ))
            })?;
            for row in rows {
                let (hash, page, confidence, failure, empty) = row?;
                out.entry(hash).or_default().pages.push(StoredPage {
                    page,
                    confidence: if empty { None } else { confidence },
                    failure,
                });
            }
            Ok(out)
        })
    }

    /// Drops everything about content not in `live`.
    pub(crate) fn retain(&mut self, live: &HashSet<String>) -> Result<usize> {
        crate::sqlite::naming(&self.path, || {
            let stored: Vec<String> = {
                let mut stmt = self
                    .conn
                    .prepare("SELECT hash FROM documents UNION SELECT hash FROM pages")?;
                let rows = stmt.query_map([], |r| r.get(0))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            let tx = self.conn.transaction()?;
            let mut dropped = 0;
            for hash in stored.iter().filter(|h| !live.contains(*h)) {
                tx.execute("DELETE FROM pages WHERE hash = ?1", [hash])?;
                tx.execute("DELETE FROM documents WHERE hash = ?1", [hash])?;
                dropped += 1;
            }
            tx.commit()?;
            Ok(dropped)
        })
    }
}

/// What the cache holds about one content hash (see [`OcrStore::all`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StoredDocument {
    pub page_count: Option<u32>,
    pub note: Option<String>,
    pub pages: Vec<StoredPage>,
}

/// One cached page, without its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredPage {
    pub page: u32,
    pub confidence: Option<u8>,
    pub failure: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_survive_reopening_and_dead_content_is_dropped() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| crate::Error::io(Path::new("tmp"), e))?;
        {
            let store = OcrStore::open(dir.path(), None)?;
            let page = PageResult {
                text: "혈압".to_owned(),
                confidence: Some(91),
                failure: None,
            };
            store.put("a", 2, &page)?;
            store.put(
                "a",
                1,
                &PageResult {
                    text: String::new(),
                    confidence: None,
                    failure: Some("timed out".to_owned()),
                },
            )?;
            store.set_page_count("a", 3)?;
            store.set_note("b", Some("tools missing"))?;
        }
        let mut store = OcrStore::open(dir.path(), None)?;
        let results = store.results("a")?;
        assert_eq!(results.keys().copied().collect::<Vec<_>>(), [1, 2]);
        assert_eq!(results[&2].confidence, Some(91));
        assert_eq!(store.page_count("a")?, Some(3));
        assert_eq!(store.page_count("b")?, None);
        let all = store.all()?;
        assert_eq!(all["b"].note.as_deref(), Some("tools missing"));
        assert_eq!(all["a"].pages.len(), 2);
        assert_eq!(store.retain(&["a".to_owned()].into())?, 1);
        assert!(!store.all()?.contains_key("b"));
        assert_eq!(store.retain(&HashSet::new())?, 1);
        assert!(store.results("a")?.is_empty());
        Ok(())
    }
}
