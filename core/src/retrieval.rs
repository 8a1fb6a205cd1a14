//! Hybrid retrieval: which embedding model is active, embedding the library's
//! chunks in the background, and embedding each query so that search fuses
//! BM25 with the nearest chunk vectors.
//!
//! Vectors are stored under the embedding model's SHA-256, so renaming a
//! model keeps its vectors and switching models never mixes two spaces; the
//! chunks of the new model are embedded in the background while search
//! stays lexical-only for chunks that have no vector yet.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sillok_index::{DenseQuery, EmbeddingCache, EmbeddingCoverage, Library, SearchRequest};
use sillok_models::{CancelToken, Embedder, EngineOptions, ModelEntry, Role};

use crate::{Error, Result, Sillok};

/// Chunks embedded per engine call and per store transaction.
pub(crate) const EMBED_BATCH: usize = 32;

/// The evaluation cache's file in `<data>/cache/`: vectors of evaluation
/// corpora by model and exact input ([`EmbeddingCache`]), shared by every set.
pub const EVAL_VECTORS_FILE: &str = "eval-vectors.sqlite";

/// What a model wants in front of queries and passages. The E5 family was
/// trained with `query: ` / `passage: ` and ranks worse without them; other
/// models (MiniLM, …) take the text as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddingStyle {
    /// Put before a query.
    pub query_prefix: &'static str,
    /// Put before a chunk.
    pub passage_prefix: &'static str,
}

impl EmbeddingStyle {
    /// The style a catalogued embedding model needs, from its names.
    pub fn of(entry: &ModelEntry) -> EmbeddingStyle {
        let names = [
            Some(entry.name.as_str()),
            entry.info.display_name.as_deref(),
        ];
        let is_e5 = names.into_iter().flatten().any(|n| {
            let n = n.to_ascii_lowercase();
            n.contains("e5-") || n.contains("-e5") || n.starts_with("e5")
        });
        if is_e5 {
            EmbeddingStyle {
                query_prefix: "query: ",
                passage_prefix: "passage: ",
            }
        } else {
            EmbeddingStyle {
                query_prefix: "",
                passage_prefix: "",
            }
        }
    }

    /// The text embedded for a chunk: its title and headings give the
    /// chunk's context, as BEIR-style dense retrievers are trained to see.
    pub fn passage(&self, title: &str, headings: &str, text: &str) -> String {
        let mut out = String::from(self.passage_prefix);
        // Trailing whitespace would end in a lone "▁" piece under
        // SentencePiece vocabularies and shift the vector.
        for context in [title.trim(), headings.trim()] {
            if !context.is_empty() {
                out.push_str(context);
                out.push('\n');
            }
        }
        out.push_str(text.trim());
        out
    }
}

/// Progress of [`Sillok::embed_library`] (and of the corpus of a hybrid
/// evaluation, [`Sillok::eval_retrieval`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbedProgress {
    /// Chunks embedded by the model in this run so far.
    pub done: usize,
    /// Chunks whose vectors were found in the evaluation cache instead, so
    /// far (always 0 for the library).
    pub cached: usize,
    /// Chunks this run has to give vectors (embedded or cached).
    pub pending: usize,
    /// Distinct chunks in the library.
    pub total: usize,
}

/// What [`Sillok::embed_library`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbedReport {
    /// The embedding model's catalogue name.
    pub model: String,
    /// Chunks embedded.
    pub embedded: usize,
    /// Chunks whose vectors came from the evaluation cache.
    pub cached: usize,
    /// Chunks that were already embedded.
    pub already: usize,
    /// Whether the run stopped early on request.
    pub cancelled: bool,
    /// Time spent.
    pub elapsed: Duration,
}

/// The loaded embedding model, kept between queries and shared by the
/// handles [`Sillok::reopen`] makes.
#[derive(Debug, Default, Clone)]
pub(crate) struct EmbedderSlot(Arc<Mutex<Option<Arc<Embedder>>>>);

impl Sillok {
    /// The embedding model hybrid search uses: the one chosen in settings,
    /// else the catalogue's default embedding model; `None` when there is none.
    ///
    /// # Errors
    ///
    /// Settings or catalogue errors (a chosen model that is not catalogued).
    pub fn active_embedding_model(&self) -> Result<Option<ModelEntry>> {
        let chosen = self.settings()?.embedding_model;
        match chosen {
            Some(name) => Ok(Some(
                self.catalogue()
                    .resolve(Some(&name), Role::Embedding)?
                    .clone(),
            )),
            None => Ok(self
                .catalogue()
                .default_for(Role::Embedding)
                .and_then(|name| self.catalogue().get(name).ok())
                .cloned()),
        }
    }

