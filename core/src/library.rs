//! The document library as the assistant uses it: where it lives in the data
//! directory, which chunking tokenizer it uses, and ingestion with the
//! one-writer rule.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use sillok_index::{
    EvalReport, FileStatus, ForegroundGuard, IngestEvent, IngestReport, IngestSettings, Library,
    Limits, SearchRequest, SearchResults, TokenCounter, WatchEvent,
};

use crate::{Error, Result, Sillok, audit};

/// Environment variable naming the chunking tokenizer file (development, tests).
pub const CHUNK_TOKENIZER_ENV: &str = "SILLOK_CHUNK_TOKENIZER";
/// A collection with its files counted by state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectionSummary {
    /// Name.
    pub name: String,
    /// Folders and files it covers.
    pub roots: Vec<String>,
    /// Files known (removed ones excluded).
    pub files: usize,
    /// Searchable files.
    pub indexed: usize,
    /// Files that could not be indexed.
    pub failed: usize,
    /// Files without a text layer.
    pub needs_ocr: usize,
    /// Files not yet in a committed index.
    pub pending: usize,
    /// Same content as another file of the collection.
    pub duplicates: usize,
    /// Chunks searchable.
    pub chunks: u64,
    /// Whether scanned pages of its files are read by OCR.
    pub ocr: bool,
}

/// One page of a library document, as the index saw it: search and citation
/// spans are character offsets into `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageView {
    /// File path.
    pub path: String,
    /// Collection.
    pub collection: String,
    /// The document's title (its file name when it has none).
    pub title: String,
    /// Detected type (`pdf`, `docx`, …).
    pub doc_type: String,
    /// The page shown (1-based).
    pub page: u32,
    /// Pages in the document.
    pub pages: u32,
    /// The page text, exactly as indexed.
    pub text: String,
}

/// The chunking tokenizer's file name in the data directory's `models/`.
pub const CHUNK_TOKENIZER_FILE: &str = "chunk-tokenizer.json";

impl Sillok {
    /// Where the library's index and journal live.
    pub fn library_dir(&self) -> PathBuf {
        self.data_dir().indexes().join("library")
    }

    /// Opens the library for reading (any number of processes may), its
    /// index and databases encrypted under the vault's key (see
    /// `stores.rs`: the vault is made or unlocked, and a library from
    /// before the vault encrypted, first).
    ///
    /// # Errors
    ///
    /// The vault's errors (locked, no keychain); index errors;
    /// [`sillok_index::Error::Tampered`] and
    /// [`sillok_index::Error::DatabaseDamaged`] for damaged files.
    pub fn library(&self) -> Result<Library> {
        self.open_library()
    }

    /// The fixed tokenizer chunk sizes are counted in: `SILLOK_CHUNK_TOKENIZER`,
    /// else `<data>/models/chunk-tokenizer.json`, else the system install's copy.
    pub(crate) fn chunk_tokenizer_path(&self) -> Result<PathBuf> {
        let in_data_dir = self.data_dir().models().join(CHUNK_TOKENIZER_FILE);
        let candidates = [
            std::env::var_os(CHUNK_TOKENIZER_ENV).map(PathBuf::from),
            Some(in_data_dir.clone()),
            Some(PathBuf::from("/usr/share/sillok").join(CHUNK_TOKENIZER_FILE)),
        ];
        candidates
            .into_iter()
            .flatten()
            .find(|p| p.is_file())
            .ok_or(Error::NoChunkTokenizer {
                expected: in_data_dir,
            })
    }

    /// Marks interactive work (a search, an answer) in progress until the
    /// guard drops: ingestion in this process waits for it between files.
    pub fn foreground(&self) -> ForegroundGuard {
        self.foreground.enter()
    }

    pub(crate) fn ingest_settings(&self) -> IngestSettings {
        IngestSettings {
            foreground: self.foreground.clone(),
            ..IngestSettings::default()
        }
    }

