//! `sillok ask`: a grounded answer, streamed, then its numbered sources and flags.

use std::io::Write;

use clap::Args;
use serde_json::json;
use sillok_core::Sillok;
use sillok_core::answer::{Answer, AnswerEvent, AnswerStatus, AskRequest};
use sillok_core::conversations::{ConversationId, ConversationStore};
use sillok_core::models::{CancelToken, Generator, LlamaGenerator};

use crate::{CmdResult, EngineArgs, Failure, cancel_on_ctrl_c};

/// How questions are answered: shared by `ask` and `chat`.
#[derive(Debug, Args)]
pub struct AnswerArgs {
    /// Collections to search (repeatable; default: the profile's, else all).
    #[arg(long, short)]
    collection: Vec<String>,
    /// Domain profile: clinical, bio-research, korean-medicine, or your own.
    #[arg(long, short)]
    profile: Option<String>,
    /// Most tokens of answer.
    #[arg(long, default_value_t = 256)]
    max_tokens: u32,
    /// Show the evidence only; do not load a model.
    #[arg(long)]
    no_model: bool,
    #[command(flatten)]
    engine: EngineArgs,
}

impl AnswerArgs {
    /// The model to answer with, or a notice why there is none.
    pub fn model(
        &self,
        sillok: &Sillok,
    ) -> Result<(Option<LlamaGenerator>, Option<String>), Failure> {
        answer_model(sillok, &self.engine, self.profile.as_deref(), self.no_model)
    }

    /// `question` with these settings.
    pub fn request(&self, question: String) -> AskRequest {
        let mut request = AskRequest::new(question);
        request.collections = self.collection.clone();
        request.profile = self.profile.clone();
        request.max_tokens = self.max_tokens;
        request
    }

    /// Saves `answer` as the next turn of `conversation` (a new one when `None`).
    pub fn save(
        &self,
        sillok: &Sillok,
        store: &mut ConversationStore,
        conversation: Option<ConversationId>,
        answer: &Answer,
    ) -> Result<ConversationId, Failure> {
        Ok(sillok.save_turn(
            store,
            conversation,
            self.profile.as_deref(),
            &self.collection,
            answer,
        )?)
    }
}

#[derive(Debug, Args)]
pub struct AskArgs {
    /// The question (Korean or English).
    question: String,
    #[command(flatten)]
    answer: AnswerArgs,
    /// Do not save the question and answer as a conversation.
    #[arg(long)]
    no_save: bool,
    /// Print one JSON object per event, the last one the whole answer.
    #[arg(long)]
    json: bool,
}

/// Loads the chat model for answers; a model that cannot be loaded leaves the
/// evidence to stand alone, with the reason as a notice.
pub fn answer_model(
    sillok: &Sillok,
    engine: &EngineArgs,
    profile: Option<&str>,
    no_model: bool,
) -> Result<(Option<LlamaGenerator>, Option<String>), Failure> {
    if no_model {
        return Ok((None, None));
    }
    let profile = sillok.profile(profile)?;
    let name = engine.model.as_deref().or(profile.model.as_deref());
    match sillok.load_generator(name, &engine.options()) {
        Ok(generator) => Ok((Some(generator), None)),
        Err(e) => Ok((
            None,
            Some(format!(
                "no answer from a model ({e}); showing the evidence only. Import a chat model with `sillok models import FILE.gguf`"
            )),
        )),
    }
}

pub fn run(sillok: &Sillok, args: &AskArgs) -> CmdResult {
    let (generator, notice) = args.answer.model(sillok)?;
    let request = args.answer.request(args.question.clone());
    let cancel = cancel_on_ctrl_c()?;
    let mut answer = ask_streaming(
        sillok,
        generator.as_ref().map(|g| g as &dyn Generator),
        &request,
        &cancel,
        args.json,
    )?;
    answer.notices.extend(notice);
    print_answer(&answer, args.json);
    if !args.no_save {
        let mut store = sillok.conversations()?;
        let id = args.answer.save(sillok, &mut store, None, &answer)?;
        if args.json {
            println!("{}", json!({ "event": "conversation", "id": id.0 }));
        } else {
            eprintln!("saved as conversation {id}");
        }
    }
    if answer.status == AnswerStatus::Cancelled {
        return Err(Failure::Cancelled);
    }
    Ok(())
}

