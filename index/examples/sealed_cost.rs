//! The cost of encrypting the search index at rest, without the rest of the
//! workspace (no llama.cpp build): a generated corpus ingested into a
//! plaintext and a sealed library, the same queries timed on both.
//!
//! ```sh
//! cargo run --release -p sillok-index --example sealed_cost -- [CHUNKS] [QUERIES] [INGEST_ROUNDS] [CACHE_MIB] [BLOCK_LOG2]
//! ```
//!
//! The chunking tokenizer comes from `SILLOK_CHUNK_TOKENIZER` (set by
//! `installer/env.sh`). `sillok bench encryption` reports the same figures
//! (its defaults: 10 000 chunks, 40 queries, 2 rounds).

use std::path::PathBuf;

use sillok_index::IngestSettings;
use sillok_index::bench::sealed::{SealedCostConfig, sealed_cost};
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
        "corpus           {} files, {:.1} MB of text, {} chunks",
        corpus.files.len(),
        corpus.bytes as f64 / 1e6,
        cost.chunks
    );
    println!("{cost}");
    Ok(())
}
