//! The document library: collections (with their OCR switch), ingestion
//! with progress and its cancel, OCR results per file, background embedding
//! progress, search, and the page viewer behind every citation.

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;

use serde::Serialize;
use sillok_core::index::{
    DocumentOcr, FileRecord, FileStatus, IngestEvent as CoreEvent, IngestReport,
    LOW_OCR_CONFIDENCE, SearchRequest,
};
use tauri::State;
use tauri::ipc::Channel;

use super::blocking;
use crate::error::{AppError, CommandResult, ErrorKind};
use crate::state::{AppState, EmbeddingStatus};

/// Most search hits one request returns.
const MAX_HITS: usize = 100;

/// A collection with its files counted by state.
#[derive(Debug, Serialize)]
pub struct CollectionInfo {
    name: String,
    roots: Vec<String>,
    files: usize,
    indexed: usize,
    failed: usize,
    needs_ocr: usize,
    pending: usize,
    chunks: u64,
    /// Whether scanned pages are read by OCR.
    ocr: bool,
}

/// One file's state.
#[derive(Debug, Serialize)]
pub struct FileInfo {
    path: String,
    status: &'static str,
    reason: Option<String>,
    doc_type: Option<String>,
    chunks: u64,
    size_bytes: u64,
    ocr_pages: Vec<u32>,
    /// What OCR read of the file's content, when it read any of it.
    ocr: Option<FileOcr>,
}

/// What OCR read of one file (docs/app-ipc.md `FileOcr`).
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct FileOcr {
    /// Pages read with text.
    pages_read: Vec<u32>,
    /// Mean word confidence of those pages (0–100).
    mean_confidence: Option<u8>,
    /// Pages read below the low-confidence threshold.
    low_confidence_pages: Vec<u32>,
    /// Pages OCR gave up on, with why.
    failed: Vec<OcrFailure>,
    /// Why OCR could not start on the file (tools missing, unreadable).
    note: Option<String>,
}

/// A page OCR gave up on.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct OcrFailure {
    page: u32,
    reason: String,
}

impl FileOcr {
    /// `None` when OCR has nothing to say about the file.
    fn of(ocr: &DocumentOcr) -> Option<FileOcr> {
        let info = FileOcr {
            pages_read: ocr.read_pages(),
            mean_confidence: ocr.mean_confidence(),
            low_confidence_pages: ocr.low_confidence_pages(),
            failed: ocr
                .failed_pages()
                .into_iter()
                .map(|(page, reason)| OcrFailure {
                    page,
                    reason: reason.to_owned(),
                })
                .collect(),
            note: ocr.note.clone(),
        };
        let said = !info.pages_read.is_empty() || !info.failed.is_empty() || info.note.is_some();
        said.then_some(info)
    }
}

/// Ingestion progress (docs/app-ipc.md `IngestEvent`).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum IngestEvent {
    /// Files found under the folder.
    Discovered {
        /// How many.
        files: usize,
    },
    /// One file handled.
    File {
        /// Its path.
        path: String,
        /// What happened.
        status: &'static str,
        /// Why it failed, or which file holds its content.
        reason: Option<String>,
        /// Files handled so far.
        done: usize,
    },
    /// A batch is searchable.
    Committed {
        /// Commit sequence.
        seq: u64,
    },
    /// One scanned page was read by OCR (after the files were indexed).
    Ocr {
        /// The file.
        path: String,
        /// The page read (1-based).
        page: u32,
        /// Pages in the file.
        pages: u32,
        /// Mean word confidence (0–100); `None`: no text, or failed.
        confidence: Option<u8>,
        /// Whether `confidence` is below the low-confidence threshold.
        low_confidence: bool,
        /// Why the page could not be read.
        failure: Option<String>,
        /// Pages read so far in this run.
        done: usize,
        /// Pages this run has found to read so far (grows as files open).
        total: usize,
    },
}

/// Totals of one ingestion.
#[derive(Debug, Serialize)]
pub struct IngestTotals {
    indexed: usize,
    unchanged: usize,
    duplicates: usize,
    needs_ocr: usize,
    ocr_pages: usize,
    failed: usize,
    removed: usize,
    chunks: usize,
    ocr_read: usize,
    ocr_low_confidence: usize,
    ocr_failed: usize,
    /// Why scanned pages could not be read at all (OCR tools missing).
    ocr_unavailable: Option<String>,
    /// Stopped by `library_cancel`: the rest is done by the next re-index.
    cancelled: bool,
}