    /// The active embedding model, loaded once and kept.
    fn embedder(&self, entry: &ModelEntry) -> Result<Arc<Embedder>> {
        let mut slot = self
            .embedder
            .0
            .lock()
            .map_err(|_| Error::Poisoned("embedder"))?;
        if let Some(embedder) = slot.as_ref()
            && embedder.entry().sha256 == entry.sha256
        {
            return Ok(Arc::clone(embedder));
        }
        let options = EngineOptions {
            threads: self.settings()?.threads,
            ..EngineOptions::default()
        };
        let loaded = Arc::new(Embedder::load(
            &self.catalogue().path_of(entry),
            entry,
            &options,
        )?);
        *slot = Some(Arc::clone(&loaded));
        Ok(loaded)
    }

    /// How far the active embedding model's vectors cover the library.
    ///
    /// # Errors
    ///
    /// Settings, catalogue or index errors.
    pub fn embedding_coverage(&self) -> Result<Option<(ModelEntry, EmbeddingCoverage)>> {
        let Some(entry) = self.active_embedding_model()? else {
            return Ok(None);
        };
        let coverage = self.library()?.embedding_coverage(&entry.sha256)?;
        Ok(Some((entry, coverage)))
    }

    /// Embeds every chunk that has no vector for the active embedding model,
    /// a batch at a time, waiting while interactive work (a search, an
    /// answer) runs, until done or `cancel` is set. Returns `None` when no
    /// embedding model is active.
    ///
    /// # Errors
    ///
    /// Model, engine or index errors; vectors stored before the error stay.
    pub fn embed_library(
        &self,
        cancel: &CancelToken,
        progress: &mut dyn FnMut(EmbedProgress),
    ) -> Result<Option<EmbedReport>> {
        let Some(entry) = self.active_embedding_model()? else {
            return Ok(None);
        };
        self.embed_chunks(&self.library()?, &entry, None, cancel, progress)
            .map(Some)
    }

    /// Embeds the chunks of `library` that have no vector from `entry`, a
    /// batch at a time, each batch stored in one transaction. With a
    /// `cache`, vectors it holds are copied instead of embedded and new ones
    /// are kept in it too (before the library gets them), so a run killed at
    /// any point loses at most the batch in flight. The model is loaded only
    /// once a chunk needs it.
    pub(crate) fn embed_chunks(
        &self,
        library: &Library,
        entry: &ModelEntry,
        mut cache: Option<&mut EmbeddingCache>,
        cancel: &CancelToken,
        progress: &mut dyn FnMut(EmbedProgress),
    ) -> Result<EmbedReport> {
        let started = Instant::now();
        let mut pending = library.pending_embeddings(&entry.sha256)?;
        let mut report = EmbedReport {
            model: entry.name.clone(),
            embedded: 0,
            cached: 0,
            already: pending.total - pending.pending(),
            cancelled: false,
            elapsed: Duration::ZERO,
        };
        let style = EmbeddingStyle::of(entry);
        let mut embedder = None;
        while pending.handed_out() < pending.pending() {
            if cancel.is_cancelled() {
                report.cancelled = true;
                break;
            }
            self.foreground.wait_until_idle();
            let batch = pending.next_batch(EMBED_BATCH)?;
            let texts: Vec<String> = batch
                .iter()
                .map(|c| style.passage(&c.title, &c.headings, &c.text))
                .collect();
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let mut vectors = match cache.as_deref() {
                Some(cache) => cache.get(&entry.sha256, &refs)?,
                None => vec![None; refs.len()],
            };
            let missing: Vec<usize> = (0..refs.len()).filter(|&i| vectors[i].is_none()).collect();
            let cached = refs.len() - missing.len();
            if !missing.is_empty() {
                let embedder = match &embedder {
                    Some(loaded) => Arc::clone(loaded),
                    None => Arc::clone(embedder.insert(self.embedder(entry)?)),
                };
                let inputs: Vec<&str> = missing.iter().map(|&i| refs[i]).collect();
                let fresh = embedder.embed(&inputs)?;
                if let Some(cache) = cache.as_deref_mut() {
                    let keep: Vec<(&str, &[f32])> = inputs
                        .iter()
                        .zip(&fresh)
                        .map(|(input, vector)| (*input, vector.as_slice()))
                        .collect();
                    cache.put(&entry.sha256, &keep)?;
                }
                for (i, vector) in missing.iter().zip(fresh) {
                    vectors[*i] = Some(vector);
                    report.embedded += 1;
                }
            }
            let keyed: Vec<(String, Vec<f32>)> = batch
                .into_iter()
                .zip(vectors)
                .filter_map(|(chunk, vector)| Some((chunk.chunk_hash, vector?)))
                .collect();
            library.store_embeddings(&entry.sha256, &keyed)?;
            report.cached += cached;
            progress(EmbedProgress {
                done: report.embedded,
                cached: report.cached,
                pending: pending.pending(),
                total: pending.total,
            });
        }
        report.elapsed = started.elapsed();
        Ok(report)
    }

