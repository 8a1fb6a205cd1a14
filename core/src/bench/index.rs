//! `sillok bench index`: ingestion throughput, index size and query latency
//! of the real pipeline on a generated Korean/English corpus (or a BEIR
//! corpus), next to a plain tantivy index of the same text; with synthetic
//! chunk vectors (no model: [`SyntheticVectors`]), hybrid query latency next
//! to BM25 alone, and what storing, loading and scanning the vectors costs.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use sillok_index::bench::{
    GeneratedCorpus, Latency, QuerySets, RawTantivy, SyntheticVectors, VectorLoad,
    beir_corpus_as_files, beir_queries, dense_scan_latency, dir_size, generate_corpus,
    generated_queries, pdf_speed, vector_load,
};
use sillok_index::{DenseQuery, Library, SearchRequest, TokenCounter};

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
    /// Width of the synthetic vector stored per chunk (0: none, BM25 only).
    pub vectors: usize,
}

/// The model id the synthetic vectors are stored under.
const SYNTHETIC_MODEL: &str = "bench-synthetic";

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
    /// Through the library's search with a query vector (BM25 fused with the
    /// nearest synthetic vectors), when vectors were stored.
    pub hybrid: Option<Latency>,
}

/// Synthetic chunk vectors: storing, loading and scanning them.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorBench {
    /// Width of the vectors.
    pub dims: usize,
    /// Topics the vectors cluster around.
    pub topics: usize,
    /// Vectors stored (one per distinct chunk).
    pub stored: usize,
    /// Time spent storing them, in batches as the embedding loop stores
    /// (generating them and reading the chunks not counted).
    pub store_time: Duration,
    /// Size of the vector store on disk.
    pub store_bytes: u64,
    /// Loading them into the searched matrix (the first hybrid search after
    /// a change pays it).
    pub load: VectorLoad,
    /// The exact scan for the nearest vectors alone, per query.
    pub scan: Latency,
}

impl VectorBench {
    /// Vectors stored per second.
    pub fn store_per_s(&self) -> f64 {
        self.stored as f64 / self.store_time.as_secs_f64().max(1e-9)
    }
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
    /// Synthetic vectors, when asked for.
    pub vectors: Option<VectorBench>,
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

    let synthetic = (config.vectors > 0).then(|| {
        // About as many topics as members per topic.
        let topics = ((ingested.chunks as f64).sqrt() as usize).clamp(16, 4096);
        SyntheticVectors::new(config.vectors, topics, config.seed)
    });
    let vectors = match &synthetic {
        Some(synthetic) => Some(store_vectors(&library, synthetic, work)?),
        None => None,
    };
    let dense_query = |i: usize| {
        synthetic.as_ref().map(|s| DenseQuery {
            model: SYNTHETIC_MODEL.to_owned(),
            vector: s.query(i),
        })
    };
    let time_queries = |set: &[String], hybrid: bool| -> Result<Latency> {
        let mut samples = Vec::with_capacity(set.len());
        for (i, query) in set.iter().enumerate() {
            let request = SearchRequest {
                query: query.clone(),
                limit: 10,
                dense: if hybrid { dense_query(i) } else { None },
                ..SearchRequest::default()
            };
            let t = Instant::now();
            library.search(&request)?;
            samples.push(t.elapsed());
        }
        Ok(Latency::of(&mut samples))
    };
    if let Some(first) = queries.multi_word.first() {
        // The first hybrid search loads the matrix: timed on its own above.
        library.search(&SearchRequest {
            query: first.clone(),
            limit: 10,
            dense: dense_query(0),
            ..SearchRequest::default()
        })?;
    }
    let mut latency = Vec::new();
    for (kind, set) in [
        ("one-word", &queries.one_word),
        ("multi-word", &queries.multi_word),
        ("phrase", &queries.phrase),
    ] {
        latency.push(QueryLatency {
            kind,
            queries: set.len(),
            ours: time_queries(set, false)?,
            raw: raw.latency(set)?,
            hybrid: match synthetic {
                Some(_) => Some(time_queries(set, true)?),
                None => None,
            },
        });
    }
    let vectors = match (vectors, &synthetic) {
        (Some(mut v), Some(s)) => {
            let queries: Vec<Vec<f32>> = (0..config.queries.max(1)).map(|i| s.query(i)).collect();
            v.scan = dense_scan_latency(&library, SYNTHETIC_MODEL, &queries)?;
            Some(v)
        }
        _ => None,
    };
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
        vectors,
    })
}

/// Stores a synthetic vector for every distinct chunk, handed out and stored
/// in batches as the embedding loop does, and times loading them back.
fn store_vectors(
    library: &Library,
    synthetic: &SyntheticVectors,
    work: &std::path::Path,
) -> Result<VectorBench> {
    let mut pending = library.pending_embeddings(SYNTHETIC_MODEL)?;
    let mut store_time = Duration::ZERO;
    let mut stored = 0;
    loop {
        let batch = pending.next_batch(crate::retrieval::EMBED_BATCH)?;
        if batch.is_empty() {
            break;
        }
        let keyed: Vec<(String, Vec<f32>)> = batch
            .into_iter()
            .map(|c| {
                let vector = synthetic.chunk(&c.chunk_hash);
                (c.chunk_hash, vector)
            })
            .collect();
        let started = Instant::now();
        library.store_embeddings(SYNTHETIC_MODEL, &keyed)?;
        store_time += started.elapsed();
        stored += keyed.len();
    }
    let store_bytes = ["vectors.sqlite", "vectors.sqlite-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(work.join("library").join(f)).ok())
        .map(|m| m.len())
        .sum();
    Ok(VectorBench {
        dims: synthetic.dims(),
        topics: synthetic.topics(),
        stored,
        store_time,
        store_bytes,
        load: vector_load(library, SYNTHETIC_MODEL)?,
        scan: Latency::default(),
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
