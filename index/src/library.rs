//! The library: one tantivy index and its journal per data directory,
//! searchable by any number of readers, written by one writer at a time.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use tantivy::directory::MmapDirectory;
use tantivy::schema::{Schema, Term};
use tantivy::{
    Directory, Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy, TantivyDocument,
    TantivyError,
};

use crate::chunk::{Chunk, ChunkConfig, TokenCounter, chunk_document};
use crate::foreground::Foreground;
use crate::journal::{CollectionRecord, FileRecord, FileStatus, Journal};
use crate::lock::WriterLock;
use crate::ocr::OcrSettings;
use crate::parse::{Limits, ParseFailure, ParsedDocument};
use crate::prepare::{Outcome, Prepared, Preparer, default_workers, mtime_of};
use crate::schema::{self, Fields};
use crate::sealed::{
    DEFAULT_BLOCK_LOG2, DEFAULT_CACHE_BYTES, IndexKey, SealedDirectory, SealedStats, Sealing,
    sealing_of,
};
use crate::vectors::{VectorCache, chunk_hash};
use crate::{DbKey, Error, Result, analysis};

/// The journal's file in the library folder.
pub(crate) const JOURNAL_FILE: &str = "journal.sqlite";

/// Files per index commit during ingestion.
const BATCH_FILES: usize = 64;
/// Chunks per index commit during ingestion.
const BATCH_CHUNKS: usize = 4000;
/// Files per worker handed out at a time (bounds parsed documents held in memory).
const FILES_PER_WORKER: usize = 4;
/// Memory for tantivy's indexing buffer.
const WRITER_MEMORY: usize = 64 << 20;

/// The document library of one data directory (read side).
pub struct Library {
    dir: PathBuf,
    index: Index,
    reader: IndexReader,
    fields: Fields,
    vectors: VectorCache,
    /// The sealed directory, when the index is encrypted (for its figures).
    sealed: Option<SealedDirectory>,
    /// The key of the SQLite files beside a sealed index.
    db_key: Option<DbKey>,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library").field("dir", &self.dir).finish()
    }
}

impl Library {
    /// Opens (or creates) the library stored in `dir`. An index built under
    /// another schema version is cleared first and its files marked pending,
    /// so the next ingest rebuilds it.
    ///
    /// # Errors
    ///
    /// I/O, index or journal errors; [`Error::InUse`] when the index must be
    /// cleared while another process writes it; [`Error::Encrypted`] when
    /// the index is encrypted (see [`Library::open_sealed`]).
    pub fn open(dir: &Path) -> Result<Self> {
        Self::open_with(dir, &Storage::Plain)
    }

    /// Opens (or creates) the library stored in `dir` with its search index
    /// encrypted at rest under `key` (see [`crate::sealed`]), decrypting
    /// through a block cache of [`DEFAULT_CACHE_BYTES`], and the SQLite files
    /// beside it (journal, vectors, OCR text) encrypted with SQLCipher under
    /// a key derived from `key` (see [`crate::sqlite`]). Otherwise as
    /// [`Library::open`].
    ///
    /// # Errors
    ///
    /// As [`Library::open`]; [`Error::WrongKey`] when `key` is not the
    /// index's; [`Error::NotEncrypted`] when `dir` holds a plaintext index;
    /// [`Error::DatabaseNotEncrypted`] for a plaintext database beside it;
    /// [`Error::Tampered`] when an index file fails its integrity check,
    /// [`Error::DatabaseDamaged`] when a database does.
    pub fn open_sealed(dir: &Path, key: &IndexKey) -> Result<Self> {
        Self::open_sealed_with_cache(dir, key, DEFAULT_CACHE_BYTES)
    }

    /// [`Library::open_sealed`] with a block cache of `cache_bytes`.
    ///
    /// # Errors
    ///
    /// As [`Library::open_sealed`].
    pub fn open_sealed_with_cache(dir: &Path, key: &IndexKey, cache_bytes: usize) -> Result<Self> {
        Self::open_with(
            dir,
            &Storage::Sealed {
                key: key.clone(),
                cache_bytes,
                block_log2: DEFAULT_BLOCK_LOG2,
            },
        )
    }

    pub(crate) fn open_with(dir: &Path, storage: &Storage) -> Result<Self> {
        let tantivy_dir = dir.join("tantivy");
        std::fs::create_dir_all(&tantivy_dir).map_err(|e| Error::io(&tantivy_dir, e))?;
        // The index's key check first: a wrong key is named as such before
        // a database under that key looks damaged.
        storage.open(&tantivy_dir)?;
        let (schema, fields) = schema::build();
        clear_if_outdated(dir, &tantivy_dir, &schema, storage)?;
        let (directory, sealed) = storage.open(&tantivy_dir)?;
        let index = Index::open_or_create(directory, schema)?;
        analysis::register(&index);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()?;
        check_sealed(sealed.as_ref())?;
        Ok(Library {
            dir: dir.to_owned(),
            index,
            reader,
            fields,
            vectors: VectorCache::default(),
            sealed,
            db_key: storage.db_key(),
        })
    }

    /// The block cache and decryption figures of an encrypted index.
    pub fn sealed_stats(&self) -> Option<SealedStats> {
        self.sealed.as_ref().map(SealedDirectory::stats)
    }

    /// Reads every file of the live index through its checks: the CRC
    /// tantivy ends each file with and, when the index is encrypted, every
    /// block's authentication. Returns the files whose CRC fails (none when
    /// the index is sound).
    ///
    /// # Errors
    ///
    /// [`Error::Tampered`] for an encrypted file failing authentication;
    /// I/O or index errors.
    pub fn verify_index(&self) -> Result<Vec<PathBuf>> {
        let mut damaged: Vec<PathBuf> = self.index.validate_checksum()?.into_iter().collect();
        damaged.sort();
        Ok(damaged)
    }

