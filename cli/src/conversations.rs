//! `sillok chat` and `sillok conversations …`.

use std::io::BufRead;

use clap::{Args, Subcommand};
use serde_json::json;
use sillok_core::Sillok;
use sillok_core::answer::AnswerStatus;
use sillok_core::conversations::ConversationId;
use sillok_core::models::Generator;
use zeroize::Zeroizing;

use crate::ask::{AnswerArgs, ask_streaming, print_answer};
use crate::encrypt::{EncryptArgs, sealed, write_out};
use crate::{CmdResult, Failure, cancel_on_ctrl_c};

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// Continue this conversation (default: a new one).
    #[arg(long)]
    conversation: Option<i64>,
    #[command(flatten)]
    answer: AnswerArgs,
    /// JSON events instead of text.
    #[arg(long)]
    json: bool,
}

/// One question per line from standard input; follow-ups see earlier turns.
/// Every turn is saved. An empty line or end of input ends the chat.
pub fn chat(sillok: &Sillok, args: &ChatArgs) -> CmdResult {
    let (generator, notice) = args.answer.model(sillok)?;
    if let Some(notice) = &notice {
        eprintln!("note: {notice}");
    }
    let mut store = sillok.conversations()?;
    let mut conversation = args.conversation.map(ConversationId);
    let cancel = cancel_on_ctrl_c()?;
    if !args.json {
        eprintln!("Ask a question (an empty line ends the chat).");
    }
    for line in std::io::stdin().lock().lines() {
        let question = line.map_err(|e| Failure::Internal(e.into()))?;
        if question.trim().is_empty() {
            break;
        }
        let mut request = args.answer.request(question);
        if let Some(id) = conversation {
            request.history = store
                .history(id, sillok_core::HISTORY_TURNS)
                .map_err(sillok_core::Error::from)?;
        }
        let answer = match ask_streaming(
            sillok,
            generator.as_ref().map(|g| g as &dyn Generator),
            &request,
            &cancel,
            args.json,
        ) {
            Ok(answer) => answer,
            // A bad question ends that turn, not the chat.
            Err(Failure::User(e)) => {
                eprintln!("error: {e:#}");
                continue;
            }
            // A model that fails mid-conversation: this turn shows the evidence alone.
            Err(Failure::Internal(e)) if generator.is_some() => {
                eprintln!("note: the model failed ({e:#}); showing the evidence only");
                let mut answer = ask_streaming(sillok, None, &request, &cancel, args.json)?;
                answer.notices.push(format!("the model failed: {e:#}"));
                answer
            }
            Err(other) => return Err(other),
        };
        print_answer(&answer, args.json);
        let id = args
            .answer
            .save(sillok, &mut store, conversation, &answer)?;
        conversation = Some(id);
        if answer.status == AnswerStatus::Cancelled {
            return Err(Failure::Cancelled);
        }
    }
    if let Some(id) = conversation {
        if args.json {
            println!("{}", json!({ "event": "conversation", "id": id.0 }));
        } else {
            eprintln!("saved as conversation {id}");
        }
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum ConversationsCommand {
    /// List conversations, most recent first.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a conversation's turns.
    Show {
        /// Conversation id.
        id: i64,
    },
    /// Export a conversation to Markdown with its sources and provenance.
    Export {
        /// Conversation id.
        id: i64,
        /// Why it leaves Sillok (required; recorded in the audit trail).
        #[arg(long)]
        reason: String,
        /// Mask PHI (registration numbers, phones, e-mails, MRNs, patient names).
        #[arg(long)]
        deidentify: bool,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
        #[command(flatten)]
        encrypt: EncryptArgs,
    },
    /// Rename a conversation.
    Rename {
        /// Conversation id.
        id: i64,
        /// New title.
        title: String,
    },
    /// Delete a conversation.
    Delete {
        /// Conversation id.
        id: i64,
    },
}

pub fn conversations(sillok: &Sillok, cmd: ConversationsCommand) -> CmdResult {
    let core = |e| Failure::from(sillok_core::Error::from(e));
    let mut store = sillok.conversations()?;
    match cmd {
        ConversationsCommand::List { json: as_json } => {
            let list = store.list().map_err(core)?;
            if as_json {
                let items: Vec<_> = list
                    .iter()
                    .map(|c| json!({ "id": c.id.0, "title": c.title, "turns": c.turns, "created_at": c.created_at, "updated_at": c.updated_at }))
                    .collect();
                println!("{}", serde_json::Value::Array(items));
            } else {
                for c in list {
                    println!("{:>5}  {:>3} turns  {}", c.id.0, c.turns, c.title);
                }
            }
        }
        ConversationsCommand::Show { id } => {
            let conversation = sillok
                .conversation(&store, ConversationId(id))?
                .ok_or_else(|| Failure::User(anyhow::anyhow!("no conversation {id}")))?;
            println!("# {}", conversation.summary.title);
            for turn in &conversation.turns {
                println!("\nQ{}: {}", turn.ordinal, turn.content.question);
                println!("[{}] {}", turn.content.status.as_str(), turn.content.answer);
                for c in &turn.content.citations {
                    let deleted = if c.source_deleted {
                        " (source deleted)"
                    } else {
                        ""
                    };
                    println!("  [{}] {}:{}{deleted}", c.number, c.path, c.page);
                }
            }
        }
        ConversationsCommand::Export {
            id,
            reason,
            deidentify,
            output,
            encrypt,
        } => {
            let passphrase = encrypt.passphrase()?;
            let markdown = Zeroizing::new(sillok.export_conversation(
                ConversationId(id),
                &reason,
                deidentify,
            )?);
            let bytes = sealed(markdown.as_bytes(), passphrase.as_ref())?;
            write_out(output.as_deref(), &bytes)?;
        }
        ConversationsCommand::Rename { id, title } => {
            store.rename(ConversationId(id), &title).map_err(core)?;
        }
        ConversationsCommand::Delete { id } => {
            sillok.delete_conversation(ConversationId(id))?;
        }
    }
    Ok(())
}
