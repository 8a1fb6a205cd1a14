//! The ingestion journal: per-file state next to the index, in SQLite.
//!
//! Every file's row records its content hash, status and the commit sequence
//! (`staged_seq`) of the index commit that holds its chunks. The index commit
//! carries the same sequence as its payload, so after a crash the journal
//! knows exactly which rows the index really holds: rows staged after the
//! last index commit are redone, nothing committed is redone, nothing is
//! indexed twice.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use crate::Result;

/// What happened to a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileStatus {
    /// Seen, not yet in a committed index.
    Pending,
    /// Its chunks are searchable.
    Indexed,
    /// Same content as another file of the collection, which is indexed.
    Duplicate {
        /// The file that holds the content.
        of: String,
    },
    /// The file has no text layer and needs OCR.
    NeedsOcr,
    /// The file could not be indexed.
    Failed {
        /// Why, for the user.
        reason: String,
    },
    /// The file disappeared; its chunks are being removed.
    Removed,
}

impl FileStatus {
    /// Short machine name.
    pub fn as_str(&self) -> &'static str {
        match self {
            FileStatus::Pending => "pending",
            FileStatus::Indexed => "indexed",
            FileStatus::Duplicate { .. } => "duplicate",
            FileStatus::NeedsOcr => "needs-ocr",
            FileStatus::Failed { .. } => "failed",
            FileStatus::Removed => "removed",
        }
    }

    fn detail(&self) -> Option<&str> {
        match self {
            FileStatus::Duplicate { of } => Some(of),
            FileStatus::Failed { reason } => Some(reason),
            _ => None,
        }
    }

    fn from_parts(status: &str, detail: Option<String>) -> Self {
        let detail = detail.unwrap_or_default();
        match status {
            "indexed" => FileStatus::Indexed,
            "duplicate" => FileStatus::Duplicate { of: detail },
            "needs-ocr" => FileStatus::NeedsOcr,
            "failed" => FileStatus::Failed { reason: detail },
            "removed" => FileStatus::Removed,
            _ => FileStatus::Pending,
        }
    }
}

/// One file's journal row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// Absolute path (UTF-8).
    pub path: String,
    /// Collection it belongs to.
    pub collection: String,
    /// SHA-256 of its bytes, once read.
    pub content_hash: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: i64,
    /// State.
    pub status: FileStatus,
    /// Detected type.
    pub doc_type: Option<String>,
    /// Chunks indexed.
    pub chunks: u64,
    /// Index commit that holds (or will hold) this state.
    pub staged_seq: u64,
    /// Pages that are scans without text, awaiting OCR: of an indexed file,
    /// or of a file needing OCR once its page count is known (a scanned PDF's
    /// is found when OCR starts on it).
    pub ocr_pages: Vec<u32>,
}

impl FileRecord {
    /// The journal's `detail` column: the status's detail, or the pages of
    /// an indexed file (or one needing OCR) awaiting OCR ("3,5").
    fn detail(&self) -> Option<String> {
        match (&self.status, self.ocr_pages.is_empty()) {
            (FileStatus::Indexed | FileStatus::NeedsOcr, false) => Some(
                self.ocr_pages
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            (status, _) => status.detail().map(str::to_owned),
        }
    }
}

/// A collection and its roots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionRecord {
    /// Name.
    pub name: String,
    /// Folders and files it covers.
    pub roots: Vec<String>,
    /// Whether scanned pages of its files are read by OCR (on unless turned
    /// off for the collection).
    pub ocr: bool,
}

/// The journal database.
#[derive(Debug)]
pub struct Journal {
    conn: Connection,
    /// The file, named in its damage errors.
    path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS collections (
    name TEXT PRIMARY KEY,
    roots TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    collection TEXT NOT NULL,
    content_hash TEXT,
    size INTEGER NOT NULL,
    mtime INTEGER NOT NULL,
    status TEXT NOT NULL,
    detail TEXT,
    doc_type TEXT,
    chunks INTEGER NOT NULL,
    staged_seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS files_by_hash ON files (collection, content_hash);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
";

impl Journal {
    /// Opens or creates the journal, encrypted under `key` when given (see
    /// [`crate::sqlite::open`]).
    ///
    /// # Errors
    ///
    /// SQLite errors; those of [`crate::sqlite::open`].
    pub fn open(path: &Path, key: Option<&crate::DbKey>) -> Result<Self> {
        crate::sqlite::naming(path, || {
            let conn = crate::sqlite::open(path, key)?;
            conn.busy_timeout(std::time::Duration::from_secs(10))?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "FULL")?;
            conn.execute_batch(SCHEMA)?;
            // Journals from before the per-collection OCR switch lack its column.
            let has_ocr: bool = conn.query_row(
                "SELECT COUNT(*) > 0 FROM pragma_table_info('collections') WHERE name = 'ocr'",
                [],
                |r| r.get(0),
            )?;
            if !has_ocr {
                conn.execute(
                    "ALTER TABLE collections ADD COLUMN ocr INTEGER NOT NULL DEFAULT 1",
                    [],
                )?;
            }
            Ok(Journal {
                conn,
                path: path.to_owned(),
            })
        })
    }

    /// Registers a collection or adds roots to it.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn add_roots(&self, name: &str, roots: &[String]) -> Result<CollectionRecord> {
        crate::sqlite::naming(&self.path, || {
            let mut record = self.collection(name)?.unwrap_or(CollectionRecord {
                name: name.to_owned(),
                roots: Vec::new(),
                ocr: true,
            });
            for root in roots {
                if !record.roots.contains(root) {
                    record.roots.push(root.clone());
                }
            }
            let roots = serde_json::to_string(&record.roots).unwrap_or_else(|_| "[]".to_owned());
            self.conn.execute(
                "INSERT INTO collections (name, roots) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET roots = excluded.roots",
                params![name, roots],
            )?;
            Ok(record)
        })
    }

