//! The document library as the assistant uses it: where it lives in the data
//! directory, which chunking tokenizer it uses, and ingestion with the
//! one-writer rule.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use sillok_index::{
    EvalReport, ForegroundGuard, IngestEvent, IngestReport, IngestSettings, Library, SearchRequest,
    SearchResults, TokenCounter, WatchEvent,
};

use crate::{Error, Result, Sillok};

/// Environment variable naming the chunking tokenizer file (development, tests).
pub const CHUNK_TOKENIZER_ENV: &str = "SILLOK_CHUNK_TOKENIZER";
/// The chunking tokenizer's file name in the data directory's `models/`.
pub const CHUNK_TOKENIZER_FILE: &str = "chunk-tokenizer.json";

impl Sillok {
    /// Where the library's index and journal live.
    pub fn library_dir(&self) -> PathBuf {
        self.data_dir().indexes().join("library")
    }

    /// Opens the library for reading (any number of processes may).
    ///
    /// # Errors
    ///
    /// Index errors.
    pub fn library(&self) -> Result<Library> {
        Ok(Library::open(&self.library_dir())?)
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

    /// Ingests `roots` into `collection` (creating it), holding the writer lock.
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
        let library = self.library()?;
        let counter = TokenCounter::from_file(&self.chunk_tokenizer_path()?)?;
        let mut writer = library.writer(counter, self.ingest_settings())?;
        Ok(writer.ingest(collection, roots, progress)?)
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
        let library = self.library()?;
        let counter = TokenCounter::from_file(&self.chunk_tokenizer_path()?)?;
        let mut writer = library.writer(counter, self.ingest_settings())?;
        Ok(writer.watch(collections, quiet, stop, on)?)
    }

    /// Removes a collection from the library.
    ///
    /// # Errors
    ///
    /// As [`Sillok::ingest`]; unknown collection.
    pub fn remove_collection(&self, name: &str) -> Result<usize> {
        let library = self.library()?;
        let counter = TokenCounter::from_file(&self.chunk_tokenizer_path()?)?;
        let mut writer = library.writer(counter, self.ingest_settings())?;
        Ok(writer.remove_collection(name)?)
    }

    /// Searches the library.
    ///
    /// # Errors
    ///
    /// Bad filters, index errors.
    pub fn search(&self, request: &SearchRequest) -> Result<SearchResults> {
        let _interactive = self.foreground();
        Ok(self.library()?.search(request)?)
    }

    /// Evaluates retrieval on a BEIR-layout set with a throwaway library
    /// (under `<data>/tmp/`, removed afterwards).
    ///
    /// # Errors
    ///
    /// Unreadable set, missing tokenizer, index failures.
    pub fn eval_retrieval(&self, set_dir: &Path, max_queries: Option<usize>) -> Result<EvalReport> {
        let counter = TokenCounter::from_file(&self.chunk_tokenizer_path()?)?;
        self.in_scratch_dir("eval", |work| {
            Ok(sillok_index::eval_retrieval(
                set_dir,
                work,
                counter,
                max_queries,
            )?)
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
