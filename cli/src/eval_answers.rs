//! `sillok eval answers DIR`.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use sillok_core::Sillok;
use sillok_core::answer::eval::{AnswerEvalConfig, Split, Withhold, eval_answers};
use sillok_core::models::Generator;

use crate::ask::answer_model;
use crate::{CmdResult, EngineArgs, Failure};

#[derive(Debug, Args)]
pub struct EvalAnswersArgs {
    /// The set's directory (corpus.jsonl, queries.jsonl, qrels/test.tsv).
    dir: PathBuf,
    /// Ask only the first N judged questions.
    #[arg(long)]
    limit: Option<usize>,
    /// Most tokens per answer.
    #[arg(long, default_value_t = 128)]
    max_tokens: u32,
    /// Domain profile.
    #[arg(long, short)]
    profile: Option<String>,
    /// Evaluate the evidence alone, without a model.
    #[arg(long)]
    no_model: bool,
    /// Ask only the even-numbered questions (dev: for tuning) or the
    /// odd-numbered ones (test: held out).
    #[arg(long, value_parser = ["dev", "test"])]
    split: Option<String>,
    /// Keywords alone: no vectors even when an embedding model is active.
    #[arg(long)]
    lexical: bool,
    /// What an unanswerable question's collection lacks: the whole files its
    /// gold passages come from, or only the gold passages themselves.
    #[arg(long, value_parser = ["files", "passages"], default_value = "files")]
    withhold: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    engine: EngineArgs,
}

pub fn run(sillok: &Sillok, args: &EvalAnswersArgs) -> CmdResult {
    let (generator, notice) =
        answer_model(sillok, &args.engine, args.profile.as_deref(), args.no_model)?;
    if let Some(notice) = notice {
        // An evaluation that silently ran without the model would mislead.
        return Err(Failure::User(anyhow::anyhow!(notice)));
    }
    let config = AnswerEvalConfig {
        limit: args.limit,
        max_tokens: args.max_tokens,
        profile: args.profile.clone(),
        split: match args.split.as_deref() {
            Some("dev") => Some(Split::Dev),
            Some("test") => Some(Split::Test),
            _ => None,
        },
        lexical_only: args.lexical,
        withhold: if args.withhold == "passages" {
            Withhold::Passages
        } else {
            Withhold::Files
        },
    };
    let r = eval_answers(
        sillok,
        &args.dir,
        generator.as_ref().map(|g| g as &dyn Generator),
        &config,
    )?;
    if args.json {
        println!("{}", json!({ "set": args.dir, "report": r }));
        return Ok(());
    }
    let pct = |x: f64| x * 100.0;
    println!(
        "{}: {} questions{}, model {}, vectors {}",
        args.dir.display(),
        r.questions,
        match r.split {
            Some(Split::Dev) => " (dev split)",
            Some(Split::Test) => " (test split)",
            None => "",
        },
        r.model.as_deref().unwrap_or("none (evidence only)"),
        r.embedding_model.as_deref().unwrap_or("none")
    );
    println!("answer rate (answerable)     {:5.1}%", pct(r.answer_rate));
    println!(
        "abstention (unanswerable)    {:5.1}% (withheld: {})",
        pct(r.abstention_rate),
        match r.withheld {
            Withhold::Files => "the gold passages' whole files",
            Withhold::Passages => "the gold passages",
        }
    );
    println!(
        "gold passage retrieved       {:5.1}%",
        pct(r.gold_retrieved)
    );
    println!(
        "gold passage cited           {:5.1}% (by the model's own text {:.1}%)",
        pct(r.gold_cited),
        pct(r.gold_cited_by_model)
    );
    println!(
        "citation validity            {:5.1}%",
        pct(r.citation_validity)
    );
    println!(
        "flagged sentences            {:5.1}% (invalid markers removed: {:.2} per answer)",
        pct(r.flagged_sentence_rate),
        r.invalid_markers_per_answer
    );
    println!(
        "mean time per answer         {:.2} s",
        r.mean_answer_seconds
    );
    Ok(())
}
