//! Retrieval evaluation on BEIR-layout sets (`corpus.jsonl`, `queries.jsonl`,
//! `qrels/test.tsv`): nDCG@10, Recall@10/100, MRR@10 and query latency,
//! measured on a throwaway library built with the product's own pipeline.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::library::IngestSettings;
use crate::parse::{Block, BlockKind, DocKind, ParsedDocument, ParsedPage};
use crate::{Error, Library, Result, SearchRequest, TokenCounter};

/// The evaluation's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalReport {
    /// Documents indexed.
    pub documents: usize,
    /// Chunks indexed.
    pub chunks: u64,
    /// Queries evaluated.
    pub queries: usize,
    /// Mean nDCG@10 (linear gains).
    pub ndcg_at_10: f64,
    /// Mean Recall@10.
    pub recall_at_10: f64,
    /// Mean Recall@100.
    pub recall_at_100: f64,
    /// Mean reciprocal rank of the first relevant document in the top 10.
    pub mrr_at_10: f64,
    /// Median query latency.
    pub latency_p50: Duration,
    /// 95th percentile query latency.
    pub latency_p95: Duration,
    /// Time to build the index.
    pub index_time: Duration,
}

#[derive(serde::Deserialize)]
struct CorpusLine {
    #[serde(rename = "_id")]
    id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    text: String,
}

#[derive(serde::Deserialize)]
struct QueryLine {
    #[serde(rename = "_id")]
    id: String,
    text: String,
    #[serde(default)]
    exclude: Option<serde_json::Value>,
}

const COLLECTION: &str = "eval";

/// Builds a library from the set in `set_dir` (inside `work_dir`) and scores
/// the queries that have judgements (the first `max_queries` of them, in
/// file order) with BM25.
///
/// # Errors
///
/// Unreadable or malformed set files; index failures.
pub fn eval_retrieval(
    set_dir: &Path,
    work_dir: &Path,
    counter: TokenCounter,
    max_queries: Option<usize>,
) -> Result<EvalReport> {
    EvalSet::build(set_dir, work_dir, counter)?.score(max_queries, &mut |library, request| {
        library.search(&request)
    })
}

/// A BEIR set indexed into a throwaway library, ready to be scored by any
/// search function (BM25 here; the core adds query vectors for hybrid).
#[derive(Debug)]
pub struct EvalSet {
    set_dir: std::path::PathBuf,
    library: Library,
    qrels: HashMap<String, HashMap<String, u32>>,
    documents: usize,
    index_time: Duration,
}

/// A search function under evaluation.
pub type SearchFn<'a> = dyn FnMut(&Library, SearchRequest) -> Result<crate::SearchResults> + 'a;

impl EvalSet {
    /// Indexes the set's corpus into a library in `work_dir`.
    ///
    /// # Errors
    ///
    /// Unreadable or malformed set files; index failures.
    pub fn build(set_dir: &Path, work_dir: &Path, counter: TokenCounter) -> Result<EvalSet> {
        let (library, qrels, documents, index_time) = build_library(set_dir, work_dir, counter)?;
        Ok(EvalSet {
            set_dir: set_dir.to_owned(),
            library,
            qrels,
            documents,
            index_time,
        })
    }

    /// The library the corpus was indexed into.
    pub fn library(&self) -> &Library {
        &self.library
    }

    /// Scores the first `max_queries` judged queries with `search`; the
    /// latency measured is that of `search` as a whole.
    ///
    /// # Errors
    ///
    /// Unreadable queries; `search`'s errors.
    pub fn score(
        &self,
        max_queries: Option<usize>,
        search: &mut SearchFn<'_>,
    ) -> Result<EvalReport> {
        score_queries(self, max_queries, search)
    }
}

type Qrels = HashMap<String, HashMap<String, u32>>;

fn build_library(
    set_dir: &Path,
    work_dir: &Path,
    counter: TokenCounter,
) -> Result<(Library, Qrels, usize, Duration)> {
    let qrels = read_qrels(&set_dir.join("qrels/test.tsv"))?;
    let library = Library::open(work_dir)?;
    let started = Instant::now();
    let mut documents = 0;
    {
        let mut writer = library.writer(counter, IngestSettings::default())?;
        for line in lines(&set_dir.join("corpus.jsonl"))? {
            let doc: CorpusLine = serde_json::from_str(&line).map_err(|e| bad_set(set_dir, e))?;
            let parsed = ParsedDocument {
                kind: DocKind::Text,
                title: (!doc.title.is_empty()).then(|| doc.title.clone()),
                pages: vec![ParsedPage::new(
                    1,
                    doc.text
                        .split("\n\n")
                        .filter(|p| !p.trim().is_empty())
                        .map(|p| Block {
                            kind: BlockKind::Paragraph,
                            text: p.to_owned(),
                        })
                        .collect(),
                )],
            };
            writer.index_parsed(COLLECTION, &doc.id, &doc.id, 0, &parsed)?;
            documents += 1;
            if documents % 5000 == 0 {
                writer.commit_now()?;
            }
        }
        writer.commit_now()?;
    }
    library.reload()?;
    Ok((library, qrels, documents, started.elapsed()))
}

