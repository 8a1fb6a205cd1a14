//! `sillok bench embed`: what hybrid retrieval adds to ingestion. A folder
//! (the sample library) is ingested into a throwaway library, then every
//! chunk is embedded with the embedding model as `sillok library embed`
//! does it; both are timed, so the slowdown is measured, not guessed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use sillok_index::{Library, TokenCounter};
use sillok_models::{CancelToken, EngineOptions, Role, default_threads};

use crate::{Error, Result, Sillok};

/// What to measure.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmbedBenchConfig {
    /// The folder ingested.
    pub folder: PathBuf,
    /// The embedding model (default: the active one, see
    /// [`Sillok::active_embedding_model`]).
    pub model: Option<String>,
    /// Threads the model runs on (default: [`default_threads`]).
    pub threads: Option<u32>,
}

/// Measured figures.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbedBenchReport {
    /// The embedding model's catalogue name.
    pub model: String,
    /// Threads it ran on.
    pub threads: u32,
    /// Files indexed.
    pub files: usize,
    /// Distinct chunks indexed (each embedded once).
    pub chunks: usize,
    /// Ingestion alone: read, parse, chunk, index, commit (OCR included
    /// where the folder has scans and tesseract is installed).
    pub ingest_time: Duration,
    /// Loading and verifying the model.
    pub load_time: Duration,
    /// Embedding every chunk and storing the vectors.
    pub embed_time: Duration,
}

impl EmbedBenchReport {
    /// Chunks embedded per second.
    pub fn chunks_per_s(&self) -> f64 {
        self.chunks as f64 / self.embed_time.as_secs_f64().max(1e-9)
    }

    /// How many times as long ingestion takes when its chunks are embedded
    /// too (model load not counted: it is paid once per process).
    pub fn slowdown(&self) -> f64 {
        (self.ingest_time + self.embed_time).as_secs_f64()
            / self.ingest_time.as_secs_f64().max(1e-9)
    }
}

/// Runs the benchmark in a throwaway folder under `<data>/tmp/`.
///
/// # Errors
///
/// [`Error::NoEmbeddingModel`], an unknown model, a missing tokenizer,
/// engine or index failures.
pub fn bench_embed(sillok: &Sillok, config: &EmbedBenchConfig) -> Result<EmbedBenchReport> {
    let entry = match &config.model {
        Some(name) => sillok
            .catalogue()
            .resolve(Some(name), Role::Embedding)?
            .clone(),
        None => sillok
            .active_embedding_model()?
            .ok_or(Error::NoEmbeddingModel)?,
    };
    let counter = TokenCounter::from_file(&sillok.chunk_tokenizer_path()?)?;
    sillok.in_scratch_dir("bench-embed", |work| {
        let library = Library::open(&work.join("library"))?;
        let started = Instant::now();
        let ingested = {
            let mut writer = library.writer(counter, sillok.ingest_settings())?;
            writer.ingest("bench", std::slice::from_ref(&config.folder), &mut |_| {})?
        };
        let ingest_time = started.elapsed();
        library.reload()?;

        let threads = config.threads.unwrap_or_else(default_threads);
        let options = EngineOptions {
            threads: Some(threads),
            ..EngineOptions::default()
        };
        let started = Instant::now();
        let embedder =
            sillok_models::Embedder::load(&sillok.catalogue().path_of(&entry), &entry, &options)?;
        let load_time = started.elapsed();
        let handle = sillok.with_embedder(embedder)?;
        let never = CancelToken::default();
        let embedded = handle.embed_chunks(&library, &entry, None, &never, &mut |_| {})?;
        Ok(EmbedBenchReport {
            model: entry.name.clone(),
            threads,
            files: ingested.indexed,
            chunks: embedded.embedded,
            ingest_time,
            load_time,
            embed_time: embedded.elapsed,
        })
    })
}
