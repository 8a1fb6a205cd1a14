//! OCR of scanned pages: PDFs without a text layer, scanned pages inside
//! PDFs with text, and images (PNG, JPEG, TIFF).
//!
//! Parsers stay pure: they only mark pages that need OCR
//! ([`crate::parse::ParsedPage::needs_ocr`]). Ingestion indexes the text
//! pages at once; then, when OCR is on for the collection
//! ([`crate::CollectionRecord::ocr`]) and in [`OcrSettings`], the writer reads
//! the waiting pages one at a time, in bounded outside processes (`tools`:
//! poppler renders a PDF page, tesseract reads it; file, page image and
//! text pass through pipes, never the disk), waiting between pages
//! while interactive work runs. Each page's text and mean word confidence go
//! to a cache keyed by content hash and page (`store`) as soon as it is read,
//! so a run killed mid-document goes on from the next page; the document is
//! re-indexed with its read pages every [`REINDEX_EVERY`] and at its end,
//! each chunk of a read page carrying the page's confidence
//! ([`crate::PageMeta::ocr_confidence`]). Pages below
//! [`LOW_OCR_CONFIDENCE`] are marked in search hits and in the status.
//!
//! Owns: the OCR settings, the cache, the OCR pass and what the status shows
//! of it. Not here: the page markers (parsers), indexing (`library`).

mod output;
pub(crate) mod store;
mod tools;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsString;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::chunk::{Chunk, chunk_document};
use crate::journal::{FileRecord, FileStatus};
use crate::library::{IngestEvent, IngestReport, Library, LibraryWriter, Staged};
use crate::parse::{
    BlockSink, DETECT_HEAD_BYTES, DocKind, Limits, ParseFailure, ParsedDocument, ParsedPage,
    detect, parse_bytes, push_paragraphs,
};
use crate::prepare::{normalize, sha256_hex};
use crate::{Error, Result, validate_collection_name};

use store::{OcrStore, PageResult};
use tools::{RunFailure, Tools, render_dpi};

/// Pages whose mean word confidence is below this (0–100) are marked as
/// low-confidence: their text may be wrong, check it against the page.
pub const LOW_OCR_CONFIDENCE: u8 = 60;

/// How often a document being read is re-indexed with the pages read so
/// far, so a long scan becomes searchable as it goes.
pub const REINDEX_EVERY: Duration = Duration::from_secs(30);

/// The status of a scan OCR read completely without finding any text.
pub(crate) const NO_TEXT_RECOGNISED: &str = "ocr found no text on any page of this scan";

/// How OCR runs in this process. Collections have their own switch
/// ([`crate::CollectionRecord::ocr`]); both must be on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcrSettings {
    /// Whether ingestion reads scanned pages at all.
    pub enabled: bool,
    /// Tesseract languages, `+`-separated (default `kor+eng`).
    pub languages: String,
    /// Resolution PDF pages are rendered at (default 300 dpi), lowered for
    /// pages that would exceed [`Limits::max_image_pixels`].
    pub dpi: u32,
    /// Wall-clock time for rendering one page, and for reading it (default
    /// 120 s each); the process is killed after it.
    pub page_timeout: Duration,
    /// Address space each OCR process may use (default 2 GiB).
    pub max_memory_bytes: u64,
    /// Where the tools are looked for (`PATH` syntax); `None`: `$PATH`.
    pub tool_path: Option<OsString>,
}

impl Default for OcrSettings {
    fn default() -> Self {
        OcrSettings {
            enabled: true,
            languages: "kor+eng".to_owned(),
            dpi: 300,
            page_timeout: Duration::from_secs(120),
            max_memory_bytes: 2 << 30,
            tool_path: None,
        }
    }
}

/// One page OCR has read (or given up on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcrPage {
    /// 1-based page number.
    pub page: u32,
    /// Mean word confidence (0–100); `None` when the page held no text or
    /// could not be read.
    pub confidence: Option<u8>,
    /// Why the page could not be read (it is not tried again until the
    /// file changes).
    pub failure: Option<String>,
}

impl OcrPage {
    /// Whether the page's text is below [`LOW_OCR_CONFIDENCE`].
    pub fn is_low_confidence(&self) -> bool {
        self.confidence.is_some_and(|c| c < LOW_OCR_CONFIDENCE)
    }
}

