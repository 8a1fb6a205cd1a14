//! Asking: the grounded answer streamed over a channel, and its cancel.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use sillok_core::answer::verify::Flag;
use sillok_core::answer::{Answer, AnswerEvent, AskRequest, Attribution, Quote, Receipts, Source};
use sillok_core::conversations::ConversationId;
use tauri::State;
use tauri::ipc::Channel;

use super::blocking;
use crate::error::{AppError, CommandResult};
use crate::state::AppState;

/// What an answer in progress streams (docs/app-ipc.md `AskEvent`).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum AskEvent {
    /// The numbered sources and verbatim quotes, before the model starts.
    Evidence {
        /// Sources.
        sources: Vec<Source>,
        /// Quotes.
        quotes: Vec<Quote>,
    },
    /// Answer text as the model writes it (raw; replaced on `done`).
    Token {
        /// The text.
        text: String,
        /// When it left the core, milliseconds since the Unix epoch (the UI
        /// measures its own delay against it).
        sent_at_ms: f64,
    },
    /// A citation Sillok added to a sentence the model left uncited.
    Citation(Attribution),
    /// A problem the verifier found.
    Flag(Flag),
    /// What was searched.
    Receipts(Receipts),
    /// The verified answer, stored in the conversation.
    Done {
        /// The answer.
        answer: Box<Answer>,
        /// The conversation it was stored in.
        conversation_id: i64,
    },
    /// The answer failed.
    Error(AppError),
}

/// Which conversation an answer was stored in.
#[derive(Debug, Serialize)]
pub struct AskOutcome {
    conversation_id: i64,
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Answers a question from the library, streaming as it goes, and stores the
/// turn. One answer at a time; `ask_cancel` stops it.
#[tauri::command(rename_all = "snake_case")]
pub async fn ask(
    state: State<'_, AppState>,
    question: String,
    conversation_id: Option<i64>,
    collections: Vec<String>,
    on_event: Channel<AskEvent>,
) -> CommandResult<AskOutcome> {
    let state = state.inner().clone();
    blocking(move || {
        let result = answer(&state, question, conversation_id, collections, &on_event);
        if let Err(error) = &result {
            let _ = on_event.send(AskEvent::Error(error.clone()));
        }
        result
    })
    .await
}

fn answer(
    state: &AppState,
    question: String,
    conversation_id: Option<i64>,
    collections: Vec<String>,
    on_event: &Channel<AskEvent>,
) -> CommandResult<AskOutcome> {
    let slot = state.begin_answer()?;
    let sillok = state.sillok();
    let settings = sillok.settings()?;
    let mut store = sillok.conversations()?;
    let conversation = conversation_id.map(ConversationId);
    let mut request = AskRequest::new(question);
    request.collections = collections;
    request.profile = settings.profile.clone();
    if let Some(id) = conversation {
        request.history = store.history(id, sillok_core::HISTORY_TURNS)?;
    }
    let generator = state.generator();
    // A closed window cannot take events; the answer is still stored.
    let mut forward = |event: AnswerEvent<'_>| {
        let event = match event {
            AnswerEvent::Evidence { sources, quotes } => AskEvent::Evidence {
                sources: sources.to_vec(),
                quotes: quotes.to_vec(),
            },
            AnswerEvent::Text(text) => AskEvent::Token {
                text: text.to_owned(),
                sent_at_ms: now_ms(),
            },
        };
        let _ = on_event.send(event);
    };
    let answer = sillok.ask(generator.as_deref(), &request, &slot.cancel, &mut forward)?;
    for attribution in &answer.attributions {
        let _ = on_event.send(AskEvent::Citation(attribution.clone()));
    }
    for flag in &answer.flags {
        let _ = on_event.send(AskEvent::Flag(flag.clone()));
    }
    let _ = on_event.send(AskEvent::Receipts(answer.receipts.clone()));
    let id = sillok.save_turn(
        &mut store,
        conversation,
        settings.profile.as_deref(),
        &request.collections,
        &answer,
    )?;
    let _ = on_event.send(AskEvent::Done {
        answer: Box::new(answer),
        conversation_id: id.0,
    });
    Ok(AskOutcome {
        conversation_id: id.0,
    })
}

/// Stops the answer in flight (its partial text is kept, marked cancelled).
#[tauri::command(rename_all = "snake_case")]
pub async fn ask_cancel(state: State<'_, AppState>) -> CommandResult<()> {
    state.cancel_answer();
    Ok(())
}
