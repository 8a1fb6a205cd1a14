//! Sillok's document library — the only crate that touches tantivy.
//!
//! It owns turning folders of documents into a searchable index where every
//! hit knows where it came from: parsing behind one [`parse::Parser`] trait,
//! chunking with page/span provenance ([`chunk`]), Korean + English analysis
//! ([`analysis`]), the ingestion journal ([`journal`]) that makes ingestion
//! resumable after a crash, the one-writer lock, and BM25 search. It knows
//! nothing of models or the UI.
//!
//! ```no_run
//! # fn main() -> sillok_index::Result<()> {
//! use sillok_index::{Library, SearchRequest};
//! let library = Library::open(std::path::Path::new("/tmp/sillok/indexes/library"))?;
//! let results = library.search(&SearchRequest { query: "혈압 목표".into(), limit: 5, ..Default::default() })?;
//! for hit in results.hits {
//!     println!("{} p.{} {}", hit.path, hit.page, hit.snippet);
//! }
//! # Ok(())
//! # }
//! ```

pub mod analysis;
pub mod bench;
pub mod chunk;
mod coverage;
mod damaged;
mod disk;
mod error;
pub mod eval;
mod foreground;
pub mod journal;
mod library;
mod lock;
pub mod migrate;
pub mod ocr;
pub mod parse;
mod prepare;
mod schema;
pub mod sealed;
mod search;
pub mod sqlite;
mod timeline;
mod vectors;
pub mod watch;

pub use chunk::{Chunk, ChunkConfig, Language, TokenCounter};
pub use error::{Error, Result};
pub use eval::{EvalReport, EvalSet, eval_retrieval};
pub use foreground::{Foreground, ForegroundGuard};
pub use journal::{CollectionRecord, FileRecord, FileStatus};
pub use library::{
    IngestEvent, IngestReport, IngestSettings, Library, LibraryWriter, validate_collection_name,
};
pub use ocr::{DocumentOcr, LOW_OCR_CONFIDENCE, OcrPage, OcrSettings};
pub use parse::clinical::utc_iso;
pub use parse::{Limits, PageMeta};
pub use sealed::{IndexKey, SealedStats};
pub use search::{DenseQuery, FusionWeights, Hit, SearchRequest, SearchResults};
pub use sqlite::DbKey;
pub use timeline::{PatientNames, TimelineEntry};
pub use vectors::{
    ChunkToEmbed, EmbeddingCache, EmbeddingCoverage, PendingEmbeddings, SimilaritySpread,
};
pub use watch::{FolderWatch, WatchEvent};

#[cfg(test)]
pub(crate) mod test_support {
    use std::path::PathBuf;

    /// The real chunking tokenizer among the fetched model files.
    pub fn chunk_tokenizer() -> PathBuf {
        std::env::var_os("SILLOK_MODEL_FILES")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/sillok/model-files"))
            })
            .unwrap_or_default()
            .join("chunk-tokenizer.json")
    }
}