    /// Clears the search index of the library in `dir` and marks its files
    /// pending, so the next ingest or watch pass indexes them again: the
    /// way back from [`Error::Tampered`] and [`Error::DatabaseDamaged`].
    /// With a key, the new index is encrypted under it; without, it is
    /// plaintext. The journal (what was indexed from where) is kept; a
    /// damaged database is set aside (`<file>.damaged-<unix seconds>`) and
    /// started anew, keeping the collections that can still be read from a
    /// damaged journal. Returns how many files await indexing.
    ///
    /// # Errors
    ///
    /// [`Error::InUse`] when another process writes the library; I/O or
    /// journal errors.
    pub fn rebuild_index(dir: &Path, key: Option<&IndexKey>) -> Result<usize> {
        let storage = match key {
            Some(key) => Storage::Sealed {
                key: key.clone(),
                cache_bytes: DEFAULT_CACHE_BYTES,
                block_log2: DEFAULT_BLOCK_LOG2,
            },
            None => Storage::Plain,
        };
        let tantivy_dir = dir.join("tantivy");
        let (schema, _) = schema::build();
        let _lock = WriterLock::acquire(&dir.join("writer.lock"))?;
        let set_aside = crate::damaged::set_aside_damaged(dir, storage.db_key().as_ref())?;
        if set_aside > 0 {
            tracing::info!(
                set_aside,
                "damaged library databases set aside for the rebuild"
            );
        }
        let mut journal = Journal::open(&dir.join(JOURNAL_FILE), storage.db_key().as_ref())?;
        let (_, pending) = clear_index(&tantivy_dir, &schema, &storage, &mut journal)?;
        tracing::info!(pending, "search index cleared for a rebuild");
        Ok(pending)
    }

    /// The library's directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn vector_cache(&self) -> &VectorCache {
        &self.vectors
    }

    pub(crate) fn journal(&self) -> Result<Journal> {
        Journal::open(&self.dir.join(JOURNAL_FILE), self.db_key.as_ref())
    }

    /// The key of the SQLite files beside the index (`None`: plaintext).
    pub(crate) fn db_key(&self) -> Option<&DbKey> {
        self.db_key.as_ref()
    }

    pub(crate) fn parts(&self) -> (&Index, &IndexReader, &Fields) {
        (&self.index, &self.reader, &self.fields)
    }

    /// The collections.
    ///
    /// # Errors
    ///
    /// Journal errors.
    pub fn collections(&self) -> Result<Vec<CollectionRecord>> {
        self.journal()?.collections()
    }

    /// Per-file state, of one collection or all.
    ///
    /// # Errors
    ///
    /// Journal errors; [`Error::UnknownCollection`].
    pub fn status(&self, collection: Option<&str>) -> Result<Vec<FileRecord>> {
        let journal = self.journal()?;
        if let Some(name) = collection {
            journal
                .collection(name)?
                .ok_or_else(|| Error::UnknownCollection(name.to_owned()))?;
        }
        journal.files(collection)
    }

    /// The journal row of the file at `path`, when the library knows it.
    ///
    /// # Errors
    ///
    /// Journal errors.
    pub fn file(&self, path: &str) -> Result<Option<FileRecord>> {
        self.journal()?.file(path)
    }

    /// Files awaiting (re-)indexing: searches do not see them until the next
    /// ingest or watch pass.
    ///
    /// # Errors
    ///
    /// Journal errors.
    pub fn pending_files(&self) -> Result<u64> {
        self.journal()?.pending_files()
    }

    /// Paths that hold a document's content (duplicates included).
    ///
    /// # Errors
    ///
    /// Journal errors.
    pub fn paths_of(&self, collection: &str, content_hash: &str) -> Result<Vec<String>> {
        self.journal()?.paths_with_hash(collection, content_hash)
    }

    /// Makes readers see the latest commit now (tests and the writer's own process).
    ///
    /// # Errors
    ///
    /// Index errors.
    pub fn reload(&self) -> Result<()> {
        self.reader.reload()?;
        check_sealed(self.sealed.as_ref())
    }

    /// Takes the writer lock and returns a writer.
    ///
    /// # Errors
    ///
    /// [`Error::InUse`] when another process writes; index or journal errors.
    pub fn writer(
        &self,
        counter: TokenCounter,
        settings: IngestSettings,
    ) -> Result<LibraryWriter<'_>> {
        let lock = WriterLock::acquire(&self.dir.join("writer.lock"))?;
        let writer: IndexWriter<TantivyDocument> =
            self.index.writer_with_num_threads(1, WRITER_MEMORY)?;
        let journal = self.journal()?;
        let mut w = LibraryWriter {
            library: self,
            _lock: lock,
            writer,
            journal,
            counter,
            settings,
            seq: 0,
            erased: false,
        };
        w.recover()?;
        Ok(w)
    }

    /// The sequence number of the last committed ingestion batch: the
    /// library state an answer saw.
    ///
    /// # Errors
    ///
    /// Index errors.
    pub fn commit_seq(&self) -> Result<u64> {
        self.index_seq()
    }

    fn index_seq(&self) -> Result<u64> {
        let metas = self.index.load_metas()?;
        Ok(metas.payload.and_then(|p| p.parse().ok()).unwrap_or(0))
    }

    /// The schema (for tools that read the index directly).
    pub fn schema(&self) -> Schema {
        self.index.schema()
    }
}

/// Limits and chunk sizes for ingestion.
#[derive(Debug, Clone, Default)]
pub struct IngestSettings {
    /// Parser limits.
    pub limits: Limits,
    /// Chunk sizes.
    pub chunking: ChunkConfig,
    /// Interactive work ingestion waits for, between files.
    pub foreground: Foreground,
    /// Threads that read, parse and chunk files (0: one per core, at most 4).
    pub workers: usize,
    /// OCR of scanned pages after each ingestion (see [`crate::ocr`]).
    pub ocr: OcrSettings,
}

/// What ingestion reports as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestEvent {
    /// Files found under the roots.
    Discovered {
        /// How many.
        files: usize,
    },
    /// One file handled.
    File {
        /// Its path.
        path: String,
        /// What happened.
        status: FileStatus,
        /// Files handled so far.
        done: usize,
    },
    /// A batch was committed and is searchable.
    Committed {
        /// Commit sequence number.
        seq: u64,
    },
    /// One scanned page was read by OCR (after the files were indexed).
    Ocr {
        /// The file.
        path: String,
        /// The page (1-based).
        page: u32,
        /// Pages in the document (so a front end can say "page 3 of 12").
        pages: u32,
        /// Mean word confidence (0–100); `None` when the page held no text
        /// or could not be read (then `failure` says why).
        confidence: Option<u8>,
        /// Why the page could not be read, for the user.
        failure: Option<String>,
        /// Pages read so far in this run.
        done: usize,
        /// Pages this run has found to read so far (grows as scanned PDFs
        /// are opened).
        total: usize,
    },
}

