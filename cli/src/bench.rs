//! `sillok bench …`

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;
use sillok_core::Sillok;
use sillok_core::bench::{
    AskBenchConfig, BenchConfig, EmbedBenchConfig, EncryptionBenchConfig, IndexBenchConfig,
    bench_ask, bench_embed, bench_encryption, bench_generate, bench_index,
};

use crate::{CmdResult, EngineArgs, Failure};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Prompt processing and decode speed, time to first token, load time, peak RSS.
    Generate(BenchGenerateArgs),
    /// Ingestion throughput, index size and query latency, against plain tantivy.
    Index(BenchIndexArgs),
    /// Time to first token and total time of a grounded answer, by stage.
    Ask(BenchAskArgs),
    /// Ingestion time of a folder, then the time to embed its chunks with the
    /// embedding model: what hybrid search adds to ingestion.
    Embed(BenchEmbedArgs),
    /// What encryption at rest costs: ingestion and search of one generated
    /// corpus, plaintext against encrypted (a throwaway key; the vault is untouched).
    Encryption(BenchEncryptionArgs),
}

#[derive(Debug, Args)]
pub struct BenchEncryptionArgs {
    /// Chunks to aim for in the generated Korean/English corpus.
    #[arg(long, default_value_t = 10_000)]
    chunks: u64,
    /// Queries per kind (one word, several words, phrase).
    #[arg(long, default_value_t = 40)]
    queries: usize,
    /// Ingestions of each library, alternating; the fastest of each counts.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Seed of the generated corpus.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct BenchEmbedArgs {
    /// The folder to ingest and embed (a throwaway library; yours is untouched).
    #[arg(default_value = "samples/library")]
    folder: PathBuf,
    /// Embedding model (default: the active one).
    #[arg(long, short)]
    model: Option<String>,
    /// CPU threads for the model (default: leaves a core free on small machines).
    #[arg(long)]
    threads: Option<u32>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct BenchAskArgs {
    /// The question (default: one drawn from the generated corpus).
    #[arg(long, default_value = "")]
    question: String,
    /// Ask over a throwaway library of this many generated chunks instead of yours.
    #[arg(long)]
    generated_chunks: Option<u64>,
    /// Timed runs (after one warm-up); medians are reported.
    #[arg(long, default_value_t = 3)]
    runs: u32,
    /// Most tokens of answer.
    #[arg(long, default_value_t = 64)]
    max_tokens: u32,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct BenchIndexArgs {
    /// Chunks to aim for in the generated Korean/English corpus.
    #[arg(long, default_value_t = 100_000)]
    chunks: u64,
    /// Index this BEIR-layout set's corpus instead (its queries are timed).
    #[arg(long, value_name = "DIR")]
    beir: Option<PathBuf>,
    /// PDF files or folders to time text extraction on.
    #[arg(long, value_name = "PATH")]
    pdf: Vec<PathBuf>,
    /// Queries per kind (one word, several words, phrase).
    #[arg(long, default_value_t = 300)]
    queries: usize,
    /// Seed of the generated corpus.
    #[arg(long, default_value_t = 20_261_126)]
    seed: u64,
    /// Threads that read, parse and chunk (0: one per core, at most 4).
    #[arg(long, default_value_t = 0)]
    workers: usize,
    /// Store a synthetic vector of this width per chunk (384: multilingual-e5-small)
    /// and time hybrid queries next to BM25 alone; 0 for BM25 only.
    #[arg(long, value_name = "DIM", default_value_t = 384)]
    vectors: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
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
    match cmd {
        BenchCommand::Generate(args) => generate(sillok, &args),
        BenchCommand::Index(args) => index(sillok, &args),
        BenchCommand::Ask(args) => ask(sillok, &args),
        BenchCommand::Embed(args) => embed(sillok, &args),
        BenchCommand::Encryption(args) => encryption(sillok, &args),
    }
}

fn encryption(sillok: &Sillok, args: &BenchEncryptionArgs) -> CmdResult {
    let config = EncryptionBenchConfig {
        chunks: args.chunks,
        queries: args.queries,
        rounds: args.rounds,
        seed: args.seed,
    };
    let r = bench_encryption(sillok, &config)?;
    if !args.json {
        println!(
            "corpus           {} files, {:.1} MB of text, {} chunks (plaintext -> encrypted below)",
            r.files,
            r.text_bytes as f64 / 1e6,
            r.cost.chunks
        );
        println!("{}", r.cost);
        return Ok(());
    }
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let side = |s: &sillok_core::index::bench::sealed::SideFigures| {
        let latency = |set: &[(&str, sillok_core::index::bench::Latency)]| {
            set.iter()
                .map(|(kind, l)| json!({ "kind": kind, "p50_ms": ms(l.p50), "p95_ms": ms(l.p95) }))
                .collect::<Vec<_>>()
        };
        json!({
            "ingest_s": s.ingest_time.as_secs_f64(), "ingest_cpu_s": s.ingest_cpu.as_secs_f64(),
            "index_bytes": s.index_bytes, "open_ms": ms(s.open_time),
            "first_query_ms": ms(s.first_query),
            "cold": latency(&s.cold), "warm": latency(&s.warm),
        })
    };
    let c = &r.cost;
    println!(
        "{}",
        json!({
            "files": r.files, "text_bytes": r.text_bytes, "chunks": c.chunks,
            "plain": side(&c.plain), "encrypted": side(&c.sealed),
            "ingest_ratio": c.ingest_ratio(), "ingest_cpu_ratio": c.ingest_cpu_ratio(),
            "ingest_encrypted_bytes": c.ingest_stats.encrypted_bytes,
            "ingest_decrypted_bytes": c.ingest_stats.decrypted_bytes,
        })
    );
    Ok(())
}

fn ask(sillok: &Sillok, args: &BenchAskArgs) -> CmdResult {
    if args.question.is_empty() && args.generated_chunks.is_none() {
        return Err(Failure::User(anyhow::anyhow!(
            "give --question (asked of your library) or --generated-chunks N"
        )));
    }
    let generator = sillok.load_generator(args.engine.model.as_deref(), &args.engine.options())?;
    let config = AskBenchConfig {
        question: args.question.clone(),
        generated_chunks: args.generated_chunks,
        runs: args.runs,
        max_tokens: args.max_tokens,
    };
    let r = bench_ask(sillok, &generator, &config)?;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    if args.json {
        println!(
            "{}",
            json!({
                "chunks_searched": r.chunks_searched, "status": r.status, "prompt_tokens": r.prompt_tokens,
                "retrieval_ms": ms(r.retrieval), "prompt_build_ms": ms(r.prompt_build),
                "prefill_ms": ms(r.prefill), "first_token_ms": ms(r.first_token),
                "decode_ms": ms(r.decode), "total_ms": ms(r.total),
                "bare_first_token_ms": ms(r.bare_first_token),
            })
        );
        return Ok(());
    }
    println!(
        "library          {} chunks ({})",
        r.chunks_searched, r.status
    );
    println!("retrieval        {:.1} ms", ms(r.retrieval));
    println!(
        "prompt build     {:.1} ms ({} tokens)",
        ms(r.prompt_build),
        r.prompt_tokens
    );
    println!("prefill          {:.0} ms", ms(r.prefill));
    println!(
        "first token      {:.0} ms (bare engine, same prompt length: {:.0} ms)",
        ms(r.first_token),
        ms(r.bare_first_token)
    );
    println!("decode           {:.0} ms", ms(r.decode));
    println!("total            {:.0} ms", ms(r.total));
    Ok(())
}

fn index(sillok: &Sillok, args: &BenchIndexArgs) -> CmdResult {
    let mut pdfs = Vec::new();
    for path in &args.pdf {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| Failure::User(anyhow::anyhow!("cannot read {}: {e}", path.display())))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("pdf")))
                .collect();
            found.sort();
            pdfs.extend(found);
        } else {
            pdfs.push(path.clone());
        }
    }
    let config = IndexBenchConfig {
        chunks: args.chunks,
        beir: args.beir.clone(),
        pdfs,
        queries: args.queries,
        seed: args.seed,
        workers: args.workers,
        vectors: args.vectors,
    };
    let r = bench_index(sillok, &config)?;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let ratio = r.ingest_mb_per_s() / r.raw_mb_per_s().max(1e-9);
    let pdf_pages_per_s = r
        .pdf
        .map(|(pages, time)| pages as f64 / time.as_secs_f64().max(1e-9));
    if args.json {
        let latency: Vec<_> = r
            .latency
            .iter()
            .map(|l| {
                json!({
                    "kind": l.kind, "queries": l.queries,
                    "p50_ms": ms(l.ours.p50), "p95_ms": ms(l.ours.p95),
                    "raw_p50_ms": ms(l.raw.p50), "raw_p95_ms": ms(l.raw.p95),
                    "hybrid_p50_ms": l.hybrid.map(|h| ms(h.p50)),
                    "hybrid_p95_ms": l.hybrid.map(|h| ms(h.p95)),
                })
            })
            .collect();
        println!(
            "{}",
            json!({
                "files": r.files, "text_bytes": r.text_bytes, "chunks": r.chunks,
                "ingest_s": r.ingest_time.as_secs_f64(), "ingest_mb_per_s": r.ingest_mb_per_s(),
                "index_bytes": r.index_bytes, "raw_docs": r.raw_docs,
                "raw_index_s": r.raw_time.as_secs_f64(), "raw_mb_per_s": r.raw_mb_per_s(),
                "raw_index_bytes": r.raw_bytes, "throughput_vs_raw": ratio,
                "tokenizer_mb_per_s": r.tokenizer_mb_per_s(),
                "latency": latency, "pdf_pages_per_s": pdf_pages_per_s,
                "vectors": r.vectors.as_ref().map(|v| json!({
                    "dims": v.dims, "topics": v.topics, "stored": v.stored,
                    "store_s": v.store_time.as_secs_f64(), "store_per_s": v.store_per_s(),
                    "store_bytes": v.store_bytes, "load_ms": ms(v.load.time),
                    "matrix_bytes": v.load.memory_bytes,
                    "scan_p50_ms": ms(v.scan.p50), "scan_p95_ms": ms(v.scan.p95),
                })),
            })
        );
        return Ok(());
    }
    println!(
        "corpus           {} files, {:.1} MB of text, {} chunks",
        r.files,
        r.text_bytes as f64 / 1e6,
        r.chunks
    );
    println!(
        "ingest           {:.1} s, {:.2} MB/s (plain tantivy {:.2} MB/s; ours is {:.0}% of it)",
        r.ingest_time.as_secs_f64(),
        r.ingest_mb_per_s(),
        r.raw_mb_per_s(),
        ratio * 100.0
    );
    println!(
        "                 (the chunking tokenizer alone counts {:.2} MB/s)",
        r.tokenizer_mb_per_s()
    );
    println!(
        "index size       {:.1} MB, {:.2}x the text (plain tantivy {:.2}x)",
        r.index_bytes as f64 / 1e6,
        r.index_bytes as f64 / r.text_bytes.max(1) as f64,
        r.raw_bytes as f64 / r.text_bytes.max(1) as f64
    );
    if let Some(v) = &r.vectors {
        println!(
            "vectors          {} x {} dims (synthetic, {} topics): stored in {:.1} s ({:.0}/s), {:.1} MB on disk",
            v.stored,
            v.dims,
            v.topics,
            v.store_time.as_secs_f64(),
            v.store_per_s(),
            v.store_bytes as f64 / 1e6
        );
        println!(
            "                 loaded in {:.0} ms into a {:.1} MB matrix; nearest-vector scan p50 {:.2} ms, p95 {:.2} ms",
            ms(v.load.time),
            v.load.memory_bytes as f64 / 1e6,
            ms(v.scan.p50),
            ms(v.scan.p95)
        );
    }
    for l in &r.latency {
        println!(
            "{:<16} p50 {:.2} ms, p95 {:.2} ms over {} queries (plain tantivy p50 {:.2}, p95 {:.2})",
            l.kind,
            ms(l.ours.p50),
            ms(l.ours.p95),
            l.queries,
            ms(l.raw.p50),
            ms(l.raw.p95)
        );
        if let Some(h) = l.hybrid {
            println!(
                "{:<16} hybrid p50 {:.2} ms, p95 {:.2} ms",
                "",
                ms(h.p50),
                ms(h.p95)
            );
        }
    }
    if let (Some(rate), Some((pages, _))) = (pdf_pages_per_s, r.pdf) {
        println!("pdf extraction   {rate:.0} pages/s ({pages} pages)");
    }
    Ok(())
}