fn score_queries(
    set: &EvalSet,
    max_queries: Option<usize>,
    search: &mut SearchFn<'_>,
) -> Result<EvalReport> {
    let set_dir = set.set_dir.as_path();
    let mut totals = [0.0f64; 4];
    let mut latencies = Vec::new();
    let mut chunks = 0;
    for line in lines(&set_dir.join("queries.jsonl"))? {
        if max_queries.is_some_and(|max| latencies.len() >= max) {
            break;
        }
        let query: QueryLine = serde_json::from_str(&line).map_err(|e| bad_set(set_dir, e))?;
        let Some(relevant) = set.qrels.get(&query.id) else {
            continue;
        };
        let exclude: HashSet<String> = match &query.exclude {
            Some(serde_json::Value::String(id)) => HashSet::from([id.clone()]),
            Some(serde_json::Value::Array(ids)) => ids
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => HashSet::new(),
        };
        let request = SearchRequest {
            query: query.text.clone(),
            limit: 300,
            ..SearchRequest::default()
        };
        let t = Instant::now();
        let results = search(&set.library, request)?;
        latencies.push(t.elapsed());
        chunks = results.chunks_searched;
        let mut seen = HashSet::new();
        let ranked: Vec<&str> = results
            .hits
            .iter()
            .map(|h| h.path.as_str())
            .filter(|id| !exclude.contains(*id) && seen.insert(*id))
            .take(100)
            .collect();
        let scores = score(&ranked, relevant);
        for (total, value) in totals.iter_mut().zip(scores) {
            *total += value;
        }
    }
    let n = latencies.len().max(1) as f64;
    let latency = crate::bench::Latency::of(&mut latencies);
    Ok(EvalReport {
        documents: set.documents,
        chunks,
        queries: latencies.len(),
        ndcg_at_10: totals[0] / n,
        recall_at_10: totals[1] / n,
        recall_at_100: totals[2] / n,
        mrr_at_10: totals[3] / n,
        latency_p50: latency.p50,
        latency_p95: latency.p95,
        index_time: set.index_time,
    })
}

/// nDCG@10, Recall@10, Recall@100, MRR@10 of one ranking.
fn score(ranked: &[&str], relevant: &HashMap<String, u32>) -> [f64; 4] {
    let gain = |id: &str| f64::from(relevant.get(id).copied().unwrap_or(0));
    let dcg: f64 = ranked
        .iter()
        .take(10)
        .enumerate()
        .map(|(i, id)| gain(id) / (i as f64 + 2.0).log2())
        .sum();
    let mut ideal: Vec<f64> = relevant.values().map(|g| f64::from(*g)).collect();
    ideal.sort_by(|a, b| b.total_cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(10)
        .enumerate()
        .map(|(i, g)| g / (i as f64 + 2.0).log2())
        .sum();
    let n_relevant = relevant.values().filter(|g| **g > 0).count().max(1) as f64;
    let found = |k: usize| ranked.iter().take(k).filter(|id| gain(id) > 0.0).count() as f64;
    let mrr = ranked
        .iter()
        .take(10)
        .position(|id| gain(id) > 0.0)
        .map_or(0.0, |i| 1.0 / (i as f64 + 1.0));
    [
        if idcg > 0.0 { dcg / idcg } else { 0.0 },
        found(10) / n_relevant,
        found(100) / n_relevant,
        mrr,
    ]
}

fn read_qrels(path: &Path) -> Result<HashMap<String, HashMap<String, u32>>> {
    let mut qrels: HashMap<String, HashMap<String, u32>> = HashMap::new();
    for line in lines(path)?.into_iter().skip(1) {
        let mut cols = line.split('\t');
        let (Some(q), Some(d), Some(g)) = (cols.next(), cols.next(), cols.next()) else {
            continue;
        };
        let grade: u32 = g.trim().parse().unwrap_or(0);
        if grade > 0 {
            qrels
                .entry(q.to_owned())
                .or_default()
                .insert(d.to_owned(), grade);
        }
    }
    Ok(qrels)
}

fn lines(path: &Path) -> Result<Vec<String>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    BufReader::new(file)
        .lines()
        .filter(|l| l.as_ref().map_or(true, |l| !l.trim().is_empty()))
        .collect::<std::io::Result<_>>()
        .map_err(|e| Error::io(path, e))
}

fn bad_set(dir: &Path, e: serde_json::Error) -> Error {
    Error::io(dir, std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_match_hand_computed_values() {
        let relevant: HashMap<String, u32> = [("a".to_owned(), 1), ("b".to_owned(), 2)].into();
        // b at rank 1, a at rank 3: DCG = 2/log2(2) + 1/log2(4) = 2.5; IDCG = 2 + 1/log2(3).
        let [ndcg, r10, r100, mrr] = score(&["b", "x", "a"], &relevant);
        assert!((ndcg - 2.5 / (2.0 + 1.0 / 3f64.log2())).abs() < 1e-9);
        assert!((r10 - 1.0).abs() < 1e-9 && (r100 - 1.0).abs() < 1e-9);
        assert!((mrr - 1.0).abs() < 1e-9);
        let [ndcg, r10, _, mrr] = score(&["x", "y"], &relevant);
        assert_eq!((ndcg, r10, mrr), (0.0, 0.0, 0.0));
    }
}
