//! Building blocks of `sillok bench index`: a generated Korean/English corpus,
//! query sets drawn from it, and a plain tantivy index of the same text as the
//! baseline our pipeline is compared with. Nothing here is asserted; the
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
