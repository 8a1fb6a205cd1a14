//! Stored conversations: list, open, rename, delete, export.

use std::ops::Range;

use serde::Serialize;
use sillok_core::conversations::{ConversationError, ConversationId, ConversationSummary, Turn};
use tauri::State;

use super::blocking;
use crate::error::CommandResult;
use crate::state::AppState;

/// A conversation as listed.
#[derive(Debug, Serialize)]
pub struct SummaryView {
    id: i64,
    title: String,
    created_at: i64,
    updated_at: i64,
    turns: u32,
}

impl From<ConversationSummary> for SummaryView {
    fn from(s: ConversationSummary) -> Self {
        SummaryView {
            id: s.id.0,
            title: s.title,
            created_at: s.created_at,
            updated_at: s.updated_at,
            turns: s.turns,
        }
    }
}

/// A stored citation.
#[derive(Debug, Serialize)]
pub struct CitationView {
    number: u32,
    path: String,
    title: String,
    page: u32,
    /// Characters of the page text (serialised as `{start, end}`).
    span: Range<usize>,
    snippet: String,
    /// The cited document has since been removed from the library.
    source_deleted: bool,
}

/// A stored flag.
#[derive(Debug, Serialize)]
pub struct FlagView {
    sentence: Option<u32>,
    kind: String,
}

/// A stored turn.
#[derive(Debug, Serialize)]
pub struct TurnView {
    ordinal: u32,
    question: String,
    answer: String,
    status: &'static str,
    citations: Vec<CitationView>,
    flags: Vec<FlagView>,
    created_at: i64,
}

impl From<Turn> for TurnView {
    fn from(turn: Turn) -> Self {
        let content = turn.content;
        TurnView {
            ordinal: turn.ordinal,
            question: content.question,
            answer: content.answer,
            status: content.status.as_str(),
            citations: content
                .citations
                .into_iter()
                .map(|c| CitationView {
                    number: c.number,
                    path: c.path,
                    title: c.title,
                    page: c.page,
                    span: c.span,
                    snippet: c.snippet,
                    source_deleted: c.source_deleted,
                })
                .collect(),
            flags: content
                .flags
                .into_iter()
                .map(|f| FlagView {
                    sentence: f.sentence,
                    kind: f.kind,
                })
                .collect(),
            created_at: turn.created_at,
        }
    }
}

/// A conversation with its turns.
#[derive(Debug, Serialize)]
pub struct ConversationView {
    summary: SummaryView,
    profile: Option<String>,
    collections: Vec<String>,
    turns: Vec<TurnView>,
}

/// The conversations, newest first.
#[tauri::command(rename_all = "snake_case")]
pub async fn conversations_list(state: State<'_, AppState>) -> CommandResult<Vec<SummaryView>> {
    let state = state.inner().clone();
    blocking(move || {
        let store = state.sillok().conversations()?;
        let list = store.list()?;
        Ok(list.into_iter().map(SummaryView::from).collect())
    })
    .await
}

/// One conversation with its turns.
#[tauri::command(rename_all = "snake_case")]
pub async fn conversation_get(
    state: State<'_, AppState>,
    id: i64,
) -> CommandResult<ConversationView> {
    let state = state.inner().clone();
    blocking(move || {
        let store = state.sillok().conversations()?;
        let conversation = state
            .sillok()
            .conversation(&store, ConversationId(id))?
            .ok_or(ConversationError::NotFound(ConversationId(id)))?;
        Ok(ConversationView {
            summary: conversation.summary.into(),
            profile: conversation.profile,
            collections: conversation.collections,
            turns: conversation.turns.into_iter().map(TurnView::from).collect(),
        })
    })
    .await
}

/// Renames a conversation.
#[tauri::command(rename_all = "snake_case")]
pub async fn conversation_rename(
    state: State<'_, AppState>,
    id: i64,
    title: String,
) -> CommandResult<()> {
    let state = state.inner().clone();
    blocking(move || {
        let mut store = state.sillok().conversations()?;
        store.rename(ConversationId(id), &title)?;
        Ok(())
    })
    .await
}

/// Deletes a conversation.
#[tauri::command(rename_all = "snake_case")]
pub async fn conversation_delete(state: State<'_, AppState>, id: i64) -> CommandResult<()> {
    let state = state.inner().clone();
    blocking(move || Ok(state.sillok().delete_conversation(ConversationId(id))?)).await
}

/// A conversation as a Markdown evidence record. The user's `reason` is
/// required (the core refuses an empty one) and goes to the audit trail;
/// `deidentify` masks PHI in the text.
#[tauri::command(rename_all = "snake_case")]
pub async fn conversation_export(
    state: State<'_, AppState>,
    id: i64,
    reason: String,
    deidentify: bool,
) -> CommandResult<String> {
    let state = state.inner().clone();
    blocking(move || {
        Ok(state
            .sillok()
            .export_conversation(ConversationId(id), &reason, deidentify)?)
    })
    .await
}