impl IngestTotals {
    fn new(r: IngestReport, cancelled: bool) -> Self {
        IngestTotals {
            indexed: r.indexed,
            unchanged: r.unchanged,
            duplicates: r.duplicates,
            needs_ocr: r.needs_ocr,
            ocr_pages: r.ocr_pages,
            failed: r.failed,
            removed: r.removed,
            chunks: r.chunks,
            ocr_read: r.ocr_read,
            ocr_low_confidence: r.ocr_low_confidence,
            ocr_failed: r.ocr_failed,
            ocr_unavailable: r.ocr_unavailable,
            cancelled,
        }
    }
}

/// One search hit.
#[derive(Debug, Serialize)]
pub struct SearchHit {
    path: String,
    collection: String,
    title: String,
    page: u32,
    /// Characters of the page text (serialised as `{start, end}`).
    span: Range<usize>,
    doc_type: String,
    snippet: String,
    score: f32,
    /// The page's OCR confidence when OCR read its text.
    ocr_confidence: Option<u8>,
    /// Read by OCR with low confidence: check the page.
    low_confidence: bool,
}

/// A page of a document.
#[derive(Debug, Serialize)]
pub struct PageView {
    path: String,
    collection: String,
    title: String,
    doc_type: String,
    page: u32,
    pages: u32,
    text: String,
}

fn reason(status: &FileStatus) -> Option<String> {
    match status {
        FileStatus::Failed { reason } => Some(reason.clone()),
        FileStatus::Duplicate { of } => Some(of.clone()),
        _ => None,
    }
}

fn file_info(record: FileRecord, ocr: &HashMap<String, DocumentOcr>) -> FileInfo {
    let read = record
        .content_hash
        .as_ref()
        .and_then(|hash| ocr.get(hash))
        .and_then(FileOcr::of);
    FileInfo {
        status: record.status.as_str(),
        reason: reason(&record.status),
        path: record.path,
        doc_type: record.doc_type,
        chunks: record.chunks,
        size_bytes: record.size,
        ocr_pages: record.ocr_pages,
        ocr: read,
    }
}

/// An ingestion event as the UI sees it.
fn ui_event(event: &CoreEvent) -> IngestEvent {
    match event {
        CoreEvent::Discovered { files } => IngestEvent::Discovered { files: *files },
        CoreEvent::File { path, status, done } => IngestEvent::File {
            path: path.clone(),
            status: status.as_str(),
            reason: reason(status),
            done: *done,
        },
        CoreEvent::Committed { seq } => IngestEvent::Committed { seq: *seq },
        CoreEvent::Ocr {
            path,
            page,
            pages,
            confidence,
            failure,
            done,
            total,
        } => IngestEvent::Ocr {
            path: path.clone(),
            page: *page,
            pages: *pages,
            confidence: *confidence,
            low_confidence: confidence.is_some_and(|c| c < LOW_OCR_CONFIDENCE),
            failure: failure.clone(),
            done: *done,
            total: *total,
        },
    }
}

/// The collections, counted.
#[tauri::command(rename_all = "snake_case")]
pub async fn library_overview(state: State<'_, AppState>) -> CommandResult<Vec<CollectionInfo>> {
    let state = state.inner().clone();
    blocking(move || {
        Ok(state
            .sillok()
            .collection_summaries()?
            .into_iter()
            .map(|s| CollectionInfo {
                name: s.name,
                roots: s.roots,
                files: s.files,
                indexed: s.indexed,
                failed: s.failed,
                needs_ocr: s.needs_ocr,
                pending: s.pending,
                chunks: s.chunks,
                ocr: s.ocr,
            })
            .collect())
    })
    .await
}

/// The files of a collection with their state.
#[tauri::command(rename_all = "snake_case")]
pub async fn library_files(
    state: State<'_, AppState>,
    collection: String,
) -> CommandResult<Vec<FileInfo>> {
    let state = state.inner().clone();
    blocking(move || {
        let library = state.sillok().library()?;
        let records = library.status(Some(&collection))?;
        let ocr = library.ocr_documents()?;
        Ok(records
            .into_iter()
            .filter(|r| r.status != FileStatus::Removed)
            .map(|r| file_info(r, &ocr))
            .collect())
    })
    .await
}