    /// One collection.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn collection(&self, name: &str) -> Result<Option<CollectionRecord>> {
        crate::sqlite::naming(&self.path, || {
            let row: Option<(String, bool)> = self
                .conn
                .query_row(
                    "SELECT roots, ocr FROM collections WHERE name = ?1",
                    [name],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            Ok(row.map(|(roots, ocr)| CollectionRecord {
                name: name.to_owned(),
                roots: serde_json::from_str(&roots).unwrap_or_default(),
                ocr,
            }))
        })
    }

    /// Turns OCR of a collection's scanned pages on or off, registering the
    /// collection (without roots) if it is new.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn set_collection_ocr(&self, name: &str, ocr: bool) -> Result<()> {
        crate::sqlite::naming(&self.path, || {
            self.conn.execute(
                "INSERT INTO collections (name, roots, ocr) VALUES (?1, '[]', ?2)
                 ON CONFLICT(name) DO UPDATE SET ocr = excluded.ocr",
                params![name, ocr],
            )?;
            Ok(())
        })
    }

    /// All collections, by name.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn collections(&self) -> Result<Vec<CollectionRecord>> {
        crate::sqlite::naming(&self.path, || {
            let mut stmt = self
                .conn
                .prepare("SELECT name, roots, ocr FROM collections ORDER BY name")?;
            let rows = stmt.query_map([], |r| {
                let roots: String = r.get(1)?;
                Ok(CollectionRecord {
                    name: r.get(0)?,
                    roots: serde_json::from_str(&roots).unwrap_or_default(),
                    ocr: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Forgets a collection and its files' rows.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn remove_collection(&mut self, name: &str) -> Result<()> {
        crate::sqlite::naming(&self.path, || {
            let tx = self.conn.transaction()?;
            tx.execute("DELETE FROM files WHERE collection = ?1", [name])?;
            tx.execute("DELETE FROM collections WHERE name = ?1", [name])?;
            tx.commit()?;
            Ok(())
        })
    }

    /// The row of one path.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn file(&self, path: &str) -> Result<Option<FileRecord>> {
        crate::sqlite::naming(&self.path, || {
            Ok(self
                .conn
                .query_row(
                    &format!("{SELECT_FILE} WHERE path = ?1"),
                    [path],
                    row_to_record,
                )
                .optional()?)
        })
    }

    /// All rows of a collection (or of all), by path.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn files(&self, collection: Option<&str>) -> Result<Vec<FileRecord>> {
        crate::sqlite::naming(&self.path, || {
            let mut stmt = self.conn.prepare(&format!(
                "{SELECT_FILE} WHERE ?1 IS NULL OR collection = ?1 ORDER BY path"
            ))?;
            let rows = stmt.query_map([collection], row_to_record)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Another indexed file of the collection with this content, if any.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn indexed_with_hash(
        &self,
        collection: &str,
        hash: &str,
        except: &str,
    ) -> Result<Option<String>> {
        crate::sqlite::naming(&self.path, || {
            Ok(self
                .conn
                .query_row(
                    "SELECT path FROM files WHERE collection = ?1 AND content_hash = ?2 AND path != ?3
                     AND status = 'indexed' ORDER BY path LIMIT 1",
                    params![collection, hash, except],
                    |r| r.get(0),
                )
                .optional()?)
        })
    }

    /// Paths (indexed or duplicate) that hold this content in the collection.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn paths_with_hash(&self, collection: &str, hash: &str) -> Result<Vec<String>> {
        crate::sqlite::naming(&self.path, || {
            let mut stmt = self.conn.prepare(
                "SELECT path FROM files WHERE collection = ?1 AND content_hash = ?2
                 AND status IN ('indexed', 'duplicate') ORDER BY path",
            )?;
            let rows = stmt.query_map(params![collection, hash], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Files seen but not (or no longer) in the index: after a crash, or after
    /// an upgrade that rebuilt the index.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn pending_files(&self) -> Result<u64> {
        crate::sqlite::naming(&self.path, || {
            let n: i64 = self.conn.query_row(
                "SELECT COUNT(*) FROM files WHERE status = 'pending'",
                [],
                |r| r.get(0),
            )?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    /// Writes a batch of rows (upserts; `Removed` rows are deleted) in one transaction.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn write_batch(&mut self, records: &[FileRecord]) -> Result<()> {
        crate::sqlite::naming(&self.path, || {
            let tx = self.conn.transaction()?;
            for r in records {
                tx.execute(
                    "INSERT INTO files (path, collection, content_hash, size, mtime, status, detail, doc_type, chunks, staged_seq)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                     ON CONFLICT(path) DO UPDATE SET collection = excluded.collection, content_hash = excluded.content_hash,
                       size = excluded.size, mtime = excluded.mtime, status = excluded.status, detail = excluded.detail,
                       doc_type = excluded.doc_type, chunks = excluded.chunks, staged_seq = excluded.staged_seq",
                    params![
                        r.path,
                        r.collection,
                        r.content_hash,
                        i64::try_from(r.size).unwrap_or(i64::MAX),
                        r.mtime,
                        r.status.as_str(),
                        r.detail(),
                        r.doc_type,
                        i64::try_from(r.chunks).unwrap_or(i64::MAX),
                        i64::try_from(r.staged_seq).unwrap_or(i64::MAX),
                    ],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// Drops rows of removed files once the index commit that removed their chunks is done.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn purge_removed(&self, up_to_seq: u64) -> Result<()> {
        crate::sqlite::naming(&self.path, || {
            self.conn.execute(
                "DELETE FROM files WHERE status = 'removed' AND staged_seq <= ?1",
                [i64::try_from(up_to_seq).unwrap_or(i64::MAX)],
            )?;
            Ok(())
        })
    }

    /// After a crash: rows staged for commits the index never made are marked
    /// pending again (their chunks are not in the index), so they are redone.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn recover(&self, index_seq: u64) -> Result<usize> {
        crate::sqlite::naming(&self.path, || {
            let seq = i64::try_from(index_seq).unwrap_or(i64::MAX);
            let redo = self.conn.execute(
                "UPDATE files SET status = 'pending', detail = NULL WHERE staged_seq > ?1 AND status != 'removed'",
                [seq],
            )?;
            self.purge_removed(index_seq)?;
            Ok(redo)
        })
    }

    /// The schema version the index was built with, if recorded.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn schema_version(&self) -> Result<Option<i64>> {
        crate::sqlite::naming(&self.path, || {
            Ok(self
                .conn
                .query_row(
                    "SELECT value FROM meta WHERE key = 'schema_version'",
                    [],
                    |r| r.get(0),
                )
                .optional()?)
        })
    }

    /// After the index was cleared for a new schema `version`: rows whose
    /// chunks it held become pending (the next ingest re-indexes them), rows
    /// of removed files go, every row forgets its commit (none is in the new
    /// index, so recovery must not redo any), and the version is recorded, all
    /// in one transaction. Duplicates, failures and files needing OCR keep
    /// their status: they had no chunks, and a duplicate made pending beside
    /// its pending original would be taken for the indexed copy.
    /// Returns how many files became pending.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn reset_for_new_schema(&mut self, version: i64) -> Result<usize> {
        crate::sqlite::naming(&self.path, || {
            let tx = self.conn.transaction()?;
            tx.execute("DELETE FROM files WHERE status = 'removed'", [])?;
            let pending = tx.execute(
                "UPDATE files SET status = 'pending', detail = NULL, chunks = 0
                 WHERE status IN ('indexed', 'pending')",
                [],
            )?;
            tx.execute("UPDATE files SET staged_seq = 0", [])?;
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [version],
            )?;
            tx.commit()?;
            Ok(pending)
        })
    }
}

const SELECT_FILE: &str = "SELECT path, collection, content_hash, size, mtime, status, detail, doc_type, chunks, staged_seq FROM files";

fn row_to_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<FileRecord> {
    let status: String = r.get(5)?;
    let detail: Option<String> = r.get(6)?;
    let ocr_pages = match (status.as_str(), &detail) {
        ("indexed" | "needs-ocr", Some(pages)) => {
            pages.split(',').filter_map(|p| p.parse().ok()).collect()
        }
        _ => Vec::new(),
    };
    Ok(FileRecord {
        path: r.get(0)?,
        collection: r.get(1)?,
        content_hash: r.get(2)?,
        size: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
        mtime: r.get(4)?,
        status: FileStatus::from_parts(&status, detail),
        doc_type: r.get(7)?,
        chunks: u64::try_from(r.get::<_, i64>(8)?).unwrap_or(0),
        staged_seq: u64::try_from(r.get::<_, i64>(9)?).unwrap_or(0),
        ocr_pages,
    })
}
