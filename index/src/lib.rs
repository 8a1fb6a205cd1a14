//! Sillok's document library — the only crate that will touch tantivy.
//!
//! It will own document parsing (behind one parser trait), chunking with
//! page/span provenance, Korean + English analysis, the ingestion journal and
//! BM25/hybrid search. It knows nothing of models or the UI. Not built yet:
//! the library issue fills it in; this crate exists so the workspace has its
//! final shape and the dependency rules in ARCHITECTURE.md hold from day one.