/// Runs one ingestion (`roots`, or the collection's own folders when
/// `None`), forwarding its progress, cancellable by `library_cancel`.
fn ingest(
    state: &AppState,
    collection: &str,
    roots: Option<&[PathBuf]>,
    on_event: &Channel<IngestEvent>,
) -> CommandResult<IngestTotals> {
    let slot = state.begin_ingest()?;
    let mut forward = |event: &CoreEvent| {
        // A closed window cannot take progress; ingestion goes on.
        let _ = on_event.send(ui_event(event));
    };
    let sillok = state.sillok();
    let report = match roots {
        Some(roots) => sillok.ingest_until(collection, roots, &slot.stop, &mut forward),
        None => sillok.reindex_until(collection, &slot.stop, &mut forward),
    };
    // What was committed before an error or a cancel wants vectors too.
    state.embed_in_background();
    Ok(IngestTotals::new(report?, slot.cancelled()))
}

/// Adds a folder to a collection (creating it) and indexes it.
#[tauri::command(rename_all = "snake_case")]
pub async fn library_add_folder(
    state: State<'_, AppState>,
    collection: String,
    path: String,
    on_event: Channel<IngestEvent>,
) -> CommandResult<IngestTotals> {
    let state = state.inner().clone();
    blocking(move || {
        let path = PathBuf::from(path.trim());
        if !path.is_absolute() || !path.exists() {
            return Err(AppError::new(
                ErrorKind::InvalidInput,
                "give the full path of an existing folder",
            ));
        }
        ingest(&state, collection.trim(), Some(&[path]), &on_event)
    })
    .await
}

/// Brings a collection in step with its folders; takes up the files and
/// OCR pages a cancelled or interrupted run left.
#[tauri::command(rename_all = "snake_case")]
pub async fn library_reindex(
    state: State<'_, AppState>,
    collection: String,
    on_event: Channel<IngestEvent>,
) -> CommandResult<IngestTotals> {
    let state = state.inner().clone();
    blocking(move || ingest(&state, &collection, None, &on_event)).await
}

/// Stops the ingestion in flight at its next batch of files or OCR page
/// (what is done stays; a re-index goes on from there). Nothing to stop is
/// not an error.
#[tauri::command(rename_all = "snake_case")]
pub async fn library_cancel(state: State<'_, AppState>) -> CommandResult<()> {
    state.cancel_ingest();
    Ok(())
}

/// Turns OCR of a collection's scanned pages on or off. Off, they stay
/// awaiting OCR; on, the next re-index reads them.
#[tauri::command(rename_all = "snake_case")]
pub async fn library_set_ocr(
    state: State<'_, AppState>,
    collection: String,
    on: bool,
) -> CommandResult<()> {
    let state = state.inner().clone();
    blocking(move || {
        let sillok = state.sillok();
        // The core would create a collection it does not know: refuse instead.
        let known = sillok
            .library()?
            .collections()?
            .iter()
            .any(|c| c.name == collection);
        if !known {
            return Err(sillok_core::index::Error::UnknownCollection(collection).into());
        }
        sillok.set_collection_ocr(&collection, on)?;
        Ok(())
    })
    .await
}

/// Background embedding of the library for search by meaning: the current
/// (or last) run's progress, for the UI to poll while it runs.
#[tauri::command(rename_all = "snake_case")]
pub async fn embedding_status(state: State<'_, AppState>) -> CommandResult<EmbeddingStatus> {
    Ok(state.embedding_status())
}

/// Removes a collection from the library (the files stay on disk).
#[tauri::command(rename_all = "snake_case")]
pub async fn library_remove(state: State<'_, AppState>, collection: String) -> CommandResult<()> {
    let state = state.inner().clone();
    blocking(move || {
        state.sillok().remove_collection(&collection)?;
        Ok(())
    })
    .await
}

/// Searches the library directly.
#[tauri::command(rename_all = "snake_case")]
pub async fn library_search(
    state: State<'_, AppState>,
    query: String,
    collections: Vec<String>,
    doc_type: Option<String>,
    limit: usize,
) -> CommandResult<Vec<SearchHit>> {
    let state = state.inner().clone();
    blocking(move || {
        let results = state.sillok().search(&SearchRequest {
            query,
            collections,
            doc_type,
            limit: limit.clamp(1, MAX_HITS),
            ..SearchRequest::default()
        })?;
        Ok(results
            .hits
            .into_iter()
            .map(|h| SearchHit {
                low_confidence: h.is_low_confidence(),
                ocr_confidence: h.ocr_confidence,
                path: h.path,
                collection: h.collection,
                title: h.title,
                page: h.page,
                span: h.span,
                doc_type: h.doc_type,
                snippet: h.snippet,
                score: h.score,
            })
            .collect())
    })
    .await
}

