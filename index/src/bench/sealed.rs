//! The cost of encryption at rest: one corpus ingested into a plaintext and
//! an encrypted library (see [`crate::sealed`]), and the same queries run on
//! both, interleaved query by query so drift hits both alike. Ingestion is
//! reported in wall and CPU time (Linux; CPU time is not inflated by other
//! processes' load), with the bytes the sealed side encrypted and decrypted
//! while ingesting (merges rewrite segments, so more than the index's size).
//! Reported, never asserted: `sillok bench encryption` prints it.

use std::path::Path;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use super::{GeneratedCorpus, Latency, QuerySets, dir_size};
use crate::library::Storage;
use crate::sealed::{DEFAULT_BLOCK_LOG2, IndexKey, KEY_LEN};
use crate::{Error, IngestSettings, Library, Result, SealedStats, SearchRequest, TokenCounter};

/// What to run.
#[derive(Debug, Clone)]
pub struct SealedCostConfig {
    /// Ingestions of each library, alternating, each side first every other
    /// round (the fastest of each counts).
    pub ingest_rounds: usize,
    /// Passes over the queries after the first (cold-cache) one.
    pub warm_passes: usize,
    /// The sealed library's block cache budget.
    pub cache_bytes: usize,
    /// log2 of the sealed files' block size (the product's: 14, 16 KiB).
    pub block_log2: u8,
}

impl Default for SealedCostConfig {
    fn default() -> Self {
        SealedCostConfig {
            ingest_rounds: 1,
            warm_passes: 3,
            cache_bytes: crate::sealed::DEFAULT_CACHE_BYTES,
            block_log2: DEFAULT_BLOCK_LOG2,
        }
    }
}

/// One library's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct SideFigures {
    /// The fastest ingestion.
    pub ingest_time: Duration,
    /// CPU time of that ingestion, all threads (zero where it cannot be read).
    pub ingest_cpu: Duration,
    /// Size of the index folder.
    pub index_bytes: u64,
    /// Opening the ingested library (a sealed one checks its key, opens
    /// SQLCipher and decrypts every segment's term dictionary).
    pub open_time: Duration,
    /// The first query after opening (a one-word one), alone.
    pub first_query: Duration,
    /// Per query kind, the first pass after opening (empty block cache; the
    /// OS page cache warm for both).
    pub cold: Vec<(&'static str, Latency)>,
    /// Per query kind, the later passes.
    pub warm: Vec<(&'static str, Latency)>,
}

/// Plaintext against sealed on the same corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct SealedCost {
    /// Chunks indexed.
    pub chunks: usize,
    /// The plaintext library.
    pub plain: SideFigures,
    /// The sealed library.
    pub sealed: SideFigures,
    /// The sealed library's cache and decryption figures after the queries
    /// (of the library reopened for them, so nothing encrypted).
    pub stats: SealedStats,
    /// The sealed library's figures after its fastest ingestion: bytes
    /// encrypted (segments written, merges included) and decrypted (merges
    /// reading segments back).
    pub ingest_stats: SealedStats,
}

impl SealedCost {
    /// Sealed ingestion time over plaintext (1.10: 10% slower).
    pub fn ingest_ratio(&self) -> f64 {
        ratio(self.sealed.ingest_time, self.plain.ingest_time)
    }

    /// The same in CPU time.
    pub fn ingest_cpu_ratio(&self) -> f64 {
        ratio(self.sealed.ingest_cpu, self.plain.ingest_cpu)
    }
}

