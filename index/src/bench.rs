//! Building blocks of `sillok bench index`: a generated Korean/English corpus,
//! query sets drawn from it, a plain tantivy index of the same text as the
//! baseline our pipeline is compared with, and synthetic chunk vectors (no
//! model needed) to time hybrid search. Nothing here is asserted; the
//! figures are reported.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tantivy::collector::TopDocs;
use tantivy::directory::MmapDirectory;
use tantivy::query::QueryParser;
use tantivy::schema::{STORED, STRING, Schema, TEXT};
use tantivy::{Index, IndexWriter, ReloadPolicy, TantivyDocument};

use crate::parse::{Limits, parse_bytes};
use crate::{Error, Result};

pub mod sealed;

/// Paragraphs per generated file.
const PARAGRAPHS_PER_FILE: usize = 24;
/// Sentences per generated paragraph.
const SENTENCES_PER_PARAGRAPH: usize = 4;
/// Files per generated sub-folder.
const FILES_PER_FOLDER: usize = 500;

/// A deterministic generator (SplitMix64): the corpus and its queries are
/// reproducible from the seed alone, with no extra dependency.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// Skewed towards small values, like word frequencies (roughly Zipfian).
    fn skewed(&mut self, n: usize) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((n as f64) * u.powi(3)) as usize % n.max(1)
    }
}

const KO_SYLLABLES: &[&str] = &[
    "고", "혈", "압", "당", "뇨", "병", "환", "자", "진", "단", "치", "료", "약", "물", "검", "사",
    "수", "술", "간", "신", "장", "폐", "심", "기", "능", "염", "증", "상", "처", "방", "관", "리",
];
const KO_PARTICLES: &[&str] = &[
    "", "", "", "은", "는", "이", "가", "을", "를", "에서", "의", "으로",
];
const EN_SYLLABLES: &[&str] = &[
    "ca", "ro", "ti", "ne", "mi", "la", "do", "pre", "sta", "ven", "tor", "al", "em", "ix", "pho",
    "gen", "ur", "ol", "ab", "cy",
];
/// Distinct words per language.
const VOCABULARY: usize = 20_000;

/// The `rank`-th word of a language's generated vocabulary.
fn word(korean: bool, rank: usize) -> String {
    let (syllables, count) = if korean {
        (KO_SYLLABLES, 2 + rank % 2)
    } else {
        (EN_SYLLABLES, 2 + rank % 3)
    };
    let mut r = rank;
    let mut w = String::new();
    for _ in 0..count {
        w.push_str(syllables[r % syllables.len()]);
        r /= syllables.len();
    }
    if !korean {
        w.push_str(["", "s", "ed", "ing"][rank % 4]);
    }
    w
}

/// One generated paragraph, a pure function of (seed, file, paragraph).
pub fn paragraph(seed: u64, file: usize, index: usize) -> String {
    let mut rng = Rng::new(seed ^ ((file as u64) << 20) ^ index as u64);
    let mut out = String::new();
    for s in 0..SENTENCES_PER_PARAGRAPH {
        let korean = (file + index + s).is_multiple_of(2);
        let words = 8 + rng.below(8);
        for i in 0..words {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(&word(korean, rng.skewed(VOCABULARY)));
            if korean {
                out.push_str(KO_PARTICLES[rng.below(KO_PARTICLES.len())]);
            }
        }
        out.push_str(". ");
    }
    out.pop();
    out
}

/// A generated corpus on disk.
#[derive(Debug, Clone)]
pub struct GeneratedCorpus {
    /// Its folder.
    pub dir: PathBuf,
    /// Its files.
    pub files: Vec<PathBuf>,
    /// Bytes of text.
    pub bytes: u64,
    /// The seed it was generated from.
    pub seed: u64,
}