/// One page of a library document, for the sources viewer.
#[tauri::command(rename_all = "snake_case")]
pub async fn document_page(
    state: State<'_, AppState>,
    path: String,
    page: u32,
) -> CommandResult<PageView> {
    let state = state.inner().clone();
    blocking(move || {
        let view = state.sillok().page_view(&path, page)?;
        Ok(PageView {
            path: view.path,
            collection: view.collection,
            title: view.title,
            doc_type: view.doc_type,
            page: view.page,
            pages: view.pages,
            text: view.text,
        })
    })
    .await
}

/// Opens the system file manager at a library document's folder. Only files
/// the library holds: the UI cannot make the app open anything else.
#[tauri::command(rename_all = "snake_case")]
pub async fn reveal_file(state: State<'_, AppState>, path: String) -> CommandResult<()> {
    let state = state.inner().clone();
    blocking(move || {
        let known = state.sillok().library()?.file(&path)?.is_some();
        let folder = PathBuf::from(&path).parent().map(PathBuf::from);
        let Some(folder) = folder.filter(|_| known) else {
            return Err(sillok_core::Error::NotInLibrary(path).into());
        };
        std::process::Command::new("xdg-open")
            .arg(&folder)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| {
                AppError::new(
                    ErrorKind::Internal,
                    format!("cannot open the file manager: {e}"),
                )
            })?;
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_serialise_as_the_contract_says() {
        let hit = SearchHit {
            path: "/docs/a.pdf".into(),
            collection: "c".into(),
            title: "A".into(),
            page: 2,
            span: 3..9,
            doc_type: "pdf".into(),
            snippet: "s".into(),
            score: 1.5,
            ocr_confidence: Some(41),
            low_confidence: true,
        };
        let json = serde_json::to_value(&hit).expect("serialisable");
        assert_eq!(json["span"], serde_json::json!({"start": 3, "end": 9}));
        assert_eq!(json["page"], 2);
        assert_eq!(json["low_confidence"], true);
    }

    #[test]
    fn ocr_progress_reaches_the_ui_with_its_low_confidence_mark() -> Result<(), serde_json::Error> {
        let read = |confidence| CoreEvent::Ocr {
            path: "/scans/a.pdf".into(),
            page: 3,
            pages: 12,
            confidence,
            failure: None,
            done: 5,
            total: 40,
        };
        assert_eq!(
            serde_json::to_value(ui_event(&read(Some(LOW_OCR_CONFIDENCE - 1))))?,
            serde_json::json!({ "event": "ocr", "data": {
                "path": "/scans/a.pdf", "page": 3, "pages": 12, "confidence": LOW_OCR_CONFIDENCE - 1,
                "low_confidence": true, "failure": null, "done": 5, "total": 40 } })
        );
        let clear = serde_json::to_value(ui_event(&read(Some(LOW_OCR_CONFIDENCE))))?;
        assert_eq!(clear["data"]["low_confidence"], false);
        let blank = serde_json::to_value(ui_event(&read(None)))?;
        assert_eq!(blank["data"]["low_confidence"], false);
        Ok(())
    }

    #[test]
    fn files_show_what_ocr_read_and_only_then() -> Result<(), serde_json::Error> {
        use sillok_core::index::OcrPage;
        let page = |page, confidence, failure: Option<&str>| OcrPage {
            page,
            confidence,
            failure: failure.map(str::to_owned),
        };
        let scanned = DocumentOcr {
            page_count: Some(4),
            note: None,
            pages: vec![
                page(1, Some(92), None),
                page(2, Some(35), None),
                page(3, None, Some("the page took too long")),
                page(4, None, None),
            ],
        };
        let json = serde_json::to_value(FileOcr::of(&scanned))?;
        assert_eq!(
            json,
            serde_json::json!({
                "pages_read": [1, 2], "mean_confidence": 64, "low_confidence_pages": [2],
                "failed": [{ "page": 3, "reason": "the page took too long" }], "note": null })
        );
        assert_eq!(FileOcr::of(&DocumentOcr::default()), None);
        Ok(())
    }
}