/// What OCR knows of one document's content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocumentOcr {
    /// Pages in the document, once OCR has opened it.
    pub page_count: Option<u32>,
    /// Why OCR could not start on it (tools missing, file unreadable).
    pub note: Option<String>,
    /// The pages read so far, in order.
    pub pages: Vec<OcrPage>,
}

impl DocumentOcr {
    /// Pages read with text.
    pub fn read_pages(&self) -> Vec<u32> {
        self.pages
            .iter()
            .filter(|p| p.confidence.is_some())
            .map(|p| p.page)
            .collect()
    }

    /// Pages read with low confidence ([`OcrPage::is_low_confidence`]).
    pub fn low_confidence_pages(&self) -> Vec<u32> {
        self.pages
            .iter()
            .filter(|p| p.is_low_confidence())
            .map(|p| p.page)
            .collect()
    }

    /// Pages read that held no text (blank, or a picture without words).
    pub fn blank_pages(&self) -> Vec<u32> {
        self.pages
            .iter()
            .filter(|p| p.confidence.is_none() && p.failure.is_none())
            .map(|p| p.page)
            .collect()
    }

    /// Pages that could not be read, with why.
    pub fn failed_pages(&self) -> Vec<(u32, &str)> {
        self.pages
            .iter()
            .filter_map(|p| p.failure.as_deref().map(|f| (p.page, f)))
            .collect()
    }

    /// Mean of the read pages' confidences.
    pub fn mean_confidence(&self) -> Option<u8> {
        let read: Vec<u32> = self
            .pages
            .iter()
            .filter_map(|p| p.confidence.map(u32::from))
            .collect();
        let n = u32::try_from(read.len()).ok().filter(|&n| n > 0)?;
        u8::try_from(read.iter().sum::<u32>().div_ceil(n).min(100)).ok()
    }
}

impl Library {
    /// What OCR knows, by content hash (`FileRecord::content_hash`).
    ///
    /// # Errors
    ///
    /// Cache database errors.
    pub fn ocr_documents(&self) -> Result<HashMap<String, DocumentOcr>> {
        let store = OcrStore::open(self.dir(), self.db_key())?;
        Ok(store
            .all()?
            .into_iter()
            .map(|(hash, doc)| {
                let pages = doc
                    .pages
                    .into_iter()
                    .map(|p| OcrPage {
                        page: p.page,
                        confidence: p.confidence,
                        failure: p.failure,
                    })
                    .collect();
                (
                    hash,
                    DocumentOcr {
                        page_count: doc.page_count,
                        note: doc.note,
                        pages,
                    },
                )
            })
            .collect())
    }

    /// Parses a file's bytes the way ingestion indexed them: text NFC
    /// normalised and pages OCR has read filled in, so that the spans of
    /// search hits index the page text returned here.
    ///
    /// # Errors
    ///
    /// Cache database errors; the inner result is the file's own status.
    pub fn parse_as_indexed(
        &self,
        file_name: &str,
        bytes: &[u8],
        limits: &Limits,
    ) -> Result<std::result::Result<ParsedDocument, ParseFailure>> {
        let parsed = parse_bytes(file_name, bytes, limits);
        let mut parsed = if awaits_ocr(&parsed) {
            let store = OcrStore::open(self.dir(), self.db_key())?;
            let hash = sha256_hex(bytes);
            merge(parsed, &store.results(&hash)?, store.page_count(&hash)?)
        } else {
            parsed
        };
        if let Ok(doc) = &mut parsed {
            normalize(doc);
        }
        Ok(parsed)
    }
}

/// Whether a parse result has pages OCR could fill in.
fn awaits_ocr(parsed: &std::result::Result<ParsedDocument, ParseFailure>) -> bool {
    match parsed {
        Ok(doc) => doc.pages.iter().any(ParsedPage::needs_ocr),
        Err(failure) => *failure == ParseFailure::NeedsOcr,
    }
}