/// Writes about `target_bytes` of mixed Korean/English text files under `dir`.
///
/// # Errors
///
/// I/O errors.
pub fn generate_corpus(dir: &Path, target_bytes: u64, seed: u64) -> Result<GeneratedCorpus> {
    let mut files = Vec::new();
    let mut bytes = 0u64;
    while bytes < target_bytes {
        let n = files.len();
        let folder = dir.join(format!("{:04}", n / FILES_PER_FOLDER));
        if n.is_multiple_of(FILES_PER_FOLDER) {
            std::fs::create_dir_all(&folder).map_err(|e| Error::io(&folder, e))?;
        }
        let text: Vec<String> = (0..PARAGRAPHS_PER_FILE)
            .map(|p| paragraph(seed, n, p))
            .collect();
        let text = text.join("\n\n");
        let path = folder.join(format!("doc-{n:07}.txt"));
        std::fs::write(&path, &text).map_err(|e| Error::io(&path, e))?;
        bytes += text.len() as u64;
        files.push(path);
    }
    Ok(GeneratedCorpus {
        dir: dir.to_owned(),
        files,
        bytes,
        seed,
    })
}

/// Query sets of one kind each: single words, three words, quoted two-word phrases.
#[derive(Debug, Clone, Default)]
pub struct QuerySets {
    /// One word.
    pub one_word: Vec<String>,
    /// Several words.
    pub multi_word: Vec<String>,
    /// Quoted phrases that occur in the corpus.
    pub phrase: Vec<String>,
}

/// `n` queries of each kind, drawn from the generated corpus's own text.
pub fn generated_queries(corpus: &GeneratedCorpus, n: usize) -> QuerySets {
    let mut rng = Rng::new(corpus.seed.rotate_left(17));
    let mut sets = QuerySets::default();
    let files = corpus.files.len().max(1);
    while sets.phrase.len() < n {
        let text = paragraph(
            corpus.seed,
            rng.below(files),
            rng.below(PARAGRAPHS_PER_FILE),
        );
        let words: Vec<&str> = text.split([' ', '.']).filter(|w| !w.is_empty()).collect();
        if words.len() < 4 {
            continue;
        }
        let at = rng.below(words.len() - 3);
        sets.one_word.push(words[at].to_owned());
        sets.multi_word.push(words[at..at + 3].join(" "));
        sets.phrase
            .push(format!("\"{} {}\"", words[at], words[at + 1]));
    }
    sets
}