/// Totals of one ingestion run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Newly indexed or re-indexed files.
    pub indexed: usize,
    /// Unchanged since the last run.
    pub unchanged: usize,
    /// Same content as another file.
    pub duplicates: usize,
    /// Files of this run that have no text (scans) and still need OCR at
    /// its end (OCR off, its tools missing, stopped, or failed).
    pub needs_ocr: usize,
    /// Pages of this run's files that are scans without text still awaiting
    /// OCR at its end.
    pub ocr_pages: usize,
    /// Pages read by OCR in this run.
    pub ocr_read: usize,
    /// Of those, pages whose mean word confidence is below
    /// [`crate::LOW_OCR_CONFIDENCE`].
    pub ocr_low_confidence: usize,
    /// Pages OCR gave up on in this run (time or memory limit, damaged page).
    pub ocr_failed: usize,
    /// Why OCR could not run at all (its tools are not installed), for the user.
    pub ocr_unavailable: Option<String>,
    /// Files that failed, with a reason each.
    pub failed: usize,
    /// Files gone since the last run.
    pub removed: usize,
    /// Chunks added.
    pub chunks: usize,
    /// Bytes of extracted text added.
    pub text_bytes: usize,
}

/// The single writer of a library.
pub struct LibraryWriter<'a> {
    pub(crate) library: &'a Library,
    _lock: WriterLock,
    writer: IndexWriter<TantivyDocument>,
    pub(crate) journal: Journal,
    pub(crate) counter: TokenCounter,
    pub(crate) settings: IngestSettings,
    seq: u64,
    /// A commit deleted chunks or removed files since the last purge of
    /// what they left (vectors, OCR text): see [`LibraryWriter::purge_erased`].
    erased: bool,
}

impl std::fmt::Debug for LibraryWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LibraryWriter")
            .field("seq", &self.seq)
            .finish()
    }
}

/// A file's outcome before it is written to the journal.
pub(crate) struct Staged {
    pub(crate) record: FileRecord,
    pub(crate) delete_key: Option<String>,
}

