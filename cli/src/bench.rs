//! `sillok bench …`

use clap::{Args, Subcommand};
use serde_json::json;
use sillok_core::Sillok;
use sillok_core::bench::{BenchConfig, bench_generate};

use crate::{CmdResult, EngineArgs};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Prompt processing and decode speed, time to first token, load time, peak RSS.
    Generate(BenchGenerateArgs),
}

#[derive(Debug, Args)]
pub struct BenchGenerateArgs {
    /// Prompt length in tokens.
    #[arg(long, default_value_t = 1500)]
    prompt_tokens: usize,
    /// Tokens generated per run.
    #[arg(long, default_value_t = 128)]
    max_tokens: u32,
    /// Timed runs (after one warm-up); medians are reported.
    #[arg(long, default_value_t = 3)]
    runs: u32,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    engine: EngineArgs,
}

pub fn run(sillok: &Sillok, cmd: BenchCommand) -> CmdResult {
    let BenchCommand::Generate(args) = cmd;
    let mut options = args.engine.options();
    // Room for the long prompt and the answer.
    options.n_ctx.get_or_insert(
        u32::try_from(args.prompt_tokens)
            .unwrap_or(u32::MAX)
            .saturating_add(args.max_tokens)
            .saturating_add(64),
    );
    let config = BenchConfig {
        prompt_tokens: args.prompt_tokens,
        max_tokens: args.max_tokens,
        runs: args.runs,
    };
    let r = bench_generate(sillok, args.engine.model.as_deref(), &options, &config)?;
    if args.json {
        println!(
            "{}",
            json!({
                "model": r.model, "threads": r.threads, "n_ctx": r.n_ctx,
                "load_ms": r.load.as_secs_f64() * 1000.0,
                "prompt_tokens": r.prompt_tokens,
                "prefill_tokens_per_s": r.prefill_tokens_per_s,
                "decode_tokens_per_s": r.decode_tokens_per_s,
                "first_token_ms": r.first_token.as_secs_f64() * 1000.0,
                "generated_tokens": r.generated_tokens,
                "peak_rss_bytes": r.peak_rss_bytes,
            })
        );
        return Ok(());
    }
    println!(
        "model            {} ({} threads, context {})",
        r.model, r.threads, r.n_ctx
    );
    println!("load + verify    {:.0} ms", r.load.as_secs_f64() * 1000.0);
    println!("prompt           {} tokens", r.prompt_tokens);
    println!("prefill          {:.1} tok/s", r.prefill_tokens_per_s);
    println!(
        "first token      {:.0} ms",
        r.first_token.as_secs_f64() * 1000.0
    );
    println!(
        "decode           {:.1} tok/s ({} tokens)",
        r.decode_tokens_per_s, r.generated_tokens
    );
    match r.peak_rss_bytes {
        Some(bytes) => println!("peak RSS         {} MiB", bytes >> 20),
        None => println!("peak RSS         not reported by this OS"),
    }
    Ok(())
}