/// The report `sillok bench encryption` prints, one figure per line,
/// plaintext first.
impl std::fmt::Display for SealedCost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (plain, sealed) = (&self.plain, &self.sealed);
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let mb = |bytes: u64| bytes as f64 / 1e6;
        let change = |a: Duration, b: Duration| (ratio(b, a) - 1.0) * 100.0;
        writeln!(
            f,
            "ingest           {:.2} s -> {:.2} s ({:+.1}%), CPU {:.2} s -> {:.2} s ({:+.1}%)",
            plain.ingest_time.as_secs_f64(),
            sealed.ingest_time.as_secs_f64(),
            change(plain.ingest_time, sealed.ingest_time),
            plain.ingest_cpu.as_secs_f64(),
            sealed.ingest_cpu.as_secs_f64(),
            change(plain.ingest_cpu, sealed.ingest_cpu),
        )?;
        writeln!(
            f,
            "                 sealed {:.1} MB, opened {:.1} MB while ingesting (merges rewrite segments)",
            mb(self.ingest_stats.encrypted_bytes),
            mb(self.ingest_stats.decrypted_bytes),
        )?;
        writeln!(
            f,
            "index size       {:.1} MB -> {:.1} MB",
            mb(plain.index_bytes),
            mb(sealed.index_bytes)
        )?;
        writeln!(
            f,
            "open             {:.1} ms -> {:.1} ms; first query {:.2} ms -> {:.2} ms",
            ms(plain.open_time),
            ms(sealed.open_time),
            ms(plain.first_query),
            ms(sealed.first_query),
        )?;
        for (label, plain, sealed) in [
            ("cold", &plain.cold, &sealed.cold),
            ("warm", &plain.warm, &sealed.warm),
        ] {
            for ((kind, p), (_, s)) in plain.iter().zip(sealed) {
                writeln!(
                    f,
                    "search {label} {kind:<10} p50 {:.2} -> {:.2} ms ({:+.1}%), p95 {:.2} -> {:.2} ms ({:+.1}%)",
                    ms(p.p50),
                    ms(s.p50),
                    change(p.p50, s.p50),
                    ms(p.p95),
                    ms(s.p95),
                    change(p.p95, s.p95),
                )?;
            }
        }
        write!(
            f,
            "block cache      {} blocks, {:.1} of {:.1} MB; {} hits, {} misses after the queries",
            self.stats.cache_blocks,
            self.stats.cache_bytes as f64 / 1e6,
            self.stats.cache_budget as f64 / 1e6,
            self.stats.hits,
            self.stats.misses,
        )
    }
}

/// CPU time of the whole process, exited threads included (`/proc/self/stat`,
/// user + system, in the kernel's 10 ms ticks).
fn process_cpu() -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let fields: Vec<u64> = s
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|f| f.parse().ok())
                .collect();
            Some(fields.iter().sum::<u64>())
        });
    Duration::from_millis(ticks.unwrap_or(0) * 10)
}

/// `a / b`, for reports.
pub fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

