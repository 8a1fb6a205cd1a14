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

use sillok_index::{DenseQuery, EmbeddingCoverage, Library, SearchRequest};
use sillok_models::{CancelToken, Embedder, EngineOptions, ModelEntry, Role};

use crate::{Error, Result, Sillok};

/// Chunks embedded per engine call and per store transaction.
const EMBED_BATCH: usize = 32;

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

/// Progress of [`Sillok::embed_library`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbedProgress {
    /// Chunks embedded in this run so far.
    pub done: usize,
    /// Chunks this run has to embed.
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
        self.embed_chunks(&self.library()?, &entry, cancel, progress)
            .map(Some)
    }

    /// Embeds the chunks of `library` that have no vector from `entry`.
    pub(crate) fn embed_chunks(
        &self,
        library: &Library,
        entry: &ModelEntry,
        cancel: &CancelToken,
        progress: &mut dyn FnMut(EmbedProgress),
    ) -> Result<EmbedReport> {
        let started = Instant::now();
        let mut pending = library.pending_embeddings(&entry.sha256)?;
        let mut report = EmbedReport {
            model: entry.name.clone(),
            embedded: 0,
            already: pending.total - pending.pending(),
            cancelled: false,
            elapsed: Duration::ZERO,
        };
        if pending.pending() > 0 {
            let embedder = self.embedder(entry)?;
            let style = EmbeddingStyle::of(entry);
            loop {
                if cancel.is_cancelled() {
                    report.cancelled = true;
                    break;
                }
                self.foreground.wait_until_idle();
                let batch = pending.next_batch(EMBED_BATCH)?;
                if batch.is_empty() {
                    break;
                }
                let texts: Vec<String> = batch
                    .iter()
                    .map(|c| style.passage(&c.title, &c.headings, &c.text))
                    .collect();
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                let vectors = embedder.embed(&refs)?;
                let keyed: Vec<(String, Vec<f32>)> = batch
                    .into_iter()
                    .map(|c| c.chunk_hash)
                    .zip(vectors)
                    .collect();
                library.store_embeddings(&entry.sha256, &keyed)?;
                report.embedded += keyed.len();
                progress(EmbedProgress {
                    done: report.embedded,
                    pending: pending.pending(),
                    total: pending.total,
                });
            }
        }
        report.elapsed = started.elapsed();
        Ok(report)
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