    /// The evaluation cache when it can be opened; else `None`, with a
    /// warning: it only saves work (vectors of public evaluation corpora),
    /// so a locked vault or a cache under a lost key costs time, not the run.
    pub(crate) fn eval_vector_cache_if_open(&self) -> Option<EmbeddingCache> {
        match self.eval_vector_cache() {
            Ok(cache) => Some(cache),
            Err(e) => {
                tracing::warn!(error = %e, "the evaluation vector cache cannot be opened; vectors are computed without it");
                None
            }
        }
    }

    /// The evaluation cache, created on first use, encrypted under the
    /// vault's `eval-vectors` subkey.
    pub(crate) fn eval_vector_cache(&self) -> Result<EmbeddingCache> {
        let dir = self.data_dir().cache();
        std::fs::create_dir_all(&dir).map_err(|source| Error::DataDir {
            path: dir.clone(),
            source,
        })?;
        let keys = self.store_keys()?;
        Ok(EmbeddingCache::open(
            &self.eval_vectors_path(),
            Some(&keys.eval_vectors),
        )?)
    }

    /// Another handle on this data directory whose embedding model is
    /// `embedder`, already loaded (a benchmark chooses its threads).
    ///
    /// # Errors
    ///
    /// Catalogue errors.
    pub(crate) fn with_embedder(&self, embedder: Embedder) -> Result<Sillok> {
        let mut handle = self.reopen()?;
        handle.embedder = EmbedderSlot(Arc::new(Mutex::new(Some(Arc::new(embedder)))));
        Ok(handle)
    }

    /// `request` with the query embedded by the active embedding model, when
    /// one is active and has embedded at least part of the library; else
    /// unchanged (BM25 alone).
    ///
    /// # Errors
    ///
    /// Model or engine errors while embedding the query.
    pub(crate) fn with_dense_query(&self, request: &SearchRequest) -> Result<SearchRequest> {
        let mut request = request.clone();
        if request.dense.is_some() || !self.settings()?.hybrid_search.unwrap_or(true) {
            return Ok(request);
        }
        let Some(entry) = self.active_embedding_model()? else {
            return Ok(request);
        };
        if !self.library()?.has_embeddings(&entry.sha256)? {
            return Ok(request);
        }
        request.dense = self.dense_query(&entry, &request.query)?;
        Ok(request)
    }

