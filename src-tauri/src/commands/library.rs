//! The document library: collections, ingestion with progress, search, and
//! the page viewer behind every citation.

use std::path::PathBuf;

use std::ops::Range;

use serde::Serialize;
use sillok_core::index::{
    FileRecord, FileStatus, IngestEvent as CoreEvent, IngestReport, SearchRequest,
};
use tauri::State;
use tauri::ipc::Channel;

use super::blocking;
use crate::error::{AppError, CommandResult, ErrorKind};
use crate::state::AppState;

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
}

impl From<IngestReport> for IngestTotals {
    fn from(r: IngestReport) -> Self {
        IngestTotals {
            indexed: r.indexed,
            unchanged: r.unchanged,
            duplicates: r.duplicates,
            needs_ocr: r.needs_ocr,
            ocr_pages: r.ocr_pages,
            failed: r.failed,
            removed: r.removed,
            chunks: r.chunks,
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

fn file_info(record: FileRecord) -> FileInfo {
    FileInfo {
        status: record.status.as_str(),
        reason: reason(&record.status),
        path: record.path,
        doc_type: record.doc_type,
        chunks: record.chunks,
        size_bytes: record.size,
        ocr_pages: record.ocr_pages,
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
        let records = state.sillok().library()?.status(Some(&collection))?;
        Ok(records
            .into_iter()
            .filter(|r| r.status != FileStatus::Removed)
            .map(file_info)
            .collect())
    })
    .await
}

fn ingest(
    state: &AppState,
    collection: &str,
    roots: &[PathBuf],
    on_event: &Channel<IngestEvent>,
) -> CommandResult<IngestTotals> {
    let mut forward = |event: &CoreEvent| {
        let event = match event {
            CoreEvent::Discovered { files } => IngestEvent::Discovered { files: *files },
            CoreEvent::File { path, status, done } => IngestEvent::File {
                path: path.clone(),
                status: status.as_str(),
                reason: reason(status),
                done: *done,
            },
            CoreEvent::Committed { seq } => IngestEvent::Committed { seq: *seq },
            // OCR progress is not shown in the window yet; the file statuses
            // and search hits carry its results.
            CoreEvent::Ocr { .. } => return,
        };
        // A closed window cannot take progress; ingestion goes on.
        let _ = on_event.send(event);
    };
    let totals = state
        .sillok()
        .ingest(collection, roots, &mut forward)?
        .into();
    state.embed_in_background();
    Ok(totals)
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
        ingest(&state, collection.trim(), &[path], &on_event)
    })
    .await
}

/// Brings a collection in step with its folders.
#[tauri::command(rename_all = "snake_case")]
pub async fn library_reindex(
    state: State<'_, AppState>,
    collection: String,
    on_event: Channel<IngestEvent>,
) -> CommandResult<IngestTotals> {
    let state = state.inner().clone();
    blocking(move || ingest(&state, &collection, &[], &on_event)).await
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
        };
        let json = serde_json::to_value(&hit).expect("serialisable");
        assert_eq!(json["span"], serde_json::json!({"start": 3, "end": 9}));
        assert_eq!(json["page"], 2);
    }
}