/// Query sets from a BEIR corpus's queries: as written, their first word,
/// and their first two words quoted.
///
/// # Errors
///
/// Unreadable or malformed `queries.jsonl`.
pub fn beir_queries(set_dir: &Path, n: usize) -> Result<QuerySets> {
    let path = set_dir.join("queries.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let mut sets = QuerySets::default();
    for line in text.lines().take(n) {
        let value: serde_json::Value = serde_json::from_str(line).map_err(|e| Error::Io {
            path: path.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?;
        let query = value["text"].as_str().unwrap_or_default();
        let words: Vec<&str> = query.split_whitespace().collect();
        if words.len() < 2 {
            continue;
        }
        sets.one_word.push(words[0].to_owned());
        sets.multi_word.push(query.to_owned());
        sets.phrase.push(format!("\"{} {}\"", words[0], words[1]));
    }
    Ok(sets)
}

/// Writes a BEIR `corpus.jsonl` as one text file per document (title, then text).
///
/// # Errors
///
/// I/O errors, malformed lines.
pub fn beir_corpus_as_files(set_dir: &Path, dir: &Path) -> Result<GeneratedCorpus> {
    let path = set_dir.join("corpus.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let mut files = Vec::new();
    let mut bytes = 0;
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line).map_err(|e| Error::Io {
            path: path.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?;
        let n = files.len();
        let folder = dir.join(format!("{:04}", n / FILES_PER_FOLDER));
        if n.is_multiple_of(FILES_PER_FOLDER) {
            std::fs::create_dir_all(&folder).map_err(|e| Error::io(&folder, e))?;
        }
        let body = format!(
            "{}\n\n{}",
            value["title"].as_str().unwrap_or_default(),
            value["text"].as_str().unwrap_or_default()
        );
        let file = folder.join(format!("doc-{n:07}.txt"));
        std::fs::write(&file, &body).map_err(|e| Error::io(&file, e))?;
        bytes += body.len() as u64;
        files.push(file);
    }
    Ok(GeneratedCorpus {
        dir: dir.to_owned(),
        files,
        bytes,
        seed: 0,
    })
}

/// Latency percentiles of a query set.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50: Duration,
    /// 95th percentile.
    pub p95: Duration,
}

impl Latency {
    /// Percentiles of `samples` (sorted in place).
    pub fn of(samples: &mut [Duration]) -> Self {
        samples.sort();
        Latency {
            p50: percentile(samples, 0.5),
            p95: percentile(samples, 0.95),
        }
    }
}

/// The `p` quantile of sorted `samples` (nearest rank).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted
        .get(((sorted.len() as f64 - 1.0) * p).round() as usize)
        .copied()
        .unwrap_or_default()
}

/// The baseline: the same files in a plain tantivy index (default tokenizer,
/// one text field, pieces of about `piece_bytes`, the same single indexing thread).
#[derive(Debug, Clone)]
pub struct RawTantivy {
    index: Index,
    /// Pieces indexed.
    pub docs: u64,
    /// Time to read, split and index all files and commit.
    pub index_time: Duration,
}

impl RawTantivy {
    /// Indexes `files` into `dir`.
    ///
    /// # Errors
    ///
    /// I/O or index errors.
    pub fn build(files: &[PathBuf], dir: &Path, piece_bytes: usize) -> Result<Self> {
        let mut builder = Schema::builder();
        let path_field = builder.add_text_field("path", STRING | STORED);
        let text_field = builder.add_text_field("text", TEXT | STORED);
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let directory = MmapDirectory::open(dir).map_err(|e| Error::Tantivy(e.into()))?;
        let index = Index::create(directory, builder.build(), Default::default())?;
        let started = Instant::now();
        let mut writer: IndexWriter<TantivyDocument> =
            index.writer_with_num_threads(1, 64 << 20)?;
        let mut docs = 0;
        for file in files {
            let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
            let path = file.to_string_lossy();
            let mut piece = String::new();
            for paragraph in text.split("\n\n") {
                piece.push_str(paragraph);
                piece.push('\n');
                if piece.len() >= piece_bytes {
                    writer.add_document(
                        tantivy::doc!(path_field => path.as_ref(), text_field => piece.as_str()),
                    )?;
                    docs += 1;
                    piece.clear();
                }
            }
            if !piece.is_empty() {
                writer.add_document(
                    tantivy::doc!(path_field => path.as_ref(), text_field => piece.as_str()),
                )?;
                docs += 1;
            }
        }
        writer.commit()?;
        Ok(RawTantivy {
            index,
            docs,
            index_time: started.elapsed(),
        })
    }

    /// Latency of `queries` (top 10, stored text fetched, as a search shows hits).
    ///
    /// # Errors
    ///
    /// Index errors.
    pub fn latency(&self, queries: &[String]) -> Result<Latency> {
        let reader = self
            .index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let searcher = reader.searcher();
        let schema = self.index.schema();
        let text_field = schema.get_field("text")?;
        let parser = QueryParser::for_index(&self.index, vec![text_field]);
        let mut samples = Vec::with_capacity(queries.len());
        for q in queries {
            let started = Instant::now();
            let (query, _) = parser.parse_query_lenient(q);
            let top = searcher.search(&query, &TopDocs::with_limit(10).order_by_score())?;
            for (_, address) in top {
                let _doc: TantivyDocument = searcher.doc(address)?;
            }
            samples.push(started.elapsed());
        }
        Ok(Latency::of(&mut samples))
    }
}

/// Synthetic embeddings: unit vectors scattered around a fixed set of
/// centroids (topics of skewed sizes, as in a real library), so the nearest
/// neighbours of a query are a topic's members and not an arbitrary slice of
/// a uniform cloud. A chunk's vector is a pure function of its hash and the
/// seed, whatever order chunks are handed out in.
#[derive(Debug, Clone)]
pub struct SyntheticVectors {
    dims: usize,
    seed: u64,
    centroids: Vec<Vec<f32>>,
}

/// How far members stray from their centroid: with noise of this length two
/// members of a topic have a cosine of about 1 / (1 + 0.6²) ≈ 0.74, members
/// of different topics about 0.
const TOPIC_SPREAD: f32 = 0.6;

impl SyntheticVectors {
    /// Vectors of `dims` dimensions around `topics` centroids.
    pub fn new(dims: usize, topics: usize, seed: u64) -> SyntheticVectors {
        let mut rng = Rng::new(seed ^ 0x5eed_0f70_91c5);
        let centroids = (0..topics.max(1))
            .map(|_| unit((0..dims).map(|_| gaussian(&mut rng)).collect()))
            .collect();
        SyntheticVectors {
            dims,
            seed,
            centroids,
        }
    }

    /// Width of the vectors.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Topics the vectors cluster around.
    pub fn topics(&self) -> usize {
        self.centroids.len()
    }

    /// The vector of the chunk whose hash is `chunk_hash`.
    pub fn chunk(&self, chunk_hash: &str) -> Vec<f32> {
        let mut key = self.seed;
        for b in chunk_hash.bytes() {
            key = key.rotate_left(5) ^ u64::from(b);
            key = key.wrapping_mul(0x100_0000_01b3);
        }
        self.around_a_topic(&mut Rng::new(key))
    }

    /// The `i`-th query vector: near a topic, like a question about it.
    pub fn query(&self, i: usize) -> Vec<f32> {
        self.around_a_topic(&mut Rng::new(self.seed.rotate_left(29) ^ i as u64))
    }

    fn around_a_topic(&self, rng: &mut Rng) -> Vec<f32> {
        // Topic sizes fall off like 1/√rank: the first few are large.
        let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
        let topic = ((self.centroids.len() as f64) * u * u) as usize % self.centroids.len();
        let centroid = &self.centroids[topic];
        let scale = TOPIC_SPREAD / (self.dims.max(1) as f32).sqrt();
        unit(centroid.iter().map(|c| c + scale * gaussian(rng)).collect())
    }
}

/// A standard normal draw (Box–Muller).
fn gaussian(rng: &mut Rng) -> f32 {
    let u1 = ((rng.next() >> 11) as f64 + 1.0) / ((1u64 << 53) as f64 + 1.0);
    let u2 = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

/// `v` scaled to unit length (unchanged when zero).
fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// Loading one model's vectors from the store into the searched matrix.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VectorLoad {
    /// Vectors loaded.
    pub rows: usize,
    /// Their width.
    pub dims: usize,
    /// Time to read and quantise them.
    pub time: Duration,
    /// Memory the matrix holds.
    pub memory_bytes: usize,
}

/// Times loading `model`'s vectors of `library` as the first hybrid search
/// after a change does (the search's own cache is left alone).
///
/// # Errors
///
/// Vector store errors.
pub fn vector_load(library: &crate::Library, model: &str) -> Result<VectorLoad> {
    let started = Instant::now();
    let matrix = crate::vectors::VectorStore::open(library.dir(), library.db_key())?.load(model)?;
    let time = started.elapsed();
    Ok(matrix.map_or_else(VectorLoad::default, |m| VectorLoad {
        rows: m.len(),
        dims: m.dims(),
        time,
        memory_bytes: m.memory_bytes(),
    }))
}

/// Latency of the exact nearest-vector scan alone (as many nearest of each
/// query among all of `model`'s vectors as a hybrid search takes), without
/// BM25 or fetching hits.
///
/// # Errors
///
/// Vector store errors.
pub fn dense_scan_latency(
    library: &crate::Library,
    model: &str,
    queries: &[Vec<f32>],
) -> Result<Latency> {
    let k = crate::search::DENSE_CANDIDATES;
    let Some(matrix) = library.vector_matrix(model)? else {
        return Ok(Latency::default());
    };
    let mut samples = Vec::with_capacity(queries.len());
    for query in queries {
        let started = Instant::now();
        std::hint::black_box(matrix.nearest(query, k));
        samples.push(started.elapsed());
    }
    Ok(Latency::of(&mut samples))
}

/// PDF text extraction speed over `files`, repeated until at least `min_time`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PdfSpeed {
    /// Pages extracted.
    pub pages: u64,
    /// Time taken.
    pub elapsed: Duration,
    /// Files that failed to parse.
    pub failed: usize,
}

/// Measures our PDF extraction (the same parser ingestion uses).
///
/// # Errors
///
/// Unreadable files.
pub fn pdf_speed(files: &[PathBuf], min_time: Duration) -> Result<PdfSpeed> {
    let limits = Limits::default();
    let loaded: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|f| {
            let bytes = std::fs::read(f).map_err(|e| Error::io(f, e))?;
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok((name, bytes))
        })
        .collect::<Result<_>>()?;
    let mut speed = PdfSpeed::default();
    if loaded.is_empty() {
        return Ok(speed);
    }
    let started = Instant::now();
    while started.elapsed() < min_time {
        for (name, bytes) in &loaded {
            match parse_bytes(name, bytes, &limits) {
                Ok(doc) => speed.pages += doc.pages.len() as u64,
                Err(_) => speed.failed += 1,
            }
        }
    }
    speed.elapsed = started.elapsed();
    Ok(speed)
}