    /// `query` embedded by `entry`.
    pub(crate) fn dense_query(
        &self,
        entry: &ModelEntry,
        query: &str,
    ) -> Result<Option<DenseQuery>> {
        let embedder = self.embedder(entry)?;
        let style = EmbeddingStyle::of(entry);
        let text = format!("{}{}", style.query_prefix, query.trim());
        let vector = embedder.embed(&[text.as_str()])?.into_iter().next();
        Ok(vector.map(|vector| DenseQuery {
            model: entry.sha256.clone(),
            vector,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DataDir;
    use std::path::{Path, PathBuf};

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    const TOPICS: [&str; 8] = [
        "High blood pressure is treated first with an ACE inhibitor or a thiazide.",
        "Type 2 diabetes is managed with metformin, diet and exercise.",
        "Asthma attacks are relieved with an inhaled short-acting beta agonist.",
        "A fractured wrist is immobilised in a cast for six weeks.",
        "Migraine headaches may be prevented with propranolol.",
        "Iron deficiency anaemia is corrected with oral iron tablets.",
        "Community-acquired pneumonia is treated with amoxicillin.",
        "Hypothyroidism is replaced with daily levothyroxine.",
    ];

    /// A BEIR-layout set of 40 notes (five per topic, all distinct: more
    /// than one embedding batch) and one judged query per topic.
    fn write_set(dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir.join("qrels"))?;
        let mut corpus = String::new();
        let mut qrels = String::from("query-id\tcorpus-id\tscore\n");
        for i in 0..40 {
            let topic = TOPICS[i % TOPICS.len()];
            let line = serde_json::json!({
                "_id": format!("d{i}"),
                "title": format!("Clinic note {i}"),
                "text": format!("{topic} Review in {} weeks.", i + 1),
            });
            corpus.push_str(&format!("{line}\n"));
            qrels.push_str(&format!("q{}\td{i}\t1\n", i % TOPICS.len()));
        }
        let questions = [
            "what is the first drug for hypertension",
            "how is diabetes managed",
            "what relieves an asthma attack",
            "how long does a broken wrist stay in plaster",
            "can migraines be prevented",
            "how is anaemia from low iron treated",
            "which antibiotic for pneumonia",
            "what replaces thyroid hormone",
        ];
        let mut queries = String::new();
        for (i, q) in questions.iter().enumerate() {
            let line = serde_json::json!({ "_id": format!("q{i}"), "text": q });
            queries.push_str(&format!("{line}\n"));
        }
        std::fs::write(dir.join("corpus.jsonl"), corpus)?;
        std::fs::write(dir.join("queries.jsonl"), queries)?;
        std::fs::write(dir.join("qrels/test.tsv"), qrels)
    }

    /// The fetched model files (`SILLOK_MODEL_FILES`, else the set-up
    /// script's cache).
    fn model_files() -> PathBuf {
        std::env::var_os("SILLOK_MODEL_FILES")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/sillok/model-files"))
            })
            .unwrap_or_default()
    }

    #[test]
    fn a_hybrid_evaluation_resumes_and_a_repeated_one_embeds_nothing() -> TestResult {
        let dir = tempfile::tempdir()?;
        let mut sillok = Sillok::open(DataDir::at(dir.path().join("data")))?;
        crate::library::install_test_tokenizer(&sillok)?;
        sillok.import_model(
            &model_files().join("multilingual-e5-small.gguf"),
            None,
            &mut |_, _| {},
        )?;
        let set = dir.path().join("set");
        write_set(&set)?;
        let run = |cancel_after_first_batch: bool| {
            let cancel = CancelToken::default();
            let stop = cancel.clone();
            let mut seen = Vec::new();
            let report = sillok.eval_retrieval(&set, None, true, &cancel, &mut |p| {
                seen.push((p.done, p.cached, p.pending));
                if cancel_after_first_batch {
                    stop.cancel();
                }
            });
            (report, seen)
        };

        // Cancelled after the first batch: that batch is kept.
        let (report, seen) = run(true);
        assert!(matches!(report, Err(Error::Cancelled)), "{report:?}");
        assert_eq!(seen, [(EMBED_BATCH, 0, 40)]);
        // Nothing is left in the scratch folder.
        let tmp = sillok.data_dir().root().join("tmp");
        assert_eq!(std::fs::read_dir(&tmp)?.count(), 0);

        // Resumed: the first batch comes from the cache, the rest is embedded.
        let (report, seen) = run(false);
        let resumed = report?;
        assert_eq!(seen.last(), Some(&(40 - EMBED_BATCH, EMBED_BATCH, 40)));
        assert_eq!(resumed.queries, 8);
        assert!(resumed.ndcg_at_10 > 0.5, "{resumed:?}");

        // Repeated: every vector from the cache, the same figures.
        let (report, seen) = run(false);
        let repeated = report?;
        assert_eq!(seen.last(), Some(&(0, 40, 40)));
        assert_eq!(
            (
                repeated.ndcg_at_10,
                repeated.recall_at_10,
                repeated.mrr_at_10
            ),
            (resumed.ndcg_at_10, resumed.recall_at_10, resumed.mrr_at_10)
        );
        let model = sillok.active_embedding_model()?.ok_or("no model")?;
        assert_eq!(sillok.eval_vector_cache()?.count(&model.sha256)?, 40);
        Ok(())
    }

    #[test]
    fn passages_carry_their_context_and_the_models_prefix() {
        let e5 = EmbeddingStyle {
            query_prefix: "query: ",
            passage_prefix: "passage: ",
        };
        assert_eq!(
            e5.passage("Guide", "Dosing > Adults", "Give 5 mg."),
            "passage: Guide\nDosing > Adults\nGive 5 mg."
        );
        let plain = EmbeddingStyle {
            query_prefix: "",
            passage_prefix: "",
        };
        assert_eq!(plain.passage("", "", "text"), "text");
    }
}