impl LibraryWriter<'_> {
    /// Brings journal and index into agreement after a crash: rows staged for
    /// commits that never happened are redone, and documents no row accounts
    /// for are deleted.
    fn recover(&mut self) -> Result<()> {
        self.seq = self.library.index_seq()?;
        let redo = self.journal.recover(self.seq)?;
        let live: HashSet<String> = self
            .journal
            .files(None)?
            .into_iter()
            .filter(|r| matches!(r.status, FileStatus::Indexed))
            .filter_map(|r| r.content_hash.map(|h| doc_key(&r.collection, &h)))
            .collect();
        let (_, reader, fields) = self.library.parts();
        reader.reload()?;
        let searcher = reader.searcher();
        let mut orphans = HashSet::new();
        for segment in searcher.segment_readers() {
            let inverted = segment.inverted_index(fields.doc_key)?;
            let mut terms = inverted
                .terms()
                .stream()
                .map_err(|e| Error::from(TantivyError::from(e)))?;
            while terms.advance() {
                let key = String::from_utf8_lossy(terms.key()).into_owned();
                if !live.contains(&key) {
                    orphans.insert(key);
                }
            }
        }
        if redo > 0 || !orphans.is_empty() {
            tracing::info!(
                redo,
                orphans = orphans.len(),
                "library recovered after an interrupted ingestion"
            );
            for key in &orphans {
                self.writer
                    .delete_term(Term::from_field_text(fields.doc_key, key));
            }
            self.commit(&mut Vec::new())?;
        }
        Ok(())
    }

    /// Indexes the files under `roots` into `collection`: new and changed files
    /// are (re)indexed, unchanged ones skipped, duplicates recorded, vanished
    /// ones removed. One bad file never stops the batch. Then, when OCR is on
    /// for the collection, scanned pages awaiting it are read
    /// ([`LibraryWriter::ingest_until`]).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCollectionName`], index or journal failures (never a
    /// single file's problem).
    pub fn ingest(
        &mut self,
        collection: &str,
        roots: &[PathBuf],
        progress: &mut dyn FnMut(&IngestEvent),
    ) -> Result<IngestReport> {
        self.ingest_until(collection, roots, &AtomicBool::new(false), progress)
    }

    /// [`LibraryWriter::ingest`], stopping once `stop` is set: file
    /// indexing between batches of files (what was prepared is committed),
    /// OCR between pages or by ending the page's OCR process. Files not
    /// reached and pages not read yet are taken up by a later run over the
    /// collection (its folders are recorded before any file is read).
    ///
    /// # Errors
    ///
    /// As [`LibraryWriter::ingest`]; [`Error::DiskFull`] when a write failed
    /// for lack of space.
    pub fn ingest_until(
        &mut self,
        collection: &str,
        roots: &[PathBuf],
        stop: &AtomicBool,
        progress: &mut dyn FnMut(&IngestEvent),
    ) -> Result<IngestReport> {
        self.ingest_inner(collection, roots, stop, progress)
            .map_err(|e| e.or_disk_full(&self.library.dir))
    }

    fn ingest_inner(
        &mut self,
        collection: &str,
        roots: &[PathBuf],
        stop: &AtomicBool,
        progress: &mut dyn FnMut(&IngestEvent),
    ) -> Result<IngestReport> {
        validate_collection_name(collection)?;
        let roots: Vec<PathBuf> = roots
            .iter()
            .map(|r| std::fs::canonicalize(r).map_err(|e| Error::io(r, e)))
            .collect::<Result<_>>()?;
        let root_strings: Vec<String> = roots
            .iter()
            .map(|r| r.to_string_lossy().into_owned())
            .collect();
        self.journal.add_roots(collection, &root_strings)?;

        let found = discover(&roots);
        progress(&IngestEvent::Discovered { files: found.len() });
        let present: HashSet<String> = found
            .iter()
            .map(|f| f.path.to_string_lossy().into_owned())
            .collect();
        let mut report = IngestReport::default();
        // Removals first: a surviving duplicate of a vanished file must take
        // over its content, so hits never name a file that is gone.
        let mut staged = self.removals(collection, &roots, &present, &mut report)?;
        if !staged.is_empty() {
            let seq = self.commit(&mut staged)?;
            progress(&IngestEvent::Committed { seq });
        }
        let mut chunks_in_batch = 0;
        let mut done = 0;
        // Files of this run with scanned pages, and whether they had no text.
        let mut scanned: Vec<(String, bool)> = Vec::new();
        let workers = match self.settings.workers {
            0 => default_workers(),
            n => n,
        };
        for window in found.chunks(workers * FILES_PER_WORKER) {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            self.settings.foreground.wait_until_idle();
            // Unchanged files and discovery problems need no reading.
            let mut todo = Vec::new();
            for (i, item) in window.iter().enumerate() {
                if item.problem.is_none() && !self.unchanged(collection, &item.path)? {
                    todo.push(i);
                }
            }
            let paths: Vec<&Path> = window.iter().map(|f| f.path.as_path()).collect();
            let mut prepared = Preparer {
                limits: &self.settings.limits,
                chunking: &self.settings.chunking,
                counter: &self.counter,
                foreground: &self.settings.foreground,
            }
            .prepare_all(&paths, &todo, workers);
            for (item, prepared) in window.iter().zip(prepared.iter_mut()) {
                done += 1;
                let path_string = item.path.to_string_lossy().into_owned();
                let stage = match (&item.problem, prepared.take()) {
                    (Some(reason), _) => self.failed(collection, &path_string, reason.clone()),
                    (None, Some(prepared)) => {
                        self.apply(collection, &path_string, prepared, &staged, &mut report)?
                    }
                    (None, None) => {
                        report.unchanged += 1;
                        continue;
                    }
                };
                match &stage.record.status {
                    FileStatus::Indexed => report.indexed += 1,
                    FileStatus::Duplicate { .. } => report.duplicates += 1,
                    FileStatus::NeedsOcr => report.needs_ocr += 1,
                    FileStatus::Failed { .. } => report.failed += 1,
                    FileStatus::Pending | FileStatus::Removed => {}
                }
                if matches!(stage.record.status, FileStatus::NeedsOcr)
                    || !stage.record.ocr_pages.is_empty()
                {
                    scanned.push((
                        path_string.clone(),
                        matches!(stage.record.status, FileStatus::NeedsOcr),
                    ));
                }
                chunks_in_batch += usize::try_from(stage.record.chunks).unwrap_or(0);
                progress(&IngestEvent::File {
                    path: path_string,
                    status: stage.record.status.clone(),
                    done,
                });
                staged.push(stage);
                if staged.len() >= BATCH_FILES || chunks_in_batch >= BATCH_CHUNKS {
                    let seq = self.commit(&mut staged)?;
                    chunks_in_batch = 0;
                    progress(&IngestEvent::Committed { seq });
                }
            }
        }
        if !staged.is_empty() || report.indexed > 0 {
            let seq = self.commit(&mut staged)?;
            progress(&IngestEvent::Committed { seq });
        }
        self.ocr_after_ingest(collection, &scanned, stop, &mut report, progress)?;
        self.purge_erased()?;
        Ok(report)
    }

    /// Erasure in the pass that deleted chunks (a file vanished or
    /// changed): the vectors of chunks no longer in the index and the OCR
    /// text of content no file holds go now, not at a later embedding or
    /// OCR pass. Journal rows of removed files went with their commit.
    fn purge_erased(&mut self) -> Result<()> {
        if !std::mem::take(&mut self.erased) {
            return Ok(());
        }
        let (_, reader, _) = self.library.parts();
        reader.reload()?;
        let purged = self.library.purge_orphans(&reader.searcher())?;
        tracing::debug!(purged, "vectors and OCR text of removed files erased");
        Ok(())
    }

    /// Removes a collection and erases what it left: its chunks (the
    /// index's segments are merged, so deleted documents leave the files on
    /// disk too), its journal rows, the vectors of its chunks and the OCR
    /// text of its files (content another collection still holds stays).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownCollection`], index or journal failures.
    pub fn remove_collection(&mut self, name: &str) -> Result<usize> {
        let files = self.journal.files(Some(name))?;
        if self.journal.collection(name)?.is_none() {
            return Err(Error::UnknownCollection(name.to_owned()));
        }
        let library: &Library = self.library;
        let (index, reader, fields) = library.parts();
        self.writer
            .delete_term(Term::from_field_text(fields.collection, name));
        self.commit(&mut Vec::new())?;
        self.journal.remove_collection(name)?;
        let segments = index.searchable_segment_ids()?;
        // A merge rewrites the segments without the deleted documents. One
        // that cannot run now (a background merge holds a segment) leaves
        // them, sealed, until a later merge.
        if !segments.is_empty()
            && let Err(e) = self.writer.merge(&segments).wait()
        {
            tracing::debug!(error = %e, "segments not merged after a removal");
        }
        self.writer.garbage_collect_files().wait()?;
        reader.reload()?;
        let purged = library.purge_orphans(&reader.searcher())?;
        tracing::debug!(
            purged,
            "vectors and OCR text of the removed collection erased"
        );
        Ok(files.len())
    }

    /// The collections (for watch mode).
    pub(crate) fn collections(&self) -> Result<Vec<CollectionRecord>> {
        self.journal.collections()
    }

    /// Stages the removal of files under `roots` that are no longer present;
    /// a present duplicate of a removed indexed file is staged as pending, so
    /// this run indexes the content under its name.
    fn removals(
        &self,
        collection: &str,
        roots: &[PathBuf],
        present: &HashSet<String>,
        report: &mut IngestReport,
    ) -> Result<Vec<Staged>> {
        let mut staged = Vec::new();
        for record in self.journal.files(Some(collection))? {
            let under_roots = roots.iter().any(|r| Path::new(&record.path).starts_with(r));
            if !under_roots || present.contains(&record.path) {
                continue;
            }
            report.removed += 1;
            if let (FileStatus::Indexed, Some(hash)) = (&record.status, &record.content_hash) {
                for twin in self.journal.paths_with_hash(collection, hash)? {
                    if twin == record.path || !present.contains(&twin) {
                        continue;
                    }
                    if let Some(survivor) = self.journal.file(&twin)? {
                        staged.push(Staged {
                            record: FileRecord {
                                status: FileStatus::Pending,
                                ..survivor
                            },
                            delete_key: None,
                        });
                    }
                }
            }
            staged.push(self.removal(record)?);
        }
        Ok(staged)
    }

    fn failed(&self, collection: &str, path: &str, reason: String) -> Staged {
        Staged {
            record: FileRecord {
                path: path.to_owned(),
                collection: collection.to_owned(),
                content_hash: None,
                size: 0,
                mtime: 0,
                status: FileStatus::Failed { reason },
                doc_type: None,
                chunks: 0,
                staged_seq: 0,
                ocr_pages: Vec::new(),
            },
            delete_key: None,
        }
    }

    fn removal(&self, record: FileRecord) -> Result<Staged> {
        let delete_key = match &record.content_hash {
            Some(hash) if matches!(record.status, FileStatus::Indexed) => {
                self.orphaned_key(&record.collection, hash, &record.path)?
            }
            _ => None,
        };
        Ok(Staged {
            record: FileRecord {
                status: FileStatus::Removed,
                ..record
            },
            delete_key,
        })
    }

    /// The document key of `hash`, unless a path other than `path` still holds that content.
    fn orphaned_key(&self, collection: &str, hash: &str, path: &str) -> Result<Option<String>> {
        let others = self.journal.paths_with_hash(collection, hash)?;
        Ok(others
            .iter()
            .all(|p| p == path)
            .then(|| doc_key(collection, hash)))
    }

    /// True when the journal already has this file as it is now.
    fn unchanged(&self, collection: &str, path: &Path) -> Result<bool> {
        let Some(previous) = self.journal.file(&path.to_string_lossy())? else {
            return Ok(false);
        };
        let Ok(meta) = std::fs::metadata(path) else {
            return Ok(false);
        };
        Ok(previous.collection == collection
            && previous.size == meta.len()
            && previous.mtime == mtime_of(&meta)
            && !matches!(
                previous.status,
                FileStatus::Pending | FileStatus::Failed { .. } | FileStatus::Removed
            ))
    }

    /// Turns a prepared file into its journal row and index documents: a
    /// duplicate of content already indexed is recorded, not indexed again.
    fn apply(
        &mut self,
        collection: &str,
        path_string: &str,
        prepared: Prepared,
        staged: &[Staged],
        report: &mut IngestReport,
    ) -> Result<Staged> {
        let (hash, parsed) = match prepared.outcome {
            Outcome::Unread(reason) => return Ok(self.failed(collection, path_string, reason)),
            Outcome::Read { hash, parsed } => (hash, parsed),
        };
        let previous = self.journal.file(path_string)?;
        // The chunks this path held before, if it now holds other content or
        // moved collection, and no duplicate still relies on them.
        let old_key = match &previous {
            Some(p)
                if matches!(p.status, FileStatus::Indexed)
                    && (p.content_hash.as_deref() != Some(hash.as_str())
                        || p.collection != collection) =>
            {
                match &p.content_hash {
                    Some(old) => self.orphaned_key(&p.collection, old, path_string)?,
                    None => None,
                }
            }
            _ => None,
        };
        let mut record = FileRecord {
            path: path_string.to_owned(),
            collection: collection.to_owned(),
            content_hash: Some(hash.clone()),
            size: prepared.size,
            mtime: prepared.mtime,
            status: FileStatus::Pending,
            doc_type: None,
            chunks: 0,
            staged_seq: 0,
            ocr_pages: Vec::new(),
        };
        // Same content as another file: index it once, record both paths.
        let in_batch = staged.iter().find(|s| {
            s.record.collection == collection
                && s.record.content_hash.as_deref() == Some(hash.as_str())
                && matches!(s.record.status, FileStatus::Indexed)
        });
        let twin = match in_batch {
            Some(s) => Some(s.record.path.clone()),
            None => self
                .journal
                .indexed_with_hash(collection, &hash, path_string)?,
        };
        if let Some(of) = twin {
            if previous.as_ref().and_then(|p| p.content_hash.as_deref()) == Some(hash.as_str())
                && matches!(
                    previous.as_ref().map(|p| &p.status),
                    Some(FileStatus::Indexed)
                )
            {
                // It was the indexed copy itself (mtime touched): nothing to do.
                record.status = FileStatus::Indexed;
                if let Some(p) = previous {
                    record.chunks = p.chunks;
                    record.ocr_pages = p.ocr_pages;
                }
                return Ok(Staged {
                    record,
                    delete_key: None,
                });
            }
            record.status = FileStatus::Duplicate { of };
            return Ok(Staged {
                record,
                delete_key: old_key,
            });
        }
        // Scanned pages OCR has already read (this content, any path) are
        // indexed with the rest, whatever the collection's OCR switch.
        let parsed = self.with_cached_ocr(&hash, path_string, parsed)?;
        let (doc, chunks) = match parsed {
            Ok((doc, _)) if doc.char_count() == 0 => {
                // Only scans (an image), none read yet.
                record.doc_type = Some(doc.kind.as_str().to_owned());
                record.ocr_pages = doc.pages_needing_ocr();
                record.status = if record.ocr_pages.is_empty() {
                    FileStatus::Failed {
                        reason: crate::ocr::NO_TEXT_RECOGNISED.to_owned(),
                    }
                } else {
                    FileStatus::NeedsOcr
                };
                return Ok(Staged {
                    record,
                    delete_key: old_key,
                });
            }
            Ok(parsed) => parsed,
            Err(ParseFailure::NeedsOcr) => {
                record.status = FileStatus::NeedsOcr;
                return Ok(Staged {
                    record,
                    delete_key: old_key,
                });
            }
            Err(failure) => {
                record.status = FileStatus::Failed {
                    reason: failure.to_string(),
                };
                return Ok(Staged {
                    record,
                    delete_key: old_key,
                });
            }
        };
        record.ocr_pages = doc.pages_needing_ocr();
        report.ocr_pages += record.ocr_pages.len();
        record.doc_type = Some(doc.kind.as_str().to_owned());
        let text_bytes = self.add_chunks(
            collection,
            &hash,
            path_string,
            prepared.mtime,
            &doc,
            &chunks,
        )?;
        report.text_bytes += text_bytes;
        report.chunks += chunks.len();
        record.status = FileStatus::Indexed;
        record.chunks = chunks.len() as u64;
        Ok(Staged {
            record,
            delete_key: old_key,
        })
    }

    /// Chunks a parsed document and adds its chunks (replacing any earlier copy
    /// of the same content); returns the chunk count and text bytes.
    pub(crate) fn index_parsed(
        &mut self,
        collection: &str,
        hash: &str,
        path: &str,
        mtime: i64,
        doc: &ParsedDocument,
    ) -> Result<(usize, usize)> {
        let chunks = chunk_document(doc, &self.counter, &self.settings.chunking);
        let text_bytes = self.add_chunks(collection, hash, path, mtime, doc, &chunks)?;
        Ok((chunks.len(), text_bytes))
    }

    /// Adds a document's chunks (replacing any earlier copy of the same
    /// content); returns the bytes of text added.
    pub(crate) fn add_chunks(
        &mut self,
        collection: &str,
        hash: &str,
        path: &str,
        mtime: i64,
        doc: &ParsedDocument,
        chunks: &[Chunk],
    ) -> Result<usize> {
        let key = doc_key(collection, hash);
        let title = doc.title.clone().unwrap_or_default();
        let (_, _, f) = self.library.parts();
        // Re-indexing the same content (e.g. after a crash) replaces, never duplicates.
        self.writer
            .delete_term(Term::from_field_text(f.doc_key, &key));
        let mut text_bytes = 0;
        for (i, chunk) in chunks.iter().enumerate() {
            let headings = chunk.heading_path.join(" > ");
            let mut d = TantivyDocument::default();
            d.add_text(f.doc_key, &key);
            d.add_text(f.collection, collection);
            d.add_text(f.content_hash, hash);
            d.add_text(f.path, path);
            d.add_text(f.title, &title);
            d.add_text(f.title_ko, &title);
            d.add_text(f.title_ko_bigram, &title);
            d.add_text(f.title_en, &title);
            d.add_text(f.headings, &headings);
            d.add_text(f.headings_ko, &headings);
            d.add_text(f.headings_ko_bigram, &headings);
            d.add_text(f.headings_en, &headings);
            d.add_text(f.chunk_hash, chunk_hash(&chunk.text));
            d.add_text(f.text, &chunk.text);
            d.add_text(f.text_ko, &chunk.text);
            d.add_text(f.text_ko_bigram, &chunk.text);
            d.add_text(f.text_en, &chunk.text);
            d.add_u64(f.page, u64::from(chunk.page));
            d.add_u64(f.span_start, chunk.span.start as u64);
            d.add_u64(f.span_end, chunk.span.end as u64);
            d.add_u64(f.chunk_index, i as u64);
            d.add_text(f.doc_type, doc.kind.as_str());
            d.add_text(f.language, chunk.language.as_str());
            d.add_i64(f.modified, mtime);
            if let Some(meta) = doc
                .pages
                .iter()
                .find(|p| p.number == chunk.page)
                .map(|p| &p.meta)
            {
                if let Some(patient) = &meta.patient_id {
                    d.add_text(f.patient_id, patient);
                }
                if let Some(effective) = meta.effective {
                    d.add_i64(f.effective, effective);
                }
                if let Some(confidence) = meta.ocr_confidence {
                    d.add_u64(f.ocr_confidence, u64::from(confidence));
                }
            }
            self.writer.add_document(d)?;
            text_bytes += chunk.text.len();
        }
        Ok(text_bytes)
    }

    /// Commits what was added so far (used by evaluation and benchmarks).
    ///
    /// # Errors
    ///
    /// Index or journal failures.
    pub fn commit_now(&mut self) -> Result<u64> {
        self.commit(&mut Vec::new())
    }

    /// Journal first (staged at seq+1), then the index commit carrying seq+1:
    /// whichever step a crash interrupts, recovery can tell what the index holds.
    pub(crate) fn commit(&mut self, staged: &mut Vec<Staged>) -> Result<u64> {
        let seq = self.seq + 1;
        let (_, _, fields) = self.library.parts();
        for s in staged.iter_mut() {
            if let Some(key) = &s.delete_key {
                self.writer
                    .delete_term(Term::from_field_text(fields.doc_key, key));
            }
            // A removed file may hold OCR text without chunks (still awaiting pages).
            self.erased |= s.delete_key.is_some() || s.record.status == FileStatus::Removed;
            s.record.staged_seq = seq;
        }
        let records: Vec<FileRecord> = staged.drain(..).map(|s| s.record).collect();
        self.journal.write_batch(&records)?;
        let mut prepared = self.writer.prepare_commit()?;
        prepared.set_payload(&seq.to_string());
        prepared.commit()?;
        self.seq = seq;
        self.journal.purge_removed(seq)?;
        Ok(seq)
    }
}

