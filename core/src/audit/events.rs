//! What each of the core's operations records: one builder per operation,
//! so the operations themselves carry a line or two of audit code and every
//! front end records the same thing. Object ids only in the clear (chunk
//! ids, collections, counts); patient ids pseudonymised; queries, questions
//! and file paths as sealed fields.

use std::path::PathBuf;

use sillok_index::{Hit, IngestReport, SearchRequest, SearchResults};

use super::service::chunk_id;
use super::{Action, AuditEvent};
use crate::PageView;
use crate::answer::{AskRequest, Source};

pub(crate) fn search(request: &SearchRequest) -> AuditEvent {
    let mut event = AuditEvent::new(Action::Search)
        .object("collections", request.collections.clone())
        .object("limit", request.limit)
        .sensitive("query", request.query.as_str());
    if let Some(kind) = &request.doc_type {
        event = event.object("doc_type", kind.as_str());
    }
    if let Some(glob) = &request.path_glob {
        event = event.sensitive("path_glob", glob.as_str());
    }
    for (key, value) in [
        ("modified_after", request.modified_after),
        ("effective_after", request.effective_after),
        ("effective_before", request.effective_before),
    ] {
        if let Some(value) = value {
            event = event.object(key, value);
        }
    }
    match &request.patient {
        Some(patient) => event.object("patient_filter", true).patient(patient),
        None => event,
    }
}

pub(crate) fn describe_search(results: &SearchResults, event: AuditEvent) -> AuditEvent {
    event
        .object("hits", chunk_ids(&results.hits))
        .patients(patients(&results.hits))
}

pub(crate) fn ingest(collection: &str, roots: &[PathBuf]) -> AuditEvent {
    AuditEvent::new(Action::Ingest)
        .object("collection", collection)
        .sensitive(
            "roots",
            roots
                .iter()
                .map(|r| r.display().to_string())
                .collect::<Vec<_>>(),
        )
}

pub(crate) fn describe_ingest(report: &IngestReport, event: AuditEvent) -> AuditEvent {
    event
        .object("indexed", report.indexed)
        .object("unchanged", report.unchanged)
        .object("removed", report.removed)
        .object("failed", report.failed)
        .object("chunks", report.chunks)
}

pub(crate) fn watch(collections: &[String]) -> AuditEvent {
    AuditEvent::new(Action::Ingest)
        .object("mode", "watch")
        .object("collections", collections)
}

pub(crate) fn remove_collection(name: &str) -> AuditEvent {
    AuditEvent::new(Action::Delete).object("collection", name)
}

pub(crate) fn collection_ocr(collection: &str, on: bool) -> AuditEvent {
    AuditEvent::new(Action::Settings)
        .object("collection", collection)
        .object("changed", serde_json::json!({ "ocr": on }))
}

/// What a page view knows beyond the page: the document and the patient.
#[derive(Debug, Clone, Default)]
pub(crate) struct PageFacts {
    pub doc_key: Option<String>,
    pub patient_id: Option<String>,
}

pub(crate) fn view_source(path: &str, page: u32) -> AuditEvent {
    AuditEvent::new(Action::ViewSource)
        .object("page", page)
        .sensitive("path", path)
}

pub(crate) fn describe_view(
    (view, facts): &(PageView, PageFacts),
    event: AuditEvent,
) -> AuditEvent {
    let event = event
        .object("collection", view.collection.as_str())
        .object("doc_type", view.doc_type.as_str());
    let event = match &facts.doc_key {
        Some(key) => event.object("doc", key.as_str()),
        None => event,
    };
    match &facts.patient_id {
        Some(patient) => event.patient(patient),
        None => event,
    }
}

/// What an answer retrieved, gathered as it runs, and whether it has been
/// recorded yet (an answer is recorded once, before its evidence is shown).
#[derive(Debug, Default)]
pub(crate) struct AskTrail {
    retrieved: Vec<String>,
    patients: Vec<String>,
    pub recorded: bool,
}

impl AskTrail {
    pub(crate) fn hits(&mut self, hits: &[Hit]) {
        self.retrieved = chunk_ids(hits);
        self.patients = patients(hits).map(str::to_owned).collect();
    }
}

/// An answer: the chunks retrieved, the chunks shown (as sources, or as near
/// misses of a "not found"), how far it got.
pub(crate) fn ask(
    request: &AskRequest,
    trail: &AskTrail,
    shown: &[Source],
    stage: &str,
) -> AuditEvent {
    let event = AuditEvent::new(Action::Ask)
        .object("collections", request.collections.clone())
        .object("follow_up", !request.history.is_empty())
        .object("stage", stage)
        .object("retrieved", trail.retrieved.clone())
        .object(
            "shown",
            shown
                .iter()
                .map(|s| chunk_id(&s.doc_key, s.chunk_index))
                .collect::<Vec<_>>(),
        )
        .patients(trail.patients.iter().map(String::as_str))
        .sensitive("question", request.question.as_str());
    match &request.profile {
        Some(profile) => event.object("profile", profile.as_str()),
        None => event,
    }
}

fn chunk_ids(hits: &[Hit]) -> Vec<String> {
    hits.iter()
        .map(|h| chunk_id(&h.doc_key, h.chunk_index))
        .collect()
}

fn patients(hits: &[Hit]) -> impl Iterator<Item = &str> {
    hits.iter().filter_map(|h| h.patient_id.as_deref())
}