/// `parsed` with the cached results of its content merged in: a page
/// awaiting OCR that was read gets its text, as paragraphs, and its
/// confidence; one read as blank is left out, like blank pages; pages not
/// read yet, or that failed, stay awaiting OCR. A PDF with no text layer at
/// all becomes its pages once OCR knows how many it has.
fn merge(
    parsed: std::result::Result<ParsedDocument, ParseFailure>,
    results: &BTreeMap<u32, PageResult>,
    page_count: Option<u32>,
) -> std::result::Result<ParsedDocument, ParseFailure> {
    let mut doc = match parsed {
        Ok(doc) => doc,
        Err(ParseFailure::NeedsOcr) if page_count.is_some() || !results.is_empty() => {
            let numbers: Vec<u32> = match page_count {
                Some(n) => (1..=n).collect(),
                None => results.keys().copied().collect(),
            };
            ParsedDocument {
                kind: DocKind::Pdf,
                title: None,
                pages: numbers
                    .into_iter()
                    .map(|n| ParsedPage::new(n, Vec::new()))
                    .collect(),
            }
        }
        Err(failure) => return Err(failure),
    };
    doc.pages.retain_mut(|page| {
        let Some(result) = results.get(&page.number).filter(|_| page.needs_ocr()) else {
            return true;
        };
        if result.failure.is_some() {
            return true;
        }
        let mut sink = BlockSink::default();
        push_paragraphs(&mut sink, &result.text);
        page.blocks = sink.into_blocks();
        page.meta.ocr_confidence = result.confidence;
        !page.blocks.is_empty()
    });
    Ok(doc)
}

/// What one OCR pass did.
#[derive(Debug, Default)]
struct OcrTotals {
    /// Pages found to read.
    total: usize,
    /// Pages read or given up on.
    done: usize,
    /// Pages read with text below [`LOW_OCR_CONFIDENCE`].
    low_confidence: usize,
    /// Pages given up on.
    failed: usize,
    /// Why OCR could not run at all.
    unavailable: Option<String>,
    /// Chunks and bytes of text the documents read now hold.
    chunks: usize,
    text_bytes: usize,
}

/// Where versions before OCR used pipes copied files and rendered pages;
/// a run killed mid-pass left it behind, in plaintext.
const OLD_SCRATCH: &str = "ocr-work";

/// Removes what an older version's killed run left in [`OLD_SCRATCH`].
fn remove_old_scratch(library_dir: &Path) -> Result<()> {
    let dir = library_dir.join(OLD_SCRATCH);
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(&dir, e)),
        _ => Ok(()),
    }
}

/// A file's name (the title of a document without one).
fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::other("the file grew past the size limit"));
    }
    Ok(bytes)
}