/// Ingests `corpus` into a plaintext and a sealed library under `work`
/// (with a random key) and times `queries` on both.
///
/// # Errors
///
/// Tokenizer, I/O, index or journal failures.
pub fn sealed_cost(
    corpus: &GeneratedCorpus,
    queries: &QuerySets,
    tokenizer: &Path,
    settings: &IngestSettings,
    work: &Path,
    config: &SealedCostConfig,
) -> Result<SealedCost> {
    let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
    getrandom::fill(&mut bytes[..]).map_err(|e| Error::io(work, std::io::Error::other(e)))?;
    let key = IndexKey::from_bytes(&bytes);
    let sealed_storage = Storage::Sealed {
        key,
        cache_bytes: config.cache_bytes,
        block_log2: config.block_log2,
    };
    let open = |sealed: bool, dir: &Path| {
        Library::open_with(
            dir,
            if sealed {
                &sealed_storage
            } else {
                &Storage::Plain
            },
        )
    };

    let mut best = [(Duration::MAX, Duration::ZERO); 2];
    let mut ingest_stats = SealedStats::default();
    let mut chunks = 0;
    for round in 0..config.ingest_rounds.max(1) {
        // Each side goes first every other round: the first ingestion of a
        // process also warms allocator and caches.
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for side in order {
            let sealed = side == 1;
            let dir = work.join(format!("{}-{round}", side_name(sealed)));
            let library = open(sealed, &dir)?;
            let counter = TokenCounter::from_file(tokenizer)?;
            let (started, cpu) = (Instant::now(), process_cpu());
            let report = library.writer(counter, settings.clone())?.ingest(
                "bench",
                std::slice::from_ref(&corpus.dir),
                &mut |_| {},
            )?;
            let took = (started.elapsed(), process_cpu().saturating_sub(cpu));
            if took.0 < best[side].0 {
                best[side] = took;
                if let Some(stats) = library.sealed_stats() {
                    ingest_stats = stats;
                }
            }
            chunks = report.chunks;
        }
    }

    // Fresh libraries: empty block cache for the first pass, which starts
    // with one query timed alone on each. Each is opened once untimed
    // before, so one-time costs of the process fall on neither side.
    let dir = |sealed: bool| work.join(format!("{}-0", side_name(sealed)));
    for sealed in [false, true] {
        drop(open(sealed, &dir(sealed))?);
    }
    let mut open_time = [Duration::ZERO; 2];
    let mut first_query = [Duration::ZERO; 2];
    let mut opened = Vec::with_capacity(2);
    for (side, sealed) in [false, true].into_iter().enumerate() {
        let started = Instant::now();
        let library = open(sealed, &dir(sealed))?;
        open_time[side] = started.elapsed();
        if let Some(query) = queries.one_word.first() {
            let started = Instant::now();
            library.search(&SearchRequest {
                query: query.clone(),
                limit: 10,
                ..SearchRequest::default()
            })?;
            first_query[side] = started.elapsed();
        }
        opened.push(library);
    }
    let libraries = opened;
    let kinds = [
        ("one-word", &queries.one_word),
        ("multi-word", &queries.multi_word),
        ("phrase", &queries.phrase),
    ];
    let mut cold: [Vec<(&'static str, Latency)>; 2] = Default::default();
    let mut warm: [Vec<(&'static str, Latency)>; 2] = Default::default();
    for (kind, set) in kinds {
        let mut samples: [Vec<Duration>; 2] = Default::default();
        for pass in 0..=config.warm_passes {
            if pass == 1 {
                for side in 0..2 {
                    cold[side].push((kind, Latency::of(&mut samples[side])));
                    samples[side].clear();
                }
            }
            for query in set.iter() {
                let request = SearchRequest {
                    query: query.clone(),
                    limit: 10,
                    ..SearchRequest::default()
                };
                for (side, library) in libraries.iter().enumerate() {
                    let started = Instant::now();
                    library.search(&request)?;
                    samples[side].push(started.elapsed());
                }
            }
        }
        for side in 0..2 {
            warm[side].push((kind, Latency::of(&mut samples[side])));
        }
    }
    let stats = libraries[1].sealed_stats().unwrap_or_default();
    let [cold_plain, cold_sealed] = cold;
    let [warm_plain, warm_sealed] = warm;
    Ok(SealedCost {
        chunks,
        plain: SideFigures {
            ingest_time: best[0].0,
            ingest_cpu: best[0].1,
            index_bytes: dir_size(&work.join("plain-0/tantivy")),
            open_time: open_time[0],
            first_query: first_query[0],
            cold: cold_plain,
            warm: warm_plain,
        },
        sealed: SideFigures {
            ingest_time: best[1].0,
            ingest_cpu: best[1].1,
            index_bytes: dir_size(&work.join("sealed-0/tantivy")),
            open_time: open_time[1],
            first_query: first_query[1],
            cold: cold_sealed,
            warm: warm_sealed,
        },
        stats,
        ingest_stats,
    })
}

fn side_name(sealed: bool) -> &'static str {
    if sealed { "sealed" } else { "plain" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::{generate_corpus, generated_queries};
    use crate::test_support::chunk_tokenizer;

    #[test]
    fn measures_both_libraries() -> std::result::Result<(), Box<dyn std::error::Error>> {
        let work = tempfile::tempdir()?;
        let corpus = generate_corpus(&work.path().join("corpus"), 60_000, 2)?;
        let queries = generated_queries(&corpus, 3);
        let config = SealedCostConfig {
            warm_passes: 1,
            ..SealedCostConfig::default()
        };
        let cost = sealed_cost(
            &corpus,
            &queries,
            &chunk_tokenizer(),
            &IngestSettings::default(),
            work.path(),
            &config,
        )?;
        assert!(cost.chunks > 0);
        assert_eq!(cost.plain.cold.len(), 3);
        assert_eq!(cost.sealed.warm.len(), 3);
        assert!(cost.stats.decrypted_bytes > 0 && cost.stats.hits > 0);
        assert!(cost.sealed.index_bytes > cost.plain.index_bytes / 2);
        // Ingestion sealed at least the index it left behind.
        assert!(cost.ingest_stats.encrypted_bytes >= cost.plain.index_bytes / 2);
        assert!(cost.sealed.open_time > Duration::ZERO);
        assert!(cost.sealed.first_query > Duration::ZERO);
        let report = cost.to_string();
        assert!(report.contains("search warm phrase"), "{report}");
        Ok(())
    }
}
