//! Conversations as the assistant keeps them: the store in the data
//! directory, and answers turned into stored turns with their evidence.

use serde_json::json;
use sillok_index::Library;

use crate::answer::{Answer, AnswerStatus};
use crate::conversations::{
    Citation, ConversationId, ConversationStore, ModelRef, NewTurn, StoredFlag, TurnStatus,
};
use crate::{Result, Sillok};

/// Earlier turns a follow-up question is read with.
pub const HISTORY_TURNS: usize = 4;

/// The conversation database's file name in `<data>/db/`.
pub const CONVERSATIONS_FILE: &str = "conversations.sqlite";

impl Sillok {
    /// Opens the conversation store (created on first use; never re-created
    /// over a damaged file).
    ///
    /// # Errors
    ///
    /// Locked, corrupt or foreign database files.
    pub fn conversations(&self) -> Result<ConversationStore> {
        let keys = self.store_keys()?;
        Ok(ConversationStore::open_keyed(
            &self.conversations_path(),
            Some(&keys.conversations),
            crate::conversations::DEFAULT_BUSY_TIMEOUT,
        )?)
    }

    /// Stores `answer` as the next turn of `conversation` (a new conversation
    /// when `None`); returns the conversation.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub fn save_turn(
        &self,
        store: &mut ConversationStore,
        conversation: Option<ConversationId>,
        profile: Option<&str>,
        collections: &[String],
        answer: &Answer,
    ) -> Result<ConversationId> {
        let id = match conversation {
            Some(id) => id,
            None => store.create("", profile, collections)?,
        };
        let library_state = self
            .library()
            .ok()
            .map(|l: Library| l.commit_seq().unwrap_or(0));
        store.add_turn(id, &to_turn(answer, library_state))?;
        Ok(id)
    }
}

fn to_turn(answer: &Answer, library_seq: Option<u64>) -> NewTurn {
    let status = match answer.status {
        AnswerStatus::Answered => TurnStatus::Answered,
        AnswerStatus::NotFound => TurnStatus::NotFound,
        AnswerStatus::EvidenceOnly => TurnStatus::EvidenceOnly,
        AnswerStatus::Cancelled => TurnStatus::Cancelled,
    };
    let citations = answer
        .sources
        .iter()
        .map(|s| Citation {
            number: u32::try_from(s.number).unwrap_or(u32::MAX),
            doc_key: s.doc_key.clone(),
            path: s.path.clone(),
            title: s.title.clone(),
            page: s.page,
            span: s.span.clone(),
            snippet: s.text.chars().take(400).collect(),
            chunk_index: s.chunk_index,
            source_deleted: false,
        })
        .collect();
    let mut flags: Vec<StoredFlag> = answer
        .flags
        .iter()
        .map(|f| StoredFlag {
            sentence: None,
            kind: "answer".into(),
            detail: serde_json::to_value(f).unwrap_or_default(),
        })
        .collect();
    for (i, sentence) in answer.sentences.iter().enumerate() {
        for problem in &sentence.problems {
            flags.push(StoredFlag {
                sentence: u32::try_from(i).ok(),
                kind: "sentence".into(),
                detail: serde_json::to_value(problem).unwrap_or_default(),
            });
        }
    }
    // Without a model's text, the evidence quotes are the answer.
    let text = if answer.text.is_empty() {
        answer
            .quotes
            .iter()
            .map(|q| format!("“{}” [{}]", q.text, q.source))
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        answer.text.clone()
    };
    NewTurn {
        question: answer.question.clone(),
        answer: text,
        status,
        model: answer.model.as_ref().map(|m| ModelRef {
            name: m.name.clone(),
            sha256: m.sha256.clone(),
        }),
        citations,
        flags,
        receipt: json!({
            "queries": answer.receipts.queries,
            "collections": answer.receipts.collections,
            "chunks_searched": answer.receipts.chunks_searched,
            "documents_matched": answer.receipts.documents_matched,
            "best_coverage": answer.receipts.best_coverage,
            "threshold": answer.receipts.threshold,
            "near_misses": answer.receipts.near_misses,
            "library_commit": library_seq,
            "cited": answer.cited,
            "notices": answer.notices,
        }),
        timings: serde_json::to_value(answer.timings).unwrap_or_default(),
        tokens: json!({ "prompt": answer.prompt_tokens, "generated": answer.generated_tokens }),
    }
}