/// Total size of the files under `dir`.
pub fn dir_size(dir: &Path) -> u64 {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(std::result::Result::ok)
        .filter_map(|e| e.metadata().ok())
        .filter(std::fs::Metadata::is_file)
        .map(|m| m.len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_corpus_is_reproducible_and_its_phrases_occur_in_it()
    -> std::result::Result<(), Box<dyn std::error::Error>> {
        let a = tempfile::tempdir()?;
        let b = tempfile::tempdir()?;
        let one = generate_corpus(a.path(), 200_000, 7)?;
        let two = generate_corpus(b.path(), 200_000, 7)?;
        assert_eq!(one.files.len(), two.files.len());
        assert_eq!(std::fs::read(&one.files[3])?, std::fs::read(&two.files[3])?);
        let all: String = one
            .files
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap_or_default())
            .collect();
        assert!(all.chars().any(|c| ('가'..='힣').contains(&c)));
        assert!(all.chars().any(|c| c.is_ascii_lowercase()));
        let queries = generated_queries(&one, 20);
        assert_eq!(queries.phrase.len(), 20);
        for phrase in &queries.phrase {
            assert!(all.contains(phrase.trim_matches('"')), "{phrase}");
        }
        Ok(())
    }

    #[test]
    fn synthetic_vectors_are_unit_reproducible_and_clustered() {
        let a = SyntheticVectors::new(64, 16, 3);
        let b = SyntheticVectors::new(64, 16, 3);
        let v = a.chunk("0123abcd");
        assert_eq!(v, b.chunk("0123abcd"));
        assert_eq!(v.len(), 64);
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
        assert_ne!(v, a.chunk("0123abce"));
        // Neighbours are a topic's members: some pairs are close, most are not.
        let rows: Vec<Vec<f32>> = (0..200).map(|i| a.chunk(&format!("{i:x}"))).collect();
        let cos = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f32>();
        let close = rows[1..].iter().filter(|r| cos(&rows[0], r) > 0.5).count();
        assert!(
            close > 0 && close < 150,
            "{close} of 199 close to the first"
        );
        assert_eq!(a.query(5), b.query(5));
        assert_ne!(a.query(5), a.query(6));
    }

    #[test]
    fn raw_tantivy_baseline_finds_what_it_indexed()
    -> std::result::Result<(), Box<dyn std::error::Error>> {
        let corpus_dir = tempfile::tempdir()?;
        let index_dir = tempfile::tempdir()?;
        let corpus = generate_corpus(corpus_dir.path(), 50_000, 1)?;
        let raw = RawTantivy::build(&corpus.files, index_dir.path(), 1500)?;
        assert!(raw.docs > corpus.files.len() as u64);
        let latency = raw.latency(&generated_queries(&corpus, 5).multi_word)?;
        assert!(latency.p95 >= latency.p50);
        Ok(())
    }
}