fn embed(sillok: &Sillok, args: &BenchEmbedArgs) -> CmdResult {
    let config = EmbedBenchConfig {
        folder: args.folder.clone(),
        model: args.model.clone(),
        threads: args.threads,
    };
    let r = bench_embed(sillok, &config)?;
    if args.json {
        println!(
            "{}",
            json!({
                "model": r.model, "threads": r.threads, "files": r.files, "chunks": r.chunks,
                "ingest_s": r.ingest_time.as_secs_f64(), "load_s": r.load_time.as_secs_f64(),
                "embed_s": r.embed_time.as_secs_f64(), "chunks_per_s": r.chunks_per_s(),
                "slowdown": r.slowdown(),
            })
        );
        return Ok(());
    }
    println!(
        "ingest           {} files, {} chunks in {:.2} s",
        r.files,
        r.chunks,
        r.ingest_time.as_secs_f64()
    );
    println!(
        "embed            {:.1} s, {:.1} chunks/s ({}, threads {}; model load {:.2} s)",
        r.embed_time.as_secs_f64(),
        r.chunks_per_s(),
        r.model,
        r.threads,
        r.load_time.as_secs_f64()
    );
    println!(
        "hybrid ingest    {:.1}x the time of ingestion alone",
        r.slowdown()
    );
    Ok(())
}

fn generate(sillok: &Sillok, args: &BenchGenerateArgs) -> CmdResult {
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
