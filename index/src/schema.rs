//! The index schema: one tantivy document per chunk, with its provenance.
//!
//! The chunk text is stored once and indexed three times (Korean stems,
//! bigrams of those stems, stemmed English); title and headings likewise, for
//! field boosts.
//!
//! [`VERSION`] names the schema together with its analyzers: an index built
//! under another version is cleared and re-indexed (see `Library::open`).

use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};

use crate::analysis::{EN, KO, KO_BIGRAM};

/// The schema and analysis version. Bump it with any change to the fields
/// or to what an analyzer emits: indexes of another version are rebuilt.
/// 1 (never stored): Korean as whole-run CJK bigrams.
/// 2: Korean stems plus stem bigrams.
/// 3: patient id, effective date and OCR confidence (from [`crate::parse::PageMeta`]);
///    chunk text hashes (the keys of vectors).
pub(crate) const VERSION: i64 = 3;

/// Handles to every field.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// `collection:content-hash`: all chunks of one document, for deletes.
    pub doc_key: Field,
    /// Collection name.
    pub collection: Field,
    /// SHA-256 of the file's bytes.
    pub content_hash: Field,
    /// Path of the file (the first path seen for this content).
    pub path: Field,
    /// Document title (stored).
    pub title: Field,
    /// Title, Korean stems.
    pub title_ko: Field,
    /// Title, bigrams of the Korean stems.
    pub title_ko_bigram: Field,
    /// Title, English analysis.
    pub title_en: Field,
    /// Heading path joined with " > " (stored).
    pub headings: Field,
    /// Headings, Korean stems.
    pub headings_ko: Field,
    /// Headings, bigrams of the Korean stems.
    pub headings_ko_bigram: Field,
    /// Headings, English analysis.
    pub headings_en: Field,
    /// Chunk text (stored).
    pub text: Field,
    /// Hash of the chunk text: the key of its vectors (`crate::vectors`).
    pub chunk_hash: Field,
    /// Chunk text, Korean stems.
    pub text_ko: Field,
    /// Chunk text, bigrams of the Korean stems.
    pub text_ko_bigram: Field,
    /// Chunk text, English analysis.
    pub text_en: Field,
    /// Page number (1-based).
    pub page: Field,
    /// Character span in the page text: start.
    pub span_start: Field,
    /// Character span in the page text: end.
    pub span_end: Field,
    /// Chunk number within the document.
    pub chunk_index: Field,
    /// Document type (`pdf`, `docx` …).
    pub doc_type: Field,
    /// Language guess of the chunk.
    pub language: Field,
    /// File modification time, seconds since the Unix epoch.
    pub modified: Field,
    /// The patient a clinical record is about (absent for other documents).
    pub patient_id: Field,
    /// When the recorded event happened, seconds since the Unix epoch (UTC).
    pub effective: Field,
    /// OCR mean word confidence 0–100, on text recognised from images.
    pub ocr_confidence: Field,
}

/// Builds the schema and its field handles.
pub fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let analysed = |analyzer: &str| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(analyzer)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
    };
    let fields = Fields {
        doc_key: b.add_text_field("doc_key", STRING | STORED),
        collection: b.add_text_field("collection", STRING | STORED | FAST),
        content_hash: b.add_text_field("content_hash", STRING | STORED),
        path: b.add_text_field("path", STORED),
        title: b.add_text_field("title", STORED),
        title_ko: b.add_text_field("title_ko", analysed(KO)),
        title_ko_bigram: b.add_text_field("title_ko_bigram", analysed(KO_BIGRAM)),
        title_en: b.add_text_field("title_en", analysed(EN)),
        headings: b.add_text_field("headings", STORED),
        headings_ko: b.add_text_field("headings_ko", analysed(KO)),
        headings_ko_bigram: b.add_text_field("headings_ko_bigram", analysed(KO_BIGRAM)),
        headings_en: b.add_text_field("headings_en", analysed(EN)),
        text: b.add_text_field("text", STORED),
        chunk_hash: b.add_text_field("chunk_hash", STRING | STORED | FAST),
        text_ko: b.add_text_field("text_ko", analysed(KO)),
        text_ko_bigram: b.add_text_field("text_ko_bigram", analysed(KO_BIGRAM)),
        text_en: b.add_text_field("text_en", analysed(EN)),
        page: b.add_u64_field("page", STORED),
        span_start: b.add_u64_field("span_start", STORED),
        span_end: b.add_u64_field("span_end", STORED),
        chunk_index: b.add_u64_field("chunk_index", STORED),
        doc_type: b.add_text_field("doc_type", STRING | STORED),
        language: b.add_text_field("language", STRING | STORED),
        modified: b.add_i64_field("modified", INDEXED | STORED | FAST),
        patient_id: b.add_text_field("patient_id", STRING | STORED | FAST),
        effective: b.add_i64_field("effective", INDEXED | STORED | FAST),
        ocr_confidence: b.add_u64_field("ocr_confidence", STORED),
    };
    (b.build(), fields)
}