/// [`Error::Tampered`] when the sealed directory found a file damaged while
/// tantivy opened segments: tantivy takes a positions file it cannot open
/// for an absent one, and would fail only later, without naming it.
fn check_sealed(sealed: Option<&SealedDirectory>) -> Result<()> {
    match sealed.and_then(SealedDirectory::damage) {
        Some(file) => Err(Error::Tampered { file }),
        None => Ok(()),
    }
}

/// How the index's files are kept on disk.
#[derive(Debug, Clone)]
pub(crate) enum Storage {
    /// As tantivy writes them.
    Plain,
    /// Sealed (see [`crate::sealed`]).
    Sealed {
        key: IndexKey,
        cache_bytes: usize,
        block_log2: u8,
    },
}

impl Storage {
    /// The key of the SQLite files beside the index.
    fn db_key(&self) -> Option<DbKey> {
        match self {
            Storage::Plain => None,
            Storage::Sealed { key, .. } => Some(DbKey::for_library(key)),
        }
    }

    /// Opens the index directory; a sealed one is also returned as such.
    fn open(&self, tantivy_dir: &Path) -> Result<(Box<dyn Directory>, Option<SealedDirectory>)> {
        match self {
            Storage::Plain => {
                if sealing_of(tantivy_dir)? == Sealing::Sealed {
                    return Err(Error::Encrypted);
                }
                let directory =
                    MmapDirectory::open(tantivy_dir).map_err(|e| Error::Tantivy(e.into()))?;
                Ok((Box::new(directory), None))
            }
            Storage::Sealed {
                key,
                cache_bytes,
                block_log2,
            } => {
                let directory = SealedDirectory::open(tantivy_dir, key, *cache_bytes, *block_log2)?;
                Ok((Box::new(directory.clone()), Some(directory)))
            }
        }
    }
}