    /// Ingests `roots` into `collection` (creating it), holding the writer
    /// lock; then reads scanned pages with OCR when it is on for the
    /// collection (see [`Sillok::set_collection_ocr`]), reporting each page.
    ///
    /// # Errors
    ///
    /// [`sillok_index::Error::InUse`] when another process writes, a missing
    /// tokenizer, index or journal failures. Single files never fail the run.
    pub fn ingest(
        &self,
        collection: &str,
        roots: &[PathBuf],
        progress: &mut dyn FnMut(&IngestEvent),
    ) -> Result<IngestReport> {
        self.ingest_until(collection, roots, &AtomicBool::new(false), progress)
    }

    /// [`Sillok::ingest`], stopping once `stop` is set: between batches of
    /// files (those done are committed) and between OCR pages. What was not
    /// reached is taken up by the next ingestion of the collection
    /// ([`Sillok::reindex_until`]).
    ///
    /// # Errors
    ///
    /// As [`Sillok::ingest`].
    pub fn ingest_until(
        &self,
        collection: &str,
        roots: &[PathBuf],
        stop: &AtomicBool,
        progress: &mut dyn FnMut(&IngestEvent),
    ) -> Result<IngestReport> {
        let result = (|| -> Result<_> {
            crate::policy::check_folders(roots)?;
            let library = self.library()?;
            let counter = TokenCounter::from_file(&self.chunk_tokenizer_path()?)?;
            let mut writer = library.writer(counter, self.ingest_settings())?;
            Ok(writer.ingest_until(collection, roots, stop, progress)?)
        })();
        let event = audit::events::ingest(collection, roots);
        self.audited(event, result, audit::events::describe_ingest)
    }

    /// Brings `collection` in step with its folders: new and changed files
    /// indexed, vanished ones removed, files and OCR pages an earlier run
    /// left undone taken up. A folder that is gone (an unplugged drive) is
    /// skipped, not emptied. Stops like [`Sillok::ingest_until`].
    ///
    /// # Errors
    ///
    /// [`sillok_index::Error::UnknownCollection`]; as [`Sillok::ingest`].
    pub fn reindex_until(
        &self,
        collection: &str,
        stop: &AtomicBool,
        progress: &mut dyn FnMut(&IngestEvent),
    ) -> Result<IngestReport> {
        let record = self
            .library()?
            .collections()?
            .into_iter()
            .find(|c| c.name == collection)
            .ok_or_else(|| sillok_index::Error::UnknownCollection(collection.to_owned()))?;
        let roots: Vec<PathBuf> = record
            .roots
            .iter()
            .map(PathBuf::from)
            .filter(|r| r.exists())
            .collect();
        self.ingest_until(collection, &roots, stop, progress)
    }

