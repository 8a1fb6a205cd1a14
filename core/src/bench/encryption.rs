//! `sillok bench encryption`: what encryption at rest costs. One generated
//! corpus is ingested into a plaintext and an encrypted library (sealed index
//! and SQLCipher journal, under a random throwaway key: the vault is never
//! touched) and the same queries are timed on both
//! ([`sillok_index::bench::sealed`] does the measuring).

use sillok_index::bench::sealed::{SealedCost, SealedCostConfig, sealed_cost};
use sillok_index::bench::{generate_corpus, generated_queries};

use crate::{Result, Sillok};

/// Generated text per requested chunk (as `sillok bench index`).
const BYTES_PER_CHUNK: u64 = 500;

/// What to measure.
#[derive(Debug, Clone)]
pub struct EncryptionBenchConfig {
    /// Chunks to aim for in the generated corpus.
    pub chunks: u64,
    /// Queries per kind.
    pub queries: usize,
    /// Ingestions of each library, alternating; the fastest of each counts.
    pub rounds: usize,
    /// Seed of the generated corpus.
    pub seed: u64,
}

/// The corpus and what encryption cost on it.
#[derive(Debug, Clone, PartialEq)]
pub struct EncryptionBenchReport {
    /// Files in the generated corpus.
    pub files: usize,
    /// Bytes of text in them.
    pub text_bytes: u64,
    /// Plaintext against encrypted.
    pub cost: SealedCost,
}

/// Runs the comparison in a scratch folder of the data directory, removed
/// afterwards.
///
/// # Errors
///
/// Missing chunk tokenizer, I/O, index or journal failures.
pub fn bench_encryption(
    sillok: &Sillok,
    config: &EncryptionBenchConfig,
) -> Result<EncryptionBenchReport> {
    let tokenizer = sillok.chunk_tokenizer_path()?;
    sillok.in_scratch_dir("bench-encryption", |work| {
        let corpus = generate_corpus(
            &work.join("corpus"),
            config.chunks.saturating_mul(BYTES_PER_CHUNK),
            config.seed,
        )?;
        let queries = generated_queries(&corpus, config.queries);
        let cost = sealed_cost(
            &corpus,
            &queries,
            &tokenizer,
            &sillok.ingest_settings(),
            work,
            &SealedCostConfig {
                ingest_rounds: config.rounds,
                ..SealedCostConfig::default()
            },
        )?;
        Ok(EncryptionBenchReport {
            files: corpus.files.len(),
            text_bytes: corpus.bytes,
            cost,
        })
    })
}