/// Clears an index built under another [`schema::VERSION`] (or whose fields
/// differ from ours) and marks its files pending in the journal: old terms
/// must never be searched with new analyzers. The index goes first, then the
/// journal records the new version, so a crash in between only repeats this.
fn clear_if_outdated(
    dir: &Path,
    tantivy_dir: &Path,
    schema: &Schema,
    storage: &Storage,
) -> Result<()> {
    let current = |journal: &Journal| -> Result<bool> {
        Ok(journal.schema_version()? == Some(schema::VERSION)
            && !fields_differ(tantivy_dir, schema, storage)?)
    };
    let journal_path = dir.join(JOURNAL_FILE);
    let db_key = storage.db_key();
    if current(&Journal::open(&journal_path, db_key.as_ref())?)? {
        return Ok(());
    }
    let _lock = WriterLock::acquire(&dir.join("writer.lock"))?;
    let mut journal = Journal::open(&journal_path, db_key.as_ref())?;
    let stored = journal.schema_version()?;
    if current(&journal)? {
        return Ok(()); // another process cleared it first
    }
    // Nothing is cleared that this storage cannot open: not an encrypted
    // index without its key, nor a plaintext one as if it were encrypted.
    storage.open(tantivy_dir)?;
    let (had_index, pending) = clear_index(tantivy_dir, schema, storage, &mut journal)?;
    if had_index || pending > 0 {
        tracing::info!(
            from = stored.unwrap_or(1),
            to = schema::VERSION,
            pending,
            "search index built with an older schema was cleared; its files are re-indexed on the next ingest"
        );
    }
    Ok(())
}

