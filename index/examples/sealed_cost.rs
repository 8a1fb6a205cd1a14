//! The cost of encrypting the search index at rest, without the rest of the
//! workspace (no llama.cpp build): a generated corpus ingested into a
//! plaintext and a sealed library, the same queries timed on both.
//!
//! ```sh
//! cargo run --release -p sillok-index --example sealed_cost -- [CHUNKS] [QUERIES] [INGEST_ROUNDS] [CACHE_MIB] [BLOCK_LOG2]
//! ```
//!
//! The chunking tokenizer comes from `SILLOK_CHUNK_TOKENIZER` (set by
//! `installer/env.sh`). `sillok bench index --sealed` reports the same figures.

use std::path::PathBuf;

use sillok_index::IngestSettings;
use sillok_index::bench::sealed::{SealedCostConfig, ratio, sealed_cost};
use sillok_index::bench::{generate_corpus, generated_queries};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let arg = |i: usize, default: u64| args.get(i).copied().unwrap_or(default);
    let (chunks, queries, rounds, cache_mib) = (arg(0, 20_000), arg(1, 50), arg(2, 1), arg(3, 64));
    let block_log2 = u8::try_from(arg(4, 14))?;
    let tokenizer = PathBuf::from(
        std::env::var_os("SILLOK_CHUNK_TOKENIZER")
            .ok_or("SILLOK_CHUNK_TOKENIZER is not set: source installer/env.sh")?,
    );
    let work = tempfile::tempdir()?;
    let corpus = generate_corpus(&work.path().join("corpus"), chunks * 500, 42)?;
    let queries = generated_queries(&corpus, usize::try_from(queries)?);
    let config = SealedCostConfig {
        ingest_rounds: usize::try_from(rounds)?,
        cache_bytes: usize::try_from(cache_mib << 20)?,
        block_log2,
        ..SealedCostConfig::default()
    };
    let cost = sealed_cost(
        &corpus,
        &queries,
        &tokenizer,
        &IngestSettings::default(),
        work.path(),
        &config,
    )?;
    println!(
        "corpus: {} files, {:.1} MB, {} chunks",
        corpus.files.len(),
        corpus.bytes as f64 / 1e6,
        cost.chunks
    );
    println!(
        "ingest: plaintext {:.2} s, sealed {:.2} s ({:+.1}%); cpu {:.2} s vs {:.2} s ({:+.1}%)",
        cost.plain.ingest_time.as_secs_f64(),
        cost.sealed.ingest_time.as_secs_f64(),
        (cost.ingest_ratio() - 1.0) * 100.0,
        cost.plain.ingest_cpu.as_secs_f64(),
        cost.sealed.ingest_cpu.as_secs_f64(),
        (cost.ingest_cpu_ratio() - 1.0) * 100.0
    );
    println!(
        "index size: plaintext {:.1} MB, sealed {:.1} MB",
        cost.plain.index_bytes as f64 / 1e6,
        cost.sealed.index_bytes as f64 / 1e6
    );
    for (label, plain, sealed) in [
        ("cold", &cost.plain.cold, &cost.sealed.cold),
        ("warm", &cost.plain.warm, &cost.sealed.warm),
    ] {
        for ((kind, p), (_, s)) in plain.iter().zip(sealed) {
            println!(
                "search {label} {kind:<10} p50 {:>6.2} ms vs {:>6.2} ms ({:+6.1}%)  p95 {:>6.2} ms vs {:>6.2} ms ({:+6.1}%)",
                p.p50.as_secs_f64() * 1e3,
                s.p50.as_secs_f64() * 1e3,
                (ratio(s.p50, p.p50) - 1.0) * 100.0,
                p.p95.as_secs_f64() * 1e3,
                s.p95.as_secs_f64() * 1e3,
                (ratio(s.p95, p.p95) - 1.0) * 100.0,
            );
        }
    }
    println!("block cache: {:?}", cost.stats);
    Ok(())
}
