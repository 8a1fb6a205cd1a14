//! `sillok generate` and `sillok embed`.

use std::io::Write;

use clap::Args;
use serde_json::json;
use sillok_core::Sillok;
use sillok_core::models::{ChatRole, GenerationRequest, Generator, Message, Prompt, StopReason};

use crate::{CmdResult, EngineArgs, Failure, cancel_on_ctrl_c};

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The prompt.
    #[arg(required_unless_present = "prompt_file")]
    prompt: Option<String>,
    /// Read the prompt from a file (`-` for standard input) instead.
    #[arg(long, value_name = "FILE", conflicts_with = "prompt")]
    prompt_file: Option<std::path::PathBuf>,
    /// A system instruction (chat models; prepended as a paragraph for base models).
    #[arg(long)]
    system: Option<String>,
    /// Most tokens to generate.
    #[arg(long, default_value_t = 256)]
    max_tokens: u32,
    /// Sampling temperature (0 = greedy).
    #[arg(long, default_value_t = 0.2)]
    temperature: f32,
    /// Top-k sampling (0 disables).
    #[arg(long, default_value_t = 40)]
    top_k: i32,
    /// Top-p (nucleus) sampling.
    #[arg(long, default_value_t = 0.95)]
    top_p: f32,
    /// Repeat penalty (1 disables).
    #[arg(long, default_value_t = 1.1)]
    repeat_penalty: f32,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    seed: u32,
    /// Stop before this string (repeatable).
    #[arg(long)]
    stop: Vec<String>,
    /// Print one JSON object per event instead of plain text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    engine: EngineArgs,
}

pub fn run(sillok: &Sillok, args: &GenerateArgs) -> CmdResult {
    let generator = sillok.load_generator(args.engine.model.as_deref(), &args.engine.options())?;
    let mut messages = Vec::new();
    if let Some(system) = &args.system {
        messages.push(Message::new(ChatRole::System, system.clone()));
    }
    messages.push(Message::new(ChatRole::User, read_prompt(args)?));
    let mut request = GenerationRequest::new(Prompt::Chat(messages), args.max_tokens);
    request.sampling.temperature = args.temperature;
    request.sampling.top_k = args.top_k;
    request.sampling.top_p = args.top_p;
    request.sampling.repeat_penalty = args.repeat_penalty;
    request.sampling.seed = args.seed;
    request.stop = args.stop.clone();

    let cancel = cancel_on_ctrl_c()?;

    let mut stdout = std::io::stdout().lock();
    let as_json = args.json;
    let report = generator.generate(&request, &cancel, &mut |piece| {
        // A closed stdout (e.g. `| head`) must not abort generation with a panic.
        let written = if as_json {
            writeln!(stdout, "{}", json!({ "event": "token", "text": piece }))
        } else {
            write!(stdout, "{piece}").and_then(|()| stdout.flush())
        };
        if written.is_err() {
            cancel.cancel();
        }
    })?;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let done = json!({
        "event": "done",
        "model": generator.name(),
        "sha256": generator.sha256(),
        "stop": report.stop,
        "prompt_tokens": report.prompt_tokens,
        "prompt_tokens_dropped": report.prompt_tokens_dropped,
        "generated_tokens": report.generated_tokens,
        "prefill_ms": ms(report.timings.prefill),
        "first_token_ms": report.timings.first_token.map(ms),
        "decode_ms": ms(report.timings.decode),
    });
    if as_json {
        writeln!(stdout, "{done}").map_err(|e| Failure::Internal(e.into()))?;
    } else {
        writeln!(stdout).map_err(|e| Failure::Internal(e.into()))?;
        if report.prompt_tokens_dropped > 0 {
            eprintln!(
                "note: the prompt was cut to fit the context: {} of {} tokens dropped",
                report.prompt_tokens_dropped,
                report.prompt_tokens + report.prompt_tokens_dropped
            );
        }
    }
    if report.stop == StopReason::Cancelled {
        return Err(Failure::Cancelled);
    }
    Ok(())
}

/// The prompt from the argument or the file; a file may hold any bytes (NUL
/// included, decoded lossily) and is capped by the engine, not here.
fn read_prompt(args: &GenerateArgs) -> Result<String, Failure> {
    match (&args.prompt, &args.prompt_file) {
        (Some(prompt), _) => Ok(prompt.clone()),
        (None, Some(path)) => {
            let bytes = if path.as_os_str() == "-" {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes).map(|_| bytes)
            } else {
                std::fs::read(path)
            };
            let bytes = bytes.map_err(|e| {
                Failure::User(
                    anyhow::Error::new(e).context(format!("cannot read {}", path.display())),
                )
            })?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        }
        (None, None) => Err(Failure::User(anyhow::anyhow!("no prompt given"))),
    }
}

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Texts to embed.
    #[arg(required = true)]
    texts: Vec<String>,
    /// Print the vectors as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    engine: EngineArgs,
}

pub fn embed(sillok: &Sillok, args: &EmbedArgs) -> CmdResult {
    let embedder = sillok.load_embedder(args.engine.model.as_deref(), &args.engine.options())?;
    let texts: Vec<&str> = args.texts.iter().map(String::as_str).collect();
    let vectors = embedder.embed(&texts)?;
    if args.json {
        println!(
            "{}",
            json!({ "model": embedder.entry().name, "dimensions": embedder.dimensions(), "vectors": vectors })
        );
        return Ok(());
    }
    println!(
        "{} vectors of {} dimensions ({})",
        vectors.len(),
        embedder.dimensions(),
        embedder.entry().name
    );
    for (i, a) in vectors.iter().enumerate() {
        for (j, b) in vectors.iter().enumerate().skip(i + 1) {
            let cosine: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            println!("cosine({}, {}) = {cosine:.4}", i + 1, j + 1);
        }
    }
    Ok(())
}