/// Replaces the index in `tantivy_dir` with an empty one (when there was
/// one) and marks the journal's files pending under the current schema.
/// The caller holds the writer lock. Returns whether there was an index and
/// how many files became pending.
fn clear_index(
    tantivy_dir: &Path,
    schema: &Schema,
    storage: &Storage,
    journal: &mut Journal,
) -> Result<(bool, usize)> {
    let had_index = index_exists(tantivy_dir, storage)?;
    // A plaintext index cleared to be rebuilt encrypted keeps its sequence too.
    let last_seq = if had_index {
        last_seq(tantivy_dir, storage).max(last_seq(tantivy_dir, &Storage::Plain))
    } else {
        0
    };
    std::fs::remove_dir_all(tantivy_dir).map_err(|e| Error::io(tantivy_dir, e))?;
    std::fs::create_dir_all(tantivy_dir).map_err(|e| Error::io(tantivy_dir, e))?;
    if had_index {
        // The commit sequence goes on from the old index (answers record it):
        // the empty index is a new state, one past the last.
        let (directory, _) = storage.open(tantivy_dir)?;
        let index = Index::create(directory, schema.clone(), IndexSettings::default())?;
        let mut writer: IndexWriter<TantivyDocument> =
            index.writer_with_num_threads(1, WRITER_MEMORY)?;
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&(last_seq + 1).to_string());
        prepared.commit()?;
        writer.wait_merging_threads()?;
    }
    let pending = journal.reset_for_new_schema(schema::VERSION)?;
    Ok((had_index, pending))
}

/// The commit sequence of the index in `tantivy_dir`, whatever its schema; 0
/// when it cannot be read (the index is about to be cleared anyway).
fn last_seq(tantivy_dir: &Path, storage: &Storage) -> u64 {
    storage
        .open(tantivy_dir)
        .ok()
        .and_then(|(directory, _)| Index::open(directory).ok())
        .and_then(|index| index.load_metas().ok())
        .and_then(|metas| metas.payload)
        .and_then(|payload| payload.parse().ok())
        .unwrap_or(0)
}

/// Whether `tantivy_dir` holds an index. A sealed one counts even when it
/// cannot be opened (damaged, or under another key): it is one to clear.
fn index_exists(tantivy_dir: &Path, storage: &Storage) -> Result<bool> {
    if let Storage::Sealed { .. } = storage {
        let meta = tantivy_dir.join("meta.json");
        return meta.try_exists().map_err(|e| Error::io(meta, e));
    }
    let (directory, _) = storage.open(tantivy_dir)?;
    Index::exists(&*directory).map_err(|e| Error::from(TantivyError::from(e)))
}

/// Whether an index exists in `tantivy_dir` with fields other than `schema`'s.
fn fields_differ(tantivy_dir: &Path, schema: &Schema, storage: &Storage) -> Result<bool> {
    let (directory, _) = storage.open(tantivy_dir)?;
    if !Index::exists(&*directory).map_err(|e| Error::from(TantivyError::from(e)))? {
        return Ok(false);
    }
    Ok(Index::open(directory)?.schema() != *schema)
}

/// `collection:content-hash`, the key all chunks of one document share.
pub(crate) fn doc_key(collection: &str, hash: &str) -> String {
    format!("{collection}:{hash}")
}

/// Checks a collection name.
///
/// # Errors
///
/// [`Error::InvalidCollectionName`].
pub fn validate_collection_name(name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidCollectionName(name.to_owned()))
    }
}

/// A file found under the roots, or a path that cannot be indexed and why.
struct Found {
    path: PathBuf,
    problem: Option<String>,
}