    /// Keeps `collections` (all when empty) in step with their folders until
    /// `stop` is set, holding the writer lock; changes are debounced for `quiet`.
    ///
    /// # Errors
    ///
    /// As [`Sillok::ingest`]; a folder the OS will not watch.
    pub fn watch(
        &self,
        collections: &[String],
        quiet: Duration,
        stop: &AtomicBool,
        on: &mut dyn FnMut(WatchEvent<'_>),
    ) -> Result<()> {
        self.record(audit::events::watch(collections))?;
        let library = self.library()?;
        let counter = TokenCounter::from_file(&self.chunk_tokenizer_path()?)?;
        let mut writer = library.writer(counter, self.ingest_settings())?;
        Ok(writer.watch(collections, quiet, stop, on)?)
    }

    /// Clears the search index (never reading it: it may be damaged) and
    /// indexes every collection's files again from their folders: the way
    /// back from [`sillok_index::Error::Tampered`] and
    /// [`sillok_index::Error::DatabaseDamaged`]. The journal is kept; a
    /// damaged database is set aside and started anew (see
    /// [`Library::rebuild_index`]).
    ///
    /// # Errors
    ///
    /// The vault's errors; as [`Sillok::ingest`].
    pub fn rebuild_index(&self, progress: &mut dyn FnMut(&IngestEvent)) -> Result<IngestReport> {
        let keys = self.store_keys()?;
        let pending = Library::rebuild_index(&self.library_dir(), Some(&keys.index))?;
        tracing::info!(pending, "search index cleared for a rebuild");
        let mut total = IngestReport::default();
        let stop = AtomicBool::new(false);
        for collection in self.library()?.collections()? {
            let report = self.reindex_until(&collection.name, &stop, progress)?;
            total.indexed += report.indexed;
        }
        Ok(total)
    }

    /// Removes a collection from the library.
    ///
    /// # Errors
    ///
    /// As [`Sillok::ingest`]; unknown collection.
    pub fn remove_collection(&self, name: &str) -> Result<usize> {
        let result = (|| -> Result<_> {
            let library = self.library()?;
            let counter = TokenCounter::from_file(&self.chunk_tokenizer_path()?)?;
            let mut writer = library.writer(counter, self.ingest_settings())?;
            Ok(writer.remove_collection(name)?)
        })();
        let event = audit::events::remove_collection(name);
        self.audited(event, result, |files, e| e.object("files", *files))
    }

    /// Turns OCR of `collection`'s scanned pages on or off (creating the
    /// collection if new): off, they stay awaiting OCR.
    ///
    /// # Errors
    ///
    /// As [`Sillok::ingest`]; an invalid collection name.
    pub fn set_collection_ocr(&self, collection: &str, on: bool) -> Result<()> {
        let result = (|| -> Result<_> {
            let library = self.library()?;
            let counter = TokenCounter::from_file(&self.chunk_tokenizer_path()?)?;
            let mut writer = library.writer(counter, self.ingest_settings())?;
            Ok(writer.set_collection_ocr(collection, on)?)
        })();
        let event = audit::events::collection_ocr(collection, on);
        self.audited(event, result, |(), e| e)
    }

    /// The collections with their files counted by state.
    ///
    /// # Errors
    ///
    /// Journal errors.
    pub fn collection_summaries(&self) -> Result<Vec<CollectionSummary>> {
        let library = self.library()?;
        let mut summaries = Vec::new();
        for record in library.collections()? {
            let mut summary = CollectionSummary {
                name: record.name.clone(),
                roots: record.roots.clone(),
                ocr: record.ocr,
                ..CollectionSummary::default()
            };
            for file in library.status(Some(&record.name))? {
                let counter = match file.status {
                    FileStatus::Removed => continue,
                    FileStatus::Indexed => &mut summary.indexed,
                    FileStatus::Failed { .. } => &mut summary.failed,
                    FileStatus::NeedsOcr => &mut summary.needs_ocr,
                    FileStatus::Pending => &mut summary.pending,
                    FileStatus::Duplicate { .. } => &mut summary.duplicates,
                };
                *counter += 1;
                summary.files += 1;
                summary.chunks += file.chunks;
            }
            summaries.push(summary);
        }
        Ok(summaries)
    }

    /// Page `page` of a library document, re-read from disk and parsed the
    /// way ingestion parsed it. Only files the library indexed are shown:
    /// the app cannot be made to read anything else.
    ///
    /// # Errors
    ///
    /// [`Error::NotInLibrary`], [`Error::NoSuchPage`],
    /// [`Error::DocumentUnreadable`] (moved, changed or now unparseable).
    pub fn page_view(&self, path: &str, page: u32) -> Result<PageView> {
        let result = self.read_page(path, page);
        self.audited(
            audit::events::view_source(path, page),
            result,
            audit::events::describe_view,
        )
        .map(|(view, _)| view)
    }

    fn read_page(&self, path: &str, page: u32) -> Result<(PageView, audit::events::PageFacts)> {
        let library = self.library()?;
        let record = library
            .file(path)?
            .filter(|r| r.status == FileStatus::Indexed)
            .ok_or_else(|| Error::NotInLibrary(path.to_owned()))?;
        let unreadable = |reason: String| Error::DocumentUnreadable {
            path: path.to_owned(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| unreadable(e.to_string()))?;
        let file_name = Path::new(path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // With the pages OCR read filled in, as they were indexed.
        let parsed = library
            .parse_as_indexed(&file_name, &bytes, &Limits::default())?
            .map_err(|e| unreadable(e.to_string()))?;
        let pages = parsed.pages.iter().map(|p| p.number).max().unwrap_or(0);
        let (text, patient_id) = parsed
            .pages
            .iter()
            .find(|p| p.number == page)
            .map(|p| (p.text(), p.meta.patient_id.clone()))
            .ok_or(Error::NoSuchPage { page, pages })?;
        let facts = audit::events::PageFacts {
            doc_key: (record.content_hash.as_ref()).map(|h| format!("{}:{h}", record.collection)),
            patient_id,
        };
        let view = PageView {
            path: path.to_owned(),
            collection: record.collection,
            title: parsed.title.unwrap_or(file_name),
            doc_type: parsed.kind.to_string(),
            page,
            pages,
            text,
        };
        Ok((view, facts))
    }

    /// Searches the library.
    ///
    /// # Errors
    ///
    /// Bad filters, index errors.
    pub fn search(&self, request: &SearchRequest) -> Result<SearchResults> {
        let _interactive = self.foreground();
        let result = (|| -> Result<_> {
            let request = self.with_dense_query(request)?;
            Ok(self.library()?.search(&request)?)
        })();
        let event = audit::events::search(request);
        self.audited(event, result, audit::events::describe_search)
    }

    /// Evaluates retrieval on a BEIR-layout set with a throwaway library
    /// (under `<data>/tmp/`, removed afterwards): BM25 alone, or with
    /// `hybrid` the corpus embedded by the active embedding model and every
    /// query fused with its nearest chunks (query embedding counted in the
    /// latency). The corpus's vectors are kept, a batch at a time, in the
    /// evaluation cache ([`crate::retrieval::EVAL_VECTORS_FILE`]) and taken
    /// from it by later runs: a run cancelled or killed while embedding goes
    /// on where it stopped, a repeated run embeds nothing.
    ///
    /// # Errors
    ///
    /// Unreadable set, missing tokenizer or embedding model, index failures;
    /// [`Error::Cancelled`] when `cancel` stops the embedding.
    pub fn eval_retrieval(
        &self,
        set_dir: &Path,
        max_queries: Option<usize>,
        hybrid: bool,
        cancel: &sillok_models::CancelToken,
        progress: &mut dyn FnMut(crate::retrieval::EmbedProgress),
    ) -> Result<EvalReport> {
        let counter = TokenCounter::from_file(&self.chunk_tokenizer_path()?)?;
        let entry = if hybrid {
            Some(
                self.active_embedding_model()?
                    .ok_or(Error::NoEmbeddingModel)?,
            )
        } else {
            None
        };
        self.in_scratch_dir("eval", |work| {
            let set = sillok_index::EvalSet::build(set_dir, work, counter)?;
            if let Some(entry) = &entry {
                let mut cache = self.eval_vector_cache_if_open();
                let embedded =
                    self.embed_chunks(set.library(), entry, cache.as_mut(), cancel, progress)?;
                if embedded.cancelled {
                    return Err(Error::Cancelled);
                }
            }
            // After a failure or a cancel the remaining queries are skipped.
            let mut failure = None;
            let report = set.score(max_queries, &mut |library, mut request| {
                if failure.is_none() && cancel.is_cancelled() {
                    failure = Some(Error::Cancelled);
                }
                if let (None, Some(entry)) = (&failure, &entry) {
                    match self.dense_query(entry, &request.query) {
                        Ok(dense) => request.dense = dense,
                        Err(e) => failure = Some(e),
                    }
                }
                if failure.is_some() {
                    return Ok(SearchResults {
                        hits: Vec::new(),
                        chunks_searched: 0,
                        elapsed: Duration::ZERO,
                        similarity_spread: None,
                    });
                }
                library.search(&request)
            })?;
            failure.map_or(Ok(report), Err)
        })
    }

    /// Runs `work` in a fresh folder `<data>/tmp/<name>-<pid>` (evaluations,
    /// benchmarks), removed afterwards whether `work` succeeds or not.
    ///
    /// # Errors
    ///
    /// `work`'s error, or [`Error::DataDir`] when the folder cannot be cleared.
    pub(crate) fn in_scratch_dir<T>(
        &self,
        name: &str,
        work: impl FnOnce(&Path) -> Result<T>,
    ) -> Result<T> {
        let dir = self
            .data_dir()
            .root()
            .join("tmp")
            .join(format!("{name}-{}", std::process::id()));
        let fail = |source| Error::DataDir {
            path: dir.clone(),
            source,
        };
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(fail(e)),
            _ => {}
        }
        let result = work(&dir);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(fail(e)),
            _ => result,
        }
    }
}

/// Tests: copies the fetched chunking tokenizer (`SILLOK_MODEL_FILES`, else
/// `~/.cache/sillok/model-files`) into `sillok`'s data directory.
#[cfg(test)]
pub(crate) fn install_test_tokenizer(sillok: &Sillok) -> std::io::Result<()> {
    let tokenizer = std::env::var_os("SILLOK_MODEL_FILES")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/sillok/model-files"))
        })
        .unwrap_or_default()
        .join(CHUNK_TOKENIZER_FILE);
    std::fs::copy(
        &tokenizer,
        sillok.data_dir().models().join(CHUNK_TOKENIZER_FILE),
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DataDir;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    /// A library of one Markdown note and one broken PDF, ingested for real.
    fn library(dir: &Path) -> std::result::Result<(Sillok, PathBuf), Box<dyn std::error::Error>> {
        let sillok = Sillok::open(DataDir::at(dir.join("data")))?;
        install_test_tokenizer(&sillok)?;
        let docs = dir.join("docs");
        std::fs::create_dir_all(&docs)?;
        let note = docs.join("note.md");
        std::fs::write(
            &note,
            "# 진료 기록\n\n김가상 환자에게 로사르탄 50 mg을 추가했다. 😀 혈압 목표는 130/80.\n",
        )?;
        std::fs::write(docs.join("broken.pdf"), b"%PDF-1.7\n1 0 obj <<")?;
        sillok.ingest("notes", &[docs], &mut |_| {})?;
        Ok((sillok, note))
    }

    #[test]
    fn a_page_view_is_the_text_that_spans_index() -> TestResult {
        let dir = tempfile::tempdir()?;
        let (sillok, note) = library(dir.path())?;
        let path = note.display().to_string();
        let hits = sillok.search(&SearchRequest {
            query: "로사르탄".into(),
            limit: 1,
            ..SearchRequest::default()
        })?;
        let hit = hits.hits.first().ok_or("no hit")?;
        let view = sillok.page_view(&path, hit.page)?;
        assert_eq!(
            (view.page, view.pages, view.collection.as_str()),
            (1, 1, "notes")
        );
        let cited: String = view
            .text
            .chars()
            .skip(hit.span.start)
            .take(hit.span.end - hit.span.start)
            .collect();
        assert_eq!(cited, hit.text);
        assert!(matches!(
            sillok.page_view(&path, 2),
            Err(Error::NoSuchPage { page: 2, pages: 1 })
        ));
        Ok(())
    }

    #[test]
    fn only_indexed_library_files_can_be_viewed() -> TestResult {
        let dir = tempfile::tempdir()?;
        let (sillok, note) = library(dir.path())?;
        let outside = dir.path().join("outside.md");
        std::fs::write(&outside, "# secret")?;
        let broken = note.with_file_name("broken.pdf");
        for path in [outside, broken, PathBuf::from("/etc/passwd")] {
            let err = sillok
                .page_view(&path.display().to_string(), 1)
                .expect_err("must fail");
            assert!(matches!(err, Error::NotInLibrary(_)), "{err}");
        }
        std::fs::remove_file(&note)?;
        let err = sillok
            .page_view(&note.display().to_string(), 1)
            .expect_err("must fail");
        assert!(matches!(err, Error::DocumentUnreadable { .. }), "{err}");
        Ok(())
    }

    #[test]
    fn summaries_count_files_by_state() -> TestResult {
        let dir = tempfile::tempdir()?;
        let (sillok, _) = library(dir.path())?;
        let summaries = sillok.collection_summaries()?;
        assert_eq!(summaries.len(), 1);
        let notes = &summaries[0];
        assert_eq!(
            (
                notes.name.as_str(),
                notes.files,
                notes.indexed,
                notes.failed
            ),
            ("notes", 2, 1, 1)
        );
        assert!(notes.chunks >= 1);
        Ok(())
    }
}
