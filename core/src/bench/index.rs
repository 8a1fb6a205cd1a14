//! `sillok bench index`: ingestion throughput, index size and query latency
//! of the real pipeline on a generated Korean/English corpus (or a BEIR
//! corpus), next to a plain tantivy index of the same text.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use sillok_index::bench::{
    GeneratedCorpus, Latency, QuerySets, RawTantivy, beir_corpus_as_files, beir_queries, dir_size,
    generate_corpus, generated_queries, pdf_speed,
};
use sillok_index::{Library, SearchRequest, TokenCounter};

use crate::{Error, Result, Sillok};

/// Generated text per requested chunk (measured: ~1 chunk per 500 bytes of this corpus).
const BYTES_PER_CHUNK: u64 = 500;

/// What to measure.
#[derive(Debug, Clone, Default)]
pub struct IndexBenchConfig {
    /// Chunks to aim for in the generated corpus.
    pub chunks: u64,
    /// A BEIR-layout set to index instead of the generated corpus.
    pub beir: Option<PathBuf>,
    /// PDFs to time extraction on.
    pub pdfs: Vec<PathBuf>,
    /// Queries per kind.
    pub queries: usize,
    /// Seed of the generated corpus.
    pub seed: u64,
    /// Threads that read, parse and chunk (0: one per core, at most 4).
    pub workers: usize,
}

/// Query latency of one kind, ours and the baseline's.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryLatency {
    /// `one-word`, `multi-word` or `phrase`.
    pub kind: &'static str,
    /// Queries run.
    pub queries: usize,
    /// Through the library's search (snippets and provenance included).
    pub ours: Latency,
    /// Plain tantivy, top 10 with stored text.
    pub raw: Latency,
}

/// Measured figures.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexBenchReport {
    /// Files ingested.
    pub files: usize,
    /// Bytes of text in them.
    pub text_bytes: u64,
    /// Chunks indexed.
    pub chunks: u64,
    /// Time for ingestion (discover, read, parse, chunk, index, commit).
    pub ingest_time: Duration,
    /// Size of our index on disk.
    pub index_bytes: u64,
    /// Pieces the baseline indexed.
    pub raw_docs: u64,
    /// The baseline's indexing time.
    pub raw_time: Duration,
    /// The baseline's size on disk.
    pub raw_bytes: u64,
    /// Query latencies by kind.
    pub latency: Vec<QueryLatency>,
    /// Time the chunking tokenizer alone takes to count the corpus's tokens.
    pub tokenizer_time: Duration,
    /// PDF pages extracted and the time it took, when PDFs were given.
    pub pdf: Option<(u64, Duration)>,
}

impl IndexBenchReport {
    /// Ingestion throughput, MB of text per second.
    pub fn ingest_mb_per_s(&self) -> f64 {
        mb_per_s(self.text_bytes, self.ingest_time)
    }

    /// The chunking tokenizer's throughput alone (a floor on ingestion time).
    pub fn tokenizer_mb_per_s(&self) -> f64 {
        mb_per_s(self.text_bytes, self.tokenizer_time)
    }

    /// The baseline's throughput.
    pub fn raw_mb_per_s(&self) -> f64 {
        mb_per_s(self.text_bytes, self.raw_time)
    }
}

fn mb_per_s(bytes: u64, time: Duration) -> f64 {
    bytes as f64 / 1e6 / time.as_secs_f64().max(1e-9)
}

/// Runs the benchmark in a throwaway folder under `<data>/tmp/`.
///
/// # Errors
///
/// Missing tokenizer, unreadable set, I/O or index failures.
pub fn bench_index(sillok: &Sillok, config: &IndexBenchConfig) -> Result<IndexBenchReport> {
    sillok.in_scratch_dir("bench-index", |work| run(sillok, config, work))
}

fn run(
    sillok: &Sillok,
    config: &IndexBenchConfig,
    work: &std::path::Path,
) -> Result<IndexBenchReport> {
    let (corpus, queries): (GeneratedCorpus, QuerySets) = match &config.beir {
        Some(set) => (
            beir_corpus_as_files(set, &work.join("corpus"))?,
            beir_queries(set, config.queries)?,
        ),
        None => {
            let corpus = generate_corpus(
                &work.join("corpus"),
                config.chunks.saturating_mul(BYTES_PER_CHUNK),
                config.seed,
            )?;
            let queries = generated_queries(&corpus, config.queries);
            (corpus, queries)
        }
    };

    let counter = TokenCounter::from_file(&sillok.chunk_tokenizer_path()?)?;
    let tokenizer_time = time_tokenizer(&counter, &corpus)?;
    let library = Library::open(&work.join("library"))?;
    let started = Instant::now();
    let ingested = {
        let settings = sillok_index::IngestSettings {
            workers: config.workers,
            ..sillok.ingest_settings()
        };
        let mut writer = library.writer(counter, settings)?;
        writer.ingest("bench", std::slice::from_ref(&corpus.dir), &mut |_| {})?
    };
    let ingest_time = started.elapsed();
    library.reload()?;
    let index_bytes = dir_size(&work.join("library/tantivy"));

    let piece = usize::try_from(corpus.bytes / (ingested.chunks as u64).max(1)).unwrap_or(1000);
    let raw = RawTantivy::build(&corpus.files, &work.join("raw"), piece)?;
    let raw_bytes = dir_size(&work.join("raw"));

    let mut latency = Vec::new();
    for (kind, set) in [
        ("one-word", &queries.one_word),
        ("multi-word", &queries.multi_word),
        ("phrase", &queries.phrase),
    ] {
        let mut samples = Vec::with_capacity(set.len());
        for query in set.iter() {
            let request = SearchRequest {
                query: query.clone(),
                limit: 10,
                ..SearchRequest::default()
            };
            let t = Instant::now();
            library.search(&request)?;
            samples.push(t.elapsed());
        }
        latency.push(QueryLatency {
            kind,
            queries: set.len(),
            ours: Latency::of(&mut samples),
            raw: raw.latency(set)?,
        });
    }
    let pdf = if config.pdfs.is_empty() {
        None
    } else {
        let speed = pdf_speed(&config.pdfs, Duration::from_secs(3))?;
        Some((speed.pages, speed.elapsed))
    };
    Ok(IndexBenchReport {
        files: corpus.files.len(),
        text_bytes: corpus.bytes,
        chunks: ingested.chunks as u64,
        ingest_time,
        index_bytes,
        raw_docs: raw.docs,
        raw_time: raw.index_time,
        raw_bytes,
        latency,
        tokenizer_time,
        pdf,
    })
}

/// Counts the corpus's tokens paragraph by paragraph, as chunking does.
fn time_tokenizer(counter: &TokenCounter, corpus: &GeneratedCorpus) -> Result<Duration> {
    let mut elapsed = Duration::ZERO;
    for file in &corpus.files {
        let text = std::fs::read_to_string(file).map_err(|source| Error::DataDir {
            path: file.clone(),
            source,
        })?;
        let started = Instant::now();
        for paragraph in text.split("\n\n") {
            std::hint::black_box(counter.count(paragraph));
        }
        elapsed += started.elapsed();
    }
    Ok(elapsed)
}