impl LibraryWriter<'_> {
    /// Turns OCR of `collection`'s scanned pages on or off, creating the
    /// collection (without folders) if it is new. Off, its scanned pages
    /// stay awaiting OCR; pages already read stay indexed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCollectionName`]; journal errors.
    pub fn set_collection_ocr(&mut self, collection: &str, on: bool) -> Result<()> {
        validate_collection_name(collection)?;
        self.journal.set_collection_ocr(collection, on)
    }

    /// `parsed` with what OCR has already read of this content filled in
    /// (see [`merge`]), and chunked again; unchanged when nothing is cached.
    pub(crate) fn with_cached_ocr(
        &self,
        hash: &str,
        path: &str,
        parsed: std::result::Result<(ParsedDocument, Vec<Chunk>), ParseFailure>,
    ) -> Result<std::result::Result<(ParsedDocument, Vec<Chunk>), ParseFailure>> {
        let needs = match &parsed {
            Ok((doc, _)) => doc.pages.iter().any(ParsedPage::needs_ocr),
            Err(failure) => *failure == ParseFailure::NeedsOcr,
        };
        if !needs {
            return Ok(parsed);
        }
        let store = OcrStore::open(self.library.dir(), self.library.db_key())?;
        let results = store.results(hash)?;
        let page_count = store.page_count(hash)?;
        if results.is_empty() && page_count.is_none() {
            return Ok(parsed);
        }
        Ok(merge(parsed.map(|(doc, _)| doc), &results, page_count)
            .map(|doc| self.finish(doc, path)))
    }

    /// Normalises, titles and chunks a document.
    fn finish(&self, mut doc: ParsedDocument, path: &str) -> (ParsedDocument, Vec<Chunk>) {
        normalize(&mut doc);
        if doc.title.is_none() {
            doc.title = Some(file_name(path));
        }
        let chunks = chunk_document(&doc, &self.counter, &self.settings.chunking);
        (doc, chunks)
    }

    /// The OCR pass at the end of an ingestion run, and the run's report
    /// brought to its end state: `needs_ocr` and `ocr_pages` count what of
    /// this run's `scanned` files (path, whether it had no text at all)
    /// still awaits OCR; files OCR indexed count as indexed.
    pub(crate) fn ocr_after_ingest(
        &mut self,
        collection: &str,
        scanned: &[(String, bool)],
        stop: &AtomicBool,
        report: &mut IngestReport,
        progress: &mut dyn FnMut(&IngestEvent),
    ) -> Result<()> {
        let totals = self.ocr_pass(collection, stop, progress)?;
        report.ocr_read += totals.done - totals.failed;
        report.ocr_low_confidence += totals.low_confidence;
        report.ocr_failed += totals.failed;
        report.ocr_unavailable = totals.unavailable;
        report.chunks += totals.chunks;
        report.text_bytes += totals.text_bytes;
        report.needs_ocr = 0;
        report.ocr_pages = 0;
        for (path, had_no_text) in scanned {
            let Some(record) = self.journal.file(path)? else {
                continue;
            };
            report.ocr_pages += record.ocr_pages.len();
            match record.status {
                FileStatus::NeedsOcr => report.needs_ocr += 1,
                FileStatus::Indexed if *had_no_text => report.indexed += 1,
                FileStatus::Duplicate { .. } if *had_no_text => report.duplicates += 1,
                FileStatus::Failed { .. } if *had_no_text => report.failed += 1,
                _ => {}
            }
        }
        Ok(())
    }

    /// Reads the pages of `collection` that await OCR, when OCR is on for it
    /// and in the settings, until done or `stop` is set.
    fn ocr_pass(
        &mut self,
        collection: &str,
        stop: &AtomicBool,
        progress: &mut dyn FnMut(&IngestEvent),
    ) -> Result<OcrTotals> {
        let mut totals = OcrTotals::default();
        remove_old_scratch(self.library.dir())?;
        if !self.settings.ocr.enabled
            || !self.journal.collection(collection)?.is_some_and(|c| c.ocr)
        {
            return Ok(totals);
        }
        // Each content once, with every file of the collection that holds it.
        let mut waiting: BTreeMap<String, Vec<FileRecord>> = BTreeMap::new();
        for record in self.journal.files(Some(collection))? {
            let awaits = match record.status {
                FileStatus::NeedsOcr => true,
                FileStatus::Indexed => !record.ocr_pages.is_empty(),
                _ => false,
            };
            if let (true, Some(hash)) = (awaits, record.content_hash.clone()) {
                waiting.entry(hash).or_default().push(record);
            }
        }
        if waiting.is_empty() {
            return Ok(totals);
        }
        let mut store = OcrStore::open(self.library.dir(), self.library.db_key())?;
        let tools = match Tools::find(&self.settings.ocr) {
            Ok(tools) => tools,
            Err(message) => {
                tracing::warn!(
                    documents = waiting.len(),
                    "scanned pages cannot be read: the OCR tools are missing"
                );
                for hash in waiting.keys() {
                    store.set_note(hash, Some(&message))?;
                }
                totals.unavailable = Some(message);
                return Ok(totals);
            }
        };
        for (hash, records) in &waiting {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            self.settings.foreground.wait_until_idle();
            self.ocr_document(hash, records, &store, &tools, stop, &mut totals, progress)?;
        }
        let live: HashSet<String> = self
            .journal
            .files(None)?
            .into_iter()
            .filter_map(|r| r.content_hash)
            .collect();
        store.retain(&live)?;
        if totals.done > 0 {
            tracing::info!(
                pages = totals.done,
                failed = totals.failed,
                low_confidence = totals.low_confidence,
                "ocr pass done"
            );
        }
        Ok(totals)
    }

    /// Reads the waiting pages of one content (`records` hold it; the
    /// indexed one, else the first, is read) and re-indexes it.
    #[allow(clippy::too_many_arguments)]
    fn ocr_document(
        &mut self,
        hash: &str,
        records: &[FileRecord],
        store: &OcrStore,
        tools: &Tools,
        stop: &AtomicBool,
        totals: &mut OcrTotals,
        progress: &mut dyn FnMut(&IngestEvent),
    ) -> Result<()> {
        let Some(primary) = records
            .iter()
            .find(|r| r.status == FileStatus::Indexed)
            .or_else(|| records.first())
        else {
            return Ok(());
        };
        let limits = self.settings.limits.clone();
        let settings = self.settings.ocr.clone();
        let bytes = match read_bounded(Path::new(&primary.path), limits.max_file_bytes) {
            Ok(bytes) => bytes,
            Err(e) => {
                store.set_note(hash, Some(&format!("cannot read the file for OCR: {e}")))?;
                return Ok(());
            }
        };
        if sha256_hex(&bytes) != hash {
            // Changed since it was indexed: the next ingestion reads it anew.
            return Ok(());
        }
        let name = file_name(&primary.path);
        let kind = detect(&name, &bytes[..bytes.len().min(DETECT_HEAD_BYTES)]);
        let mut sizes = BTreeMap::new();
        // The pages to read, and how many the document has.
        let (pages, page_count): (Vec<u32>, u32) = match kind {
            Some(DocKind::Pdf) => {
                let info = match tools.pdf_info(&bytes, limits.max_pages, &settings, stop) {
                    Ok(info) => info,
                    Err(RunFailure::Stopped) => return Ok(()),
                    Err(e) => {
                        let note = e.describe("reading the pdf's page list", &settings);
                        store.set_note(hash, Some(&note))?;
                        return Ok(());
                    }
                };
                let count = info.pages.min(limits.max_pages);
                store.set_page_count(hash, count)?;
                sizes = info.sizes;
                if primary.status == FileStatus::NeedsOcr {
                    ((1..=count).collect(), count)
                } else {
                    (primary.ocr_pages.clone(), count)
                }
            }
            Some(DocKind::Image) => {
                let count = primary.ocr_pages.iter().copied().max().unwrap_or(0);
                (primary.ocr_pages.clone(), count)
            }
            _ => return Ok(()),
        };
        let known = store.results(hash)?;
        let todo: Vec<u32> = pages
            .iter()
            .copied()
            .filter(|p| !known.contains_key(p))
            .collect();
        totals.total += todo.len();
        let done_before = totals.done;
        let record_page = |page: u32,
                           result: &PageResult,
                           totals: &mut OcrTotals,
                           progress: &mut dyn FnMut(&IngestEvent)| {
            store.put(hash, page, result)?;
            totals.done += 1;
            if result.failure.is_some() {
                totals.failed += 1;
            } else if result.confidence.is_some_and(|c| c < LOW_OCR_CONFIDENCE) {
                totals.low_confidence += 1;
            }
            progress(&IngestEvent::Ocr {
                path: primary.path.clone(),
                page,
                pages: page_count,
                confidence: result.confidence,
                failure: result.failure.clone(),
                done: totals.done,
                total: totals.total,
            });
            Ok::<(), Error>(())
        };
        let mut stopped = false;
        let mut last_reindex = Instant::now();
        if kind == Some(DocKind::Image) {
            if !todo.is_empty() {
                // One run reads every page of a multi-page TIFF.
                let count = u32::try_from(pages.len()).unwrap_or(u32::MAX);
                match tools.recognise(&bytes, None, count, &settings, stop) {
                    Ok(read) => {
                        for &page in &todo {
                            let result = match read.iter().find(|r| r.page == page) {
                                Some(r) => PageResult {
                                    text: r.text.clone(),
                                    confidence: r.confidence,
                                    failure: None,
                                },
                                None => failed_page("the ocr engine skipped this page"),
                            };
                            record_page(page, &result, totals, progress)?;
                        }
                    }
                    Err(RunFailure::Stopped) => stopped = true,
                    Err(e) => {
                        let result = failed_page(&e.describe("reading the image", &settings));
                        for &page in &todo {
                            record_page(page, &result, totals, progress)?;
                        }
                    }
                }
            }
        } else {
            for (i, &page) in todo.iter().enumerate() {
                if stop.load(Ordering::Relaxed) {
                    stopped = true;
                    break;
                }
                self.settings.foreground.wait_until_idle();
                let dpi = render_dpi(
                    settings.dpi,
                    sizes.get(&page).copied(),
                    limits.max_image_pixels,
                );
                let result =
                    match tools.render(&bytes, page, dpi, limits.max_image_pixels, &settings, stop)
                    {
                        Err(RunFailure::Stopped) => None,
                        Err(e) => Some(failed_page(&e.describe("rendering the page", &settings))),
                        Ok(png) => match tools.recognise(&png, Some(dpi), 1, &settings, stop) {
                            Err(RunFailure::Stopped) => None,
                            Err(e) => Some(failed_page(&e.describe("reading the page", &settings))),
                            Ok(read) => Some(match read.into_iter().next() {
                                Some(r) => PageResult {
                                    text: r.text,
                                    confidence: r.confidence,
                                    failure: None,
                                },
                                None => failed_page("the ocr engine gave no result"),
                            }),
                        },
                    };
                let Some(result) = result else {
                    stopped = true;
                    break;
                };
                record_page(page, &result, totals, progress)?;
                if last_reindex.elapsed() >= REINDEX_EVERY && i + 1 < todo.len() {
                    last_reindex = Instant::now();
                    // The final re-index below counts the chunks.
                    self.reindex(hash, records, primary, &bytes, &name, true, progress)?;
                }
            }
        }
        if !stopped {
            store.set_note(hash, None)?;
        }
        // Also with nothing new read: a run killed after reading its last
        // page but before indexing it left the journal behind the cache.
        let read_now = totals.done > done_before;
        if let Some((chunks, text_bytes)) =
            self.reindex(hash, records, primary, &bytes, &name, read_now, progress)?
        {
            totals.chunks += chunks;
            totals.text_bytes += text_bytes;
        }
        Ok(())
    }

    /// Indexes a document again with the pages OCR has read, and commits:
    /// the file that held no text becomes indexed (its copies with the same
    /// content duplicates of it), or fails when OCR found no text at all.
    /// Unless pages were `read_now`, nothing is done when the journal
    /// already records that state. Returns the chunks and bytes of text
    /// indexed, if any.
    #[allow(clippy::too_many_arguments)]
    fn reindex(
        &mut self,
        hash: &str,
        records: &[FileRecord],
        primary: &FileRecord,
        bytes: &[u8],
        name: &str,
        read_now: bool,
        progress: &mut dyn FnMut(&IngestEvent),
    ) -> Result<Option<(usize, usize)>> {
        let store = OcrStore::open(self.library.dir(), self.library.db_key())?;
        let parsed = parse_bytes(name, bytes, &self.settings.limits);
        let Ok(doc) = merge(parsed, &store.results(hash)?, store.page_count(hash)?) else {
            // It no longer parses as it did: the next ingestion says why.
            return Ok(None);
        };
        let (doc, chunks) = self.finish(doc, &primary.path);
        let mut record = primary.clone();
        record.doc_type = Some(doc.kind.as_str().to_owned());
        record.ocr_pages = doc.pages_needing_ocr();
        let has_text = doc.char_count() > 0;
        record.chunks = if has_text { chunks.len() as u64 } else { 0 };
        record.status = if has_text {
            FileStatus::Indexed
        } else if record.ocr_pages.is_empty() {
            FileStatus::Failed {
                reason: NO_TEXT_RECOGNISED.to_owned(),
            }
        } else {
            FileStatus::NeedsOcr
        };
        if !read_now
            && self.journal.file(&primary.path)?.is_some_and(|current| {
                (&current.status, &current.ocr_pages, current.chunks)
                    == (&record.status, &record.ocr_pages, record.chunks)
            })
        {
            return Ok(None);
        }
        let mut staged = Vec::new();
        let mut indexed = None;
        if has_text {
            let text_bytes = self.add_chunks(
                &primary.collection,
                hash,
                &primary.path,
                primary.mtime,
                &doc,
                &chunks,
            )?;
            indexed = Some((chunks.len(), text_bytes));
            for twin in records.iter().filter(|r| r.path != primary.path) {
                staged.push(Staged {
                    record: FileRecord {
                        status: FileStatus::Duplicate {
                            of: primary.path.clone(),
                        },
                        chunks: 0,
                        ocr_pages: Vec::new(),
                        ..twin.clone()
                    },
                    delete_key: None,
                });
            }
        }
        staged.push(Staged {
            record,
            delete_key: None,
        });
        let seq = self.commit(&mut staged)?;
        progress(&IngestEvent::Committed { seq });
        Ok(indexed)
    }
}

fn failed_page(why: &str) -> PageResult {
    PageResult {
        text: String::new(),
        confidence: None,
        failure: Some(why.to_owned()),
    }
}

#[cfg(test)]
mod tests;