/// Asks, streaming evidence and answer text to stdout.
pub fn ask_streaming(
    sillok: &Sillok,
    generator: Option<&dyn Generator>,
    request: &AskRequest,
    cancel: &CancelToken,
    as_json: bool,
) -> Result<Answer, Failure> {
    let mut stdout = std::io::stdout().lock();
    // A closed stdout (e.g. `| head`) must not abort the answer.
    let answer = sillok.ask(generator, request, cancel, &mut |event| {
        let _ = match event {
            AnswerEvent::Evidence { quotes, .. } if as_json => {
                writeln!(
                    stdout,
                    "{}",
                    json!({ "event": "evidence", "quotes": quotes })
                )
            }
            AnswerEvent::Evidence { quotes, .. } => {
                let mut r = Ok(());
                if !quotes.is_empty() {
                    r = writeln!(stdout, "Evidence:");
                    for q in quotes {
                        r = r.and(writeln!(stdout, "  “{}” [{}]", q.text, q.source));
                    }
                    r = r.and(writeln!(stdout));
                }
                r
            }
            AnswerEvent::Text(piece) if as_json => {
                writeln!(stdout, "{}", json!({ "event": "token", "text": piece }))
            }
            AnswerEvent::Text(piece) => write!(stdout, "{piece}").and_then(|()| stdout.flush()),
        };
    })?;
    Ok(answer)
}

/// Prints the end of an answer: the verified text's flags and the sources.
pub fn print_answer(answer: &Answer, as_json: bool) {
    if as_json {
        println!("{}", json!({ "event": "answer", "answer": answer }));
        return;
    }
    match answer.status {
        AnswerStatus::NotFound => {
            println!("Not found in your documents.");
            let r = &answer.receipts;
            println!(
                "Searched {} chunks{} with {:?}; best evidence covers {:.0}% of the question (needs {:.0}%).",
                r.chunks_searched,
                if r.collections.is_empty() {
                    String::new()
                } else {
                    format!(" in {}", r.collections.join(", "))
                },
                r.queries,
                r.best_coverage * 100.0,
                r.threshold * 100.0
            );
            for miss in &r.near_misses {
                println!(
                    "  near miss: {}:{} ({:.0}%)",
                    miss.path,
                    miss.page,
                    miss.coverage * 100.0
                );
            }
        }
        AnswerStatus::EvidenceOnly => println!("(evidence only: no model answered)"),
        AnswerStatus::Answered | AnswerStatus::Cancelled => println!(),
    }
    if !answer.sources.is_empty() && answer.status != AnswerStatus::NotFound {
        println!("\nSources:");
        for s in &answer.sources {
            let cited = if answer.cited.contains(&s.number) {
                ""
            } else {
                " (not cited)"
            };
            println!(
                "  [{}] {}:{} — {}{cited}",
                s.number, s.path, s.page, s.title
            );
        }
    }
    let unsupported: Vec<_> = answer
        .sentences
        .iter()
        .filter(|s| {
            matches!(
                s.support,
                sillok_core::answer::verify::Support::Unsupported
                    | sillok_core::answer::verify::Support::Uncited
            )
        })
        .collect();
    if !unsupported.is_empty() || !answer.flags.is_empty() {
        println!("\nFlags:");
        for s in unsupported {
            println!("  {:?}: {}", s.support, s.text);
        }
        for f in &answer.flags {
            println!("  {}", serde_json::to_string(f).unwrap_or_default());
        }
    }
    for notice in &answer.notices {
        eprintln!("note: {notice}");
    }
}