/// Walks the roots: regular files (following symlinks, loops detected), with
/// FIFOs, devices and unreadable entries reported instead of opened.
fn discover(roots: &[PathBuf]) -> Vec<Found> {
    let mut found = Vec::new();
    for root in roots {
        for entry in walkdir::WalkDir::new(root)
            .follow_links(true)
            .sort_by_file_name()
        {
            match entry {
                Ok(entry) => {
                    let ft = entry.file_type();
                    if ft.is_dir() {
                        continue;
                    }
                    let problem = (!ft.is_file())
                        .then(|| "not a regular file (device, FIFO or socket); skipped".to_owned());
                    if entry.path().to_str().is_none() {
                        found.push(Found {
                            path: entry.path().to_owned(),
                            problem: Some(
                                "the file name is not valid UTF-8; rename the file".to_owned(),
                            ),
                        });
                        continue;
                    }
                    found.push(Found {
                        path: entry.path().to_owned(),
                        problem,
                    });
                }
                Err(err) => {
                    let reason = if err.loop_ancestor().is_some() {
                        "symbolic link loop; skipped".to_owned()
                    } else {
                        match err.io_error() {
                            Some(io) => format!("cannot read: {io}"),
                            None => "cannot read".to_owned(),
                        }
                    };
                    if let Some(path) = err.path() {
                        found.push(Found {
                            path: path.to_owned(),
                            problem: Some(reason),
                        });
                    }
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SearchRequest;
    use crate::test_support::chunk_tokenizer;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    fn hits(library: &Library, query: &str) -> Result<usize> {
        Ok(library
            .search(&SearchRequest {
                query: query.into(),
                limit: 10,
                ..Default::default()
            })?
            .hits
            .len())
    }

    fn ingest(library: &Library, docs: &Path) -> Result<IngestReport> {
        let counter = TokenCounter::from_file(&chunk_tokenizer())?;
        let mut writer = library.writer(counter, IngestSettings::default())?;
        let report = writer.ingest("c", &[docs.to_owned()], &mut |_| {})?;
        drop(writer);
        library.reload()?;
        Ok(report)
    }

    #[test]
    fn an_index_built_under_an_older_schema_is_cleared_and_reindexed() -> TestResult {
        let data = tempfile::tempdir()?;
        let docs = tempfile::tempdir()?;
        std::fs::write(docs.path().join("a.txt"), "혈압약은 아침에 복용한다.")?;
        std::fs::write(docs.path().join("b.txt"), "혈압약은 아침에 복용한다.")?;
        let dir = data.path().join("library");
        {
            let library = Library::open(&dir)?;
            let report = ingest(&library, docs.path())?;
            assert_eq!((report.indexed, report.duplicates), (1, 1));
            assert_eq!(hits(&library, "혈압약")?, 1);
        }
        // What an older version left: another schema on disk, no version recorded.
        let tantivy_dir = dir.join("tantivy");
        std::fs::remove_dir_all(&tantivy_dir)?;
        std::fs::create_dir(&tantivy_dir)?;
        let mut old = Schema::builder();
        let text = old.add_text_field("text_ko", tantivy::schema::TEXT);
        let old = Index::create_in_dir(&tantivy_dir, old.build())?;
        let mut writer: IndexWriter<TantivyDocument> = old.writer_with_num_threads(1, 15 << 20)?;
        writer.add_document(tantivy::doc!(text => "혈압약은"))?;
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload("7");
        prepared.commit()?;
        drop((writer, old));
        rusqlite::Connection::open(dir.join("journal.sqlite"))?.execute("DELETE FROM meta", [])?;

        let library = Library::open(&dir)?;
        assert_eq!(
            hits(&library, "혈압약")?,
            0,
            "nothing is searched with the old terms"
        );
        assert_eq!(library.commit_seq()?, 8, "the commit sequence goes on");
        let statuses: Vec<&str> = library
            .status(None)?
            .iter()
            .map(|r| r.status.as_str())
            .collect();
        assert_eq!(statuses, ["pending", "duplicate"]);
        let report = ingest(&library, docs.path())?;
        assert_eq!((report.indexed, report.unchanged), (1, 1));
        assert_eq!(hits(&library, "혈압약")?, 1);
        assert_eq!(library.journal()?.schema_version()?, Some(schema::VERSION));
        drop(library);
        // Opening again at the current version keeps the index.
        let library = Library::open(&dir)?;
        assert_eq!(hits(&library, "혈압약")?, 1);
        assert!(
            library
                .status(None)?
                .iter()
                .all(|r| !matches!(r.status, FileStatus::Pending))
        );
        Ok(())
    }

    #[test]
    fn a_stopped_ingestion_keeps_what_it_did_and_the_next_run_takes_up_the_rest() -> TestResult {
        let data = tempfile::tempdir()?;
        let docs = tempfile::tempdir()?;
        for i in 0..12 {
            std::fs::write(
                docs.path().join(format!("{i:02}.txt")),
                format!("note {i}: lisinopril {i} mg"),
            )?;
        }
        let library = Library::open(data.path())?;
        let settings = IngestSettings {
            workers: 1,
            ..IngestSettings::default()
        };
        let stop = AtomicBool::new(false);
        let mut writer = library.writer(TokenCounter::from_file(&chunk_tokenizer())?, settings)?;
        let report = writer.ingest_until("c", &[docs.path().to_owned()], &stop, &mut |e| {
            if matches!(e, IngestEvent::File { .. }) {
                stop.store(true, Ordering::Relaxed);
            }
        })?;
        drop(writer);
        library.reload()?;
        // The batch under way is finished and committed; no other is started.
        assert_eq!(report.indexed, FILES_PER_WORKER);
        assert_eq!(library.status(Some("c"))?.len(), FILES_PER_WORKER);
        assert_eq!(hits(&library, "lisinopril")?, FILES_PER_WORKER);

        let report = ingest(&library, docs.path())?;
        assert_eq!(
            (report.indexed, report.unchanged),
            (12 - FILES_PER_WORKER, FILES_PER_WORKER)
        );
        assert_eq!(library.status(Some("c"))?.len(), 12);
        Ok(())
    }
}

#[cfg(test)]
mod crash_tests {
    use super::*;
    use crate::test_support::chunk_tokenizer;
    use crate::{SearchRequest, TokenCounter};

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn twins_both_pending_after_a_crash_index_their_content_once() -> TestResult {
        let data = tempfile::tempdir()?;
        let docs = tempfile::tempdir()?;
        for name in ["a.txt", "b.txt"] {
            std::fs::write(docs.path().join(name), "quinapril 10 mg daily")?;
        }
        let library = Library::open(data.path())?;
        let counter = || TokenCounter::from_file(&chunk_tokenizer());
        library
            .writer(counter()?, IngestSettings::default())?
            .ingest("c", &[docs.path().to_owned()], &mut |_| {})?;
        // As after a crash between the journal write and the index commit.
        library.journal()?.recover(0)?;
        let statuses: Vec<FileStatus> = library
            .status(None)?
            .into_iter()
            .map(|r| r.status)
            .collect();
        assert_eq!(statuses, [FileStatus::Pending, FileStatus::Pending]);
        let report = library
            .writer(counter()?, IngestSettings::default())?
            .ingest("c", &[docs.path().to_owned()], &mut |_| {})?;
        assert_eq!((report.indexed, report.duplicates), (1, 1), "{report:?}");
        library.reload()?;
        let hits = library.search(&SearchRequest {
            query: "quinapril".into(),
            limit: 10,
            ..Default::default()
        })?;
        assert_eq!(hits.hits.len(), 1);
        Ok(())
    }
}
